import { beforeAll, describe, expect, it } from 'vitest';
import { addDays, zonedDate } from '../../../server/lib/zoned-time.js';
import { getTestApp, type TestApp } from '../../helpers/app.js';
import { createClinic, type TestClinic } from '../../helpers/clinic.js';
import { createOpportunity } from '../../helpers/pipeline.js';
import { createPatient } from '../../helpers/scheduling.js';

let app: TestApp;
beforeAll(async () => {
  app = await getTestApp();
});

async function task(clinic: TestClinic, contactId: string, body: Record<string, unknown>) {
  const res = await clinic.receptionist.agent.post('/api/pipeline/activities').send({ contactId, type: 'call', title: 'Retornar ligação', ...body });
  if (res.status !== 201) throw new Error(`task: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body as { id: string; overdue: boolean };
}

const overdueIds = async (clinic: TestClinic, now: Date) =>
  (await app.modules.services.pipeline.activities.list(clinic.id, { overdue: 'true', limit: 50 }, now)).items.map((a) => a.id).sort();

describe('activities and tasks', () => {
  it('logs activities on an opportunity and on a patient, assigns, edits and completes them', async () => {
    const clinic = await createClinic({ app });
    const card = await createOpportunity(clinic);
    const created = await clinic.receptionist.agent
      .post(`/api/pipeline/opportunities/${card.id}/activities`)
      .send({ type: 'meeting', title: 'Avaliação do orçamento', notes: 'Levar simulação', dueDate: '2031-03-03', dueTime: '14:30', assigneeId: clinic.professional.id });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ contactId: card.contactId, opportunityId: card.id, type: 'meeting', dueDate: '2031-03-03', dueTime: '14:30', assigneeId: clinic.professional.id, completedAt: null, overdue: false });

    const note = await task(clinic, card.contactId, { type: 'note', title: 'Prefere WhatsApp' });
    const onCard = (await clinic.receptionist.agent.get(`/api/pipeline/opportunities/${card.id}/activities`)).body.items.map((a: { id: string }) => a.id);
    expect(onCard).toEqual([created.body.id]);
    const onPatient = (await clinic.receptionist.agent.get('/api/pipeline/activities').query({ contactId: card.contactId })).body.items.map((a: { id: string }) => a.id);
    expect(onPatient).toEqual([note.id, created.body.id]);

    const edited = await clinic.receptionist.agent.patch(`/api/pipeline/activities/${created.body.id}`).send({ dueDate: null });
    expect(edited.body).toMatchObject({ dueDate: null, dueTime: null });
    const done = await clinic.professional.agent.post(`/api/pipeline/activities/${created.body.id}/complete`);
    expect(done.body).toMatchObject({ completedBy: clinic.professional.id });
    const again = await clinic.receptionist.agent.post(`/api/pipeline/activities/${created.body.id}/complete`);
    expect(again.body).toMatchObject({ completedAt: done.body.completedAt, completedBy: clinic.professional.id });
  });

  it('refuses another clinic’s patient, opportunity or assignee and a time without a day, creating nothing', async () => {
    const [clinic, other] = await Promise.all([createClinic({ app }), createClinic({ app })]);
    const contactId = await createPatient(clinic);
    const foreignCard = await createOpportunity(other);
    expect((await clinic.receptionist.agent.post('/api/pipeline/activities').send({ contactId: foreignCard.contactId, type: 'call', title: 'X' })).status).toBe(404);
    expect((await clinic.receptionist.agent.post(`/api/pipeline/opportunities/${foreignCard.id}/activities`).send({ type: 'call', title: 'X' })).status).toBe(404);
    expect((await clinic.receptionist.agent.post('/api/pipeline/activities').send({ contactId, type: 'call', title: 'X', assigneeId: other.professional.id })).status).toBe(404);
    expect((await clinic.receptionist.agent.post('/api/pipeline/activities').send({ contactId, type: 'call', title: 'X', dueTime: '10:00' })).status).toBe(400);
    expect((await clinic.receptionist.agent.post('/api/pipeline/activities').send({ contactId, type: 'visit', title: 'X' })).status).toBe(400);
    expect((await clinic.receptionist.agent.get('/api/pipeline/activities').query({ contactId })).body.items).toEqual([]);
  });

  it('lists open tasks past due in the clinic’s time zone, now', async () => {
    const clinic = await createClinic({ app, timezone: 'America/Manaus' });
    const contactId = await createPatient(clinic);
    const today = zonedDate(new Date(), 'America/Manaus');
    const late = await task(clinic, contactId, { dueDate: addDays(today, -1) });
    const finished = await task(clinic, contactId, { dueDate: addDays(today, -2) });
    await clinic.receptionist.agent.post(`/api/pipeline/activities/${finished.id}/complete`);
    await task(clinic, contactId, { dueDate: addDays(today, 1) });
    await task(clinic, contactId, { dueDate: today });
    await task(clinic, contactId, { type: 'note', title: 'Sem prazo' });
    const res = await clinic.receptionist.agent.get('/api/pipeline/activities').query({ overdue: 'true' });
    expect(res.body.items.map((a: { id: string }) => a.id)).toEqual([late.id]);
    expect(res.body.items[0].overdue).toBe(true);
  });

  it('counts a day as passed by the clinic’s wall clock: 03:30 UTC is past midnight in São Paulo, not in Manaus', async () => {
    const [saoPaulo, manaus] = await Promise.all([createClinic({ app, timezone: 'America/Sao_Paulo' }), createClinic({ app, timezone: 'America/Manaus' })]);
    const now = new Date('2031-01-10T03:30:00Z'); // São Paulo 00:30 on the 10th; Manaus 23:30 on the 9th
    const make = async (clinic: TestClinic) => {
      const contactId = await createPatient(clinic);
      return {
        dueYesterday: (await task(clinic, contactId, { dueDate: '2031-01-09' })).id,
        dueAt2300: (await task(clinic, contactId, { dueDate: '2031-01-09', dueTime: '23:00' })).id,
        dueAt2345: (await task(clinic, contactId, { dueDate: '2031-01-09', dueTime: '23:45' })).id,
        dueOnTenth: (await task(clinic, contactId, { dueDate: '2031-01-10', dueTime: '00:15' })).id,
      };
    };
    const [sp, mao] = await Promise.all([make(saoPaulo), make(manaus)]);
    expect(await overdueIds(saoPaulo, now)).toEqual([sp.dueYesterday, sp.dueAt2300, sp.dueAt2345, sp.dueOnTenth].sort());
    expect(await overdueIds(manaus, now)).toEqual([mao.dueAt2300]);
    // An hour later it is 00:30 in Manaus too: the 9th, and 00:15 on the 10th, have passed there.
    expect(await overdueIds(manaus, new Date('2031-01-10T04:30:00Z'))).toEqual([mao.dueYesterday, mao.dueAt2300, mao.dueAt2345, mao.dueOnTenth].sort());
  });
});
