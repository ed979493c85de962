import { beforeAll, describe, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import { appointments } from '../../../shared/schema/index.js';
import { getTestApp } from '../../helpers/app.js';
import { createClinic, type TestClinic } from '../../helpers/clinic.js';
import { createPatient } from '../../helpers/scheduling.js';

beforeAll(async () => {
  await getTestApp();
});

// Fridays from 2030-04-05; 2030-04-19 is Good Friday (Easter is April 21).
const FRIDAY = '2030-04-05T10:00:00-03:00';

async function series(clinic: TestClinic, recurrence: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  const contactId = (extra.contactId as string | undefined) ?? (await createPatient(clinic));
  return clinic.receptionist.agent
    .post('/api/appointments')
    .send({ contactId, professionalId: clinic.professional.id, startsAt: FRIDAY, durationMinutes: 50, type: 'session', ...extra, recurrence });
}

const rowsOf = async (clinic: TestClinic) =>
  (await clinic.app.infra.db.select().from(appointments).where(eq(appointments.clinicId, clinic.id))).sort((a, b) => a.startsAt.getTime() - b.startsAt.getTime());

describe('recurring appointments', () => {
  it('reports a holiday per occurrence and books nothing when all-or-nothing', async () => {
    const clinic = await createClinic();
    const res = await series(clinic, { count: 4 });
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('appointment_conflict');
    expect(res.body.error.details.occurrences.map((o: { startsAt: string; status: string }) => [o.startsAt.slice(0, 10), o.status])).toEqual([
      ['2030-04-05', 'free'],
      ['2030-04-12', 'free'],
      ['2030-04-19', 'holiday'],
      ['2030-04-26', 'free'],
    ]);
    expect(await rowsOf(clinic)).toEqual([]);
  });

  it('books the free occurrences when asked, reporting the conflicts with their ids', async () => {
    const clinic = await createClinic();
    const contactId = await createPatient(clinic);
    const taken = await clinic.receptionist.agent
      .post('/api/appointments')
      .send({ contactId, professionalId: clinic.professional.id, startsAt: '2030-04-26T10:30:00-03:00', durationMinutes: 30 });
    const res = await series(clinic, { count: 5, onConflict: 'skip_conflicts' }, { contactId });
    expect(res.status).toBe(201);
    const report = res.body.series.occurrences as { startsAt: string; status: string; conflictingIds?: string[]; appointmentId?: string }[];
    expect(report.map((o) => o.status)).toEqual(['created', 'created', 'holiday', 'conflict', 'created']);
    expect(report[3]?.conflictingIds).toEqual([taken.body.id]);
    expect(res.body.id).toBe(report[0]?.appointmentId);
    const rows = (await rowsOf(clinic)).filter((r) => r.seriesId === res.body.series.id);
    expect(rows.map((r) => r.startsAt.toISOString())).toEqual(['2030-04-05T13:00:00.000Z', '2030-04-12T13:00:00.000Z', '2030-05-03T13:00:00.000Z']);
  });

  it('repeats every N weeks until a date, at the same local time', async () => {
    const clinic = await createClinic();
    const res = await series(clinic, { everyWeeks: 2, until: '2030-05-31' }, { startsAt: '2030-04-01T17:00:00-03:00' });
    expect(res.status).toBe(201);
    expect(res.body.series.occurrences.map((o: { startsAt: string }) => o.startsAt)).toEqual([
      '2030-04-01T20:00:00.000Z',
      '2030-04-15T20:00:00.000Z',
      '2030-04-29T20:00:00.000Z',
      '2030-05-13T20:00:00.000Z',
      '2030-05-27T20:00:00.000Z',
    ]);
    expect((await series(clinic, { count: 3, until: '2030-05-01' })).status).toBe(400);
    expect((await series(clinic, { count: 500 })).status).toBe(400);
    expect((await series(clinic, { everyWeeks: 0, count: 3 })).status).toBe(400);
  });

  it('moves one occurrence, or this and the following ones', async () => {
    const clinic = await createClinic();
    const res = await series(clinic, { count: 4, onConflict: 'skip_conflicts' });
    const ids = (res.body.series.occurrences as { appointmentId?: string }[]).map((o) => o.appointmentId).filter(Boolean) as string[];
    expect(ids).toHaveLength(3);
    const [first, second, third] = ids as [string, string, string];
    const one = await clinic.receptionist.agent.patch(`/api/appointments/${first}`).send({ startsAt: '2030-04-05T15:00:00-03:00' });
    expect(one.body.startsAt).toBe('2030-04-05T18:00:00.000Z');
    const following = await clinic.receptionist.agent.patch(`/api/appointments/${second}`).send({ startsAt: '2030-04-12T11:00:00-03:00', scope: 'following', notes: 'novo horário' });
    expect(following.status).toBe(200);
    const rows = await rowsOf(clinic);
    expect(rows.map((r) => [r.startsAt.toISOString(), r.notes])).toEqual([
      ['2030-04-05T18:00:00.000Z', null],
      ['2030-04-12T14:00:00.000Z', 'novo horário'],
      ['2030-04-26T14:00:00.000Z', 'novo horário'],
    ]);
    const cancelled = await clinic.receptionist.agent.post(`/api/appointments/${second}/status`).send({ status: 'cancelled', reason: 'alta', scope: 'following' });
    expect(cancelled.status).toBe(200);
    const after = await rowsOf(clinic);
    expect(after.map((r) => r.status)).toEqual(['scheduled', 'cancelled', 'cancelled']);
    expect(after.find((r) => r.id === third)?.cancellationReason).toBe('alta');
  });

  it('moves nothing of a series when one following occurrence would collide', async () => {
    const clinic = await createClinic();
    const res = await series(clinic, { count: 2 }, { startsAt: '2030-05-06T10:00:00-03:00' });
    const [a] = (res.body.series.occurrences as { appointmentId: string }[]).map((o) => o.appointmentId);
    const blocker = await clinic.receptionist.agent
      .post('/api/appointments')
      .send({ contactId: res.body.contactId, professionalId: clinic.professional.id, startsAt: '2030-05-13T12:00:00-03:00', durationMinutes: 30 });
    expect(blocker.status).toBe(201);
    const move = await clinic.receptionist.agent.patch(`/api/appointments/${a}`).send({ startsAt: '2030-05-06T12:00:00-03:00', scope: 'following' });
    expect(move.status).toBe(409);
    expect((await rowsOf(clinic)).filter((r) => r.seriesId).map((r) => r.startsAt.toISOString())).toEqual(['2030-05-06T13:00:00.000Z', '2030-05-13T13:00:00.000Z']);
  });
});
