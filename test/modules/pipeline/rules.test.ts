import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { and, eq } from 'drizzle-orm';
import type { AnyDeliveredEvent } from '../../../shared/api/domain-events.js';
import { opportunityHistory } from '../../../shared/schema/index.js';
import { buildTestApp, type TestApp } from '../../helpers/app.js';
import { createClinic, type TestClinic } from '../../helpers/clinic.js';
import { createOpportunity, stageByKey, stagesOf } from '../../helpers/pipeline.js';
import { createPatient, futureMonday } from '../../helpers/scheduling.js';
import { listen, nextEvent, openSocket, sessionCookie, type RunningServer } from '../../helpers/server.js';

let app: TestApp;
beforeAll(async () => {
  app = await buildTestApp();
});
afterAll(async () => {
  await app.close();
});

let hour = 0;
async function book(clinic: TestClinic, contactId: string) {
  const startsAt = `${futureMonday(4 + Math.floor(hour / 8))}T${String(8 + (hour++ % 8)).padStart(2, '0')}:00:00-03:00`;
  const res = await clinic.receptionist.agent.post('/api/appointments').send({ contactId, professionalId: clinic.professional.id, startsAt, durationMinutes: 30 });
  if (res.status !== 201) throw new Error(`booking: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.id as string;
}
async function complete(clinic: TestClinic, appointmentId: string) {
  for (const status of ['arrived', 'completed']) {
    const res = await clinic.receptionist.agent.post(`/api/appointments/${appointmentId}/status`).send({ status });
    if (res.status !== 200) throw new Error(`status ${status}: ${res.status} ${JSON.stringify(res.body)}`);
  }
}
const stageOf = async (clinic: TestClinic, id: string) => (await clinic.receptionist.agent.get(`/api/pipeline/opportunities/${id}`)).body.stageId as string;
const historyOf = async (clinic: TestClinic, id: string) => (await clinic.receptionist.agent.get(`/api/pipeline/opportunities/${id}/history`)).body;

describe('rules', () => {
  it('are off by default: a booking moves nothing', async () => {
    const clinic = await createClinic({ app });
    expect((await clinic.receptionist.agent.get('/api/pipeline/rules')).body).toMatchObject({ firstBooking: { enabled: false }, firstCompletion: { enabled: false } });
    const card = await createOpportunity(clinic);
    await complete(clinic, await book(clinic, card.contactId));
    await app.infra.events.flush();
    expect(await stageOf(clinic, card.id)).toBe(card.stageId);
  });

  it('once enabled, move the open opportunity to Agendado on the first booking and to Em tratamento on the first completion', async () => {
    const clinic = await createClinic({ app });
    const [scheduled, treatment] = [await stageByKey(clinic, 'scheduled'), await stageByKey(clinic, 'in_treatment')];
    expect((await clinic.receptionist.agent.put('/api/pipeline/rules').send({ firstBooking: { enabled: true } })).status).toBe(403);
    const enabled = await clinic.admin.agent.put('/api/pipeline/rules').send({ firstBooking: { enabled: true }, firstCompletion: { enabled: true } });
    expect(enabled.body).toEqual({ firstBooking: { enabled: true, stageId: scheduled.id }, firstCompletion: { enabled: true, stageId: treatment.id } });

    const card = await createOpportunity(clinic);
    const closed = await createOpportunity(clinic, { contactId: card.contactId, title: 'Já perdida' });
    await clinic.receptionist.agent.patch(`/api/pipeline/opportunities/${closed.id}`).send({ status: 'lost', lostReason: 'Mudou de cidade' });
    const appointmentId = await book(clinic, card.contactId);
    await app.infra.events.flush();
    expect(await stageOf(clinic, card.id)).toBe(scheduled.id);
    expect(await stageOf(clinic, closed.id)).toBe(closed.stageId);
    expect((await historyOf(clinic, card.id)).items.at(-1)).toMatchObject({ kind: 'moved', fromStageId: card.stageId, toStageId: scheduled.id, actorId: null, source: 'rule:first_booking' });

    // A second booking is not the first: nothing moves back or forth.
    await clinic.receptionist.agent.post(`/api/pipeline/opportunities/${card.id}/move`).send({ stageId: card.stageId });
    await book(clinic, card.contactId);
    await app.infra.events.flush();
    expect(await stageOf(clinic, card.id)).toBe(card.stageId);

    await complete(clinic, appointmentId);
    await app.infra.events.flush();
    expect(await stageOf(clinic, card.id)).toBe(treatment.id);
    expect((await historyOf(clinic, card.id)).items.at(-1)).toMatchObject({ toStageId: treatment.id, source: 'rule:first_completion' });
  });

  it('apply once per opportunity: a redelivered event changes nothing', async () => {
    const clinic = await createClinic({ app });
    await clinic.admin.agent.put('/api/pipeline/rules').send({ firstBooking: { enabled: true } });
    const card = await createOpportunity(clinic);
    const appointmentId = await book(clinic, card.contactId);
    await app.infra.events.flush();
    const scheduled = await stageByKey(clinic, 'scheduled');
    expect(await stageOf(clinic, card.id)).toBe(scheduled.id);
    // The member drags it back; the same event arrives again (a lease expired mid-delivery).
    await clinic.receptionist.agent.post(`/api/pipeline/opportunities/${card.id}/move`).send({ stageId: card.stageId });
    const appointment = (await clinic.receptionist.agent.get(`/api/appointments/${appointmentId}`)).body;
    const event = { id: 1, name: 'appointment.created', clinicId: clinic.id, aggregateType: 'appointment', aggregateId: appointmentId, payload: appointment, actor: null, requestId: null, createdAt: new Date(), attempt: 2 };
    await app.modules.services.pipeline.rules.handle(event as unknown as AnyDeliveredEvent<'appointment.created'>);
    expect(await stageOf(clinic, card.id)).toBe(card.stageId);
    const entries = await app.infra.db.select().from(opportunityHistory).where(and(eq(opportunityHistory.clinicId, clinic.id), eq(opportunityHistory.opportunityId, card.id)));
    expect(entries.filter((e) => e.source === 'rule:first_booking')).toHaveLength(1);
  });

  it('move only forward, to the stage an admin chose, and refuse another clinic’s stage', async () => {
    const [clinic, other] = await Promise.all([createClinic({ app }), createClinic({ app })]);
    const stages = await stagesOf(clinic);
    const loyal = stages.find((s) => s.defaultKey === 'loyal')!;
    const foreign = (await stagesOf(other))[1]!.id;
    const refused = await clinic.admin.agent.put('/api/pipeline/rules').send({ firstBooking: { enabled: true, stageId: foreign } });
    expect(refused.status).toBe(404);
    expect((await clinic.receptionist.agent.get('/api/pipeline/rules')).body.firstBooking.enabled).toBe(false);
    await clinic.admin.agent.put('/api/pipeline/rules').send({ firstBooking: { enabled: true, stageId: stages[1]!.id } });
    const ahead = await createOpportunity(clinic, { stageId: loyal.id });
    const behind = await createOpportunity(clinic, { contactId: ahead.contactId });
    await book(clinic, ahead.contactId);
    await app.infra.events.flush();
    expect(await stageOf(clinic, ahead.id)).toBe(loyal.id);
    expect(await stageOf(clinic, behind.id)).toBe(stages[1]!.id);
  });
});

describe('history and time in stage', () => {
  it('records who moved it, from where, to where and when, and sums the time spent in each stage', async () => {
    const clinic = await createClinic({ app });
    const [first, second] = await stagesOf(clinic);
    const card = await createOpportunity(clinic);
    await clinic.professional.agent.post(`/api/pipeline/opportunities/${card.id}/move`).send({ stageId: second!.id });
    await clinic.receptionist.agent.post(`/api/pipeline/opportunities/${card.id}/move`).send({ stageId: first!.id });
    await clinic.receptionist.agent.patch(`/api/pipeline/opportunities/${card.id}`).send({ status: 'won' });
    // Put the entries at known instants: created 09:00, moved 10:00 and 10:30, won 12:00.
    const times = ['2031-01-06T09:00:00Z', '2031-01-06T10:00:00Z', '2031-01-06T10:30:00Z', '2031-01-06T12:00:00Z'];
    const entries = (await historyOf(clinic, card.id)).items as { id: string }[];
    for (const [i, e] of entries.entries()) await app.infra.db.update(opportunityHistory).set({ at: new Date(times[i]!) }).where(eq(opportunityHistory.id, e.id));

    const history = await historyOf(clinic, card.id);
    expect(history.items.map((e: Record<string, unknown>) => [e.kind, e.fromStageId, e.toStageId, e.actorId])).toEqual([
      ['created', null, first!.id, clinic.receptionist.id],
      ['moved', first!.id, second!.id, clinic.professional.id],
      ['moved', second!.id, first!.id, clinic.receptionist.id],
      ['won', first!.id, first!.id, clinic.receptionist.id],
    ]);
    expect(history.stints).toEqual([
      { stageId: first!.id, enteredAt: '2031-01-06T09:00:00.000Z', leftAt: '2031-01-06T10:00:00.000Z', seconds: 3600 },
      { stageId: second!.id, enteredAt: '2031-01-06T10:00:00.000Z', leftAt: '2031-01-06T10:30:00.000Z', seconds: 1800 },
      { stageId: first!.id, enteredAt: '2031-01-06T10:30:00.000Z', leftAt: '2031-01-06T12:00:00.000Z', seconds: 5400 },
    ]);
    expect(history.timeInStage).toEqual(expect.arrayContaining([{ stageId: first!.id, seconds: 9000 }, { stageId: second!.id, seconds: 1800 }]));
  });

  it('shows moves and activities on the patient’s timeline', async () => {
    const clinic = await createClinic({ app });
    const [, second] = await stagesOf(clinic);
    const card = await createOpportunity(clinic, { title: 'Lente de contato dental' });
    await clinic.receptionist.agent.post(`/api/pipeline/opportunities/${card.id}/move`).send({ stageId: second!.id });
    await clinic.receptionist.agent.post(`/api/pipeline/opportunities/${card.id}/activities`).send({ type: 'call', title: 'Ligar com o orçamento' });
    const timeline = (await clinic.receptionist.agent.get(`/api/contacts/${card.contactId}/timeline`)).body;
    const items = (timeline.items ?? timeline) as { type: string; title: string; data: Record<string, unknown> }[];
    expect(items.filter((i) => i.type === 'pipeline_move').map((i) => i.title)).toEqual(expect.arrayContaining(['Oportunidade criada em Novo contato', 'Oportunidade movida de Novo contato para Qualificação']));
    expect(items.find((i) => i.type === 'pipeline_move')?.data.opportunityTitle).toBe('Lente de contato dental');
    expect(items.find((i) => i.type === 'pipeline_activity')).toMatchObject({ title: 'Ligar com o orçamento', data: { type: 'call' } });
  });
});

describe('the board over sockets', () => {
  let socketApp: TestApp;
  let running: RunningServer;
  beforeAll(async () => {
    socketApp = await buildTestApp();
    running = await listen(socketApp);
  });
  afterAll(async () => {
    await running.close();
  });

  it('tells the clinic’s members of a move after the commit, with the card’s new place', async () => {
    const clinic = await createClinic({ app: socketApp });
    const [, second] = await stagesOf(clinic);
    const card = await createOpportunity(clinic);
    const socket = await openSocket(running.url, { cookie: await sessionCookie(running.url, clinic.receptionist.email) });
    try {
      const moved = nextEvent(socket, 'opportunity:moved');
      const res = await clinic.professional.agent.post(`/api/pipeline/opportunities/${card.id}/move`).send({ stageId: second!.id });
      expect(await moved).toEqual({ ...(await socketOpportunityEvent(clinic, card.id)), fromStageId: card.stageId, toStageId: second!.id, source: 'user' });
      expect(res.body.position).toBeTypeOf('string');
    } finally {
      socket.disconnect();
    }
  });
});

/** What the socket payload of a card holds, read back over HTTP. */
async function socketOpportunityEvent(clinic: TestClinic, id: string) {
  const o = (await clinic.receptionist.agent.get(`/api/pipeline/opportunities/${id}`)).body;
  return { id: o.id, contactId: o.contactId, stageId: o.stageId, position: o.position, title: o.title, status: o.status, valueCents: o.valueCents, probability: o.probability, ownerId: o.ownerId, expectedCloseDate: o.expectedCloseDate, stageEnteredAt: o.stageEnteredAt };
}

describe('LGPD', () => {
  it('exports the pipeline, erases its free text on anonymisation, and makes deleting the patient soft', async () => {
    const clinic = await createClinic({ app });
    const contactId = await createPatient(clinic, { name: 'Beatriz Nunes' });
    const card = await createOpportunity(clinic, { contactId, title: 'Beatriz: clareamento' });
    await clinic.receptionist.agent.patch(`/api/pipeline/opportunities/${card.id}`).send({ status: 'lost', lostReason: 'Beatriz achou caro' });
    await clinic.receptionist.agent.post('/api/pipeline/activities').send({ contactId, type: 'note', title: 'Beatriz pediu retorno', notes: 'Prefere manhã' });

    const exported = (await clinic.doctorAdmin.agent.get(`/api/contacts/${contactId}/export`)).body;
    expect(exported.pipeline.opportunities[0]).toMatchObject({ id: card.id, title: 'Beatriz: clareamento', lostReason: 'Beatriz achou caro' });
    expect(exported.pipeline.history.map((h: { kind: string }) => h.kind)).toEqual(['created', 'lost']);
    expect(exported.pipeline.activities[0]).toMatchObject({ title: 'Beatriz pediu retorno', notes: 'Prefere manhã' });

    expect((await clinic.admin.agent.post(`/api/contacts/${contactId}/anonymize`).send({ confirm: true })).status).toBe(200);
    const after = (await clinic.receptionist.agent.get('/api/pipeline/opportunities').query({ contactId })).body.items;
    expect(after[0]).toMatchObject({ title: 'Oportunidade (anonimizada)', lostReason: 'Removido na anonimização (LGPD)', status: 'lost' });
    const activities = (await clinic.receptionist.agent.get('/api/pipeline/activities').query({ contactId })).body.items;
    expect(activities[0]).toMatchObject({ title: 'Atividade (anonimizada)', notes: null, type: 'note' });

    const other = await createOpportunity(clinic);
    expect((await clinic.receptionist.agent.delete(`/api/contacts/${other.contactId}`)).status).toBe(204);
    const rows = await app.infra.db.select().from(opportunityHistory).where(eq(opportunityHistory.opportunityId, other.id));
    expect(rows).toHaveLength(1);
    expect((await clinic.receptionist.agent.get(`/api/pipeline/opportunities/${other.id}`)).status).toBe(404);
  });
});
