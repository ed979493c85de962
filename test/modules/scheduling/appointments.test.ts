import { beforeAll, describe, expect, it, vi } from 'vitest';
import { and, eq, sql } from 'drizzle-orm';
import { appointments, auditLog, contacts } from '../../../shared/schema/index.js';
import { getTestApp } from '../../helpers/app.js';
import { createClinic, type TestClinic } from '../../helpers/clinic.js';
import { createPatient } from '../../helpers/scheduling.js';

beforeAll(async () => {
  await getTestApp();
});

// Monday 2030-03-11 is a working day (no holiday).
const at = (hhmm: string, day = '2030-03-11') => `${day}T${hhmm}:00-03:00`;

function book(clinic: TestClinic, body: Record<string, unknown>, agent = clinic.receptionist.agent) {
  return agent.post('/api/appointments').send({ professionalId: clinic.professional.id, startsAt: at('10:00'), durationMinutes: 30, ...body });
}

const rowsOf = (clinic: TestClinic) => clinic.app.infra.db.select().from(appointments).where(eq(appointments.clinicId, clinic.id));

describe('appointments', () => {
  it('books with any offset, stores UTC, and answers what the calendar needs', async () => {
    const clinic = await createClinic();
    const contactId = await createPatient(clinic, { name: 'Carla Dias' });
    const res = await book(clinic, { contactId, startsAt: '2030-03-11T14:00:00+01:00', endsAt: '2030-03-11T14:45:00+01:00', durationMinutes: undefined, type: 'first_visit', priceCents: 25000, notes: 'primeira vez' });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      contactId,
      contactName: 'Carla Dias',
      startsAt: '2030-03-11T13:00:00.000Z',
      endsAt: '2030-03-11T13:45:00.000Z',
      durationMinutes: 45,
      status: 'scheduled',
      type: 'first_visit',
      priceCents: 25000,
      paymentStatus: 'pending',
      overbooked: false,
    });
    expect((await clinic.professional.agent.get(`/api/appointments/${res.body.id}`)).body.id).toBe(res.body.id);
  });

  it('gives exactly one 201 and nineteen 409 to 20 simultaneous requests for one slot', async () => {
    const clinic = await createClinic();
    const contactId = await createPatient(clinic);
    const results = await Promise.all(Array.from({ length: 20 }, () => book(clinic, { contactId })));
    const statuses = results.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 201)).toHaveLength(1);
    expect(statuses.filter((s) => s === 409)).toHaveLength(19);
    for (const r of results.filter((x) => x.status === 409)) expect(r.body.error.code).toBe('appointment_conflict');
    expect(await rowsOf(clinic)).toHaveLength(1);
  });

  // Two bookings racing for one slot can deadlock inside the exclusion constraint (about one race
  // in a hundred on Postgres 15); a trigger raises the same error deterministically here. A sequence
  // is not rolled back with the transaction, so `once` fails only the first attempt.
  async function withDeadlocks(clinic: TestClinic, times: 'once' | 'always', run: () => Promise<void>) {
    const db = clinic.app.infra.db;
    const tag = clinic.id.replace(/-/g, '');
    await db.execute(sql.raw(`create sequence deadlock_${tag}`));
    const when = times === 'once' ? `nextval('deadlock_${tag}') = 1` : 'true';
    await db.execute(
      sql.raw(`create function deadlock_${tag}() returns trigger language plpgsql as $$ begin
        if new.clinic_id = '${clinic.id}' and ${when} then raise exception 'deadlock detected' using errcode = '40P01'; end if;
        return new; end $$`),
    );
    await db.execute(sql.raw(`create trigger deadlock_${tag} before insert on appointments for each row execute function deadlock_${tag}()`));
    try {
      await run();
    } finally {
      await db.execute(sql.raw(`drop trigger deadlock_${tag} on appointments`));
      await db.execute(sql.raw(`drop function deadlock_${tag}()`));
      await db.execute(sql.raw(`drop sequence deadlock_${tag}`));
    }
  }

  it('runs a booking again when Postgres aborted it to break a deadlock: booked once, audited once', async () => {
    const clinic = await createClinic();
    const contactId = await createPatient(clinic);
    await withDeadlocks(clinic, 'once', async () => {
      const res = await book(clinic, { contactId });
      expect(res.status).toBe(201);
    });
    expect(await rowsOf(clinic)).toHaveLength(1);
    const audits = await clinic.app.infra.db.select().from(auditLog).where(and(eq(auditLog.clinicId, clinic.id), eq(auditLog.action, 'appointment.created')));
    expect(audits).toHaveLength(1);
  });

  it('a booking that keeps deadlocking answers 409 concurrent_change, never 500, and stores nothing', async () => {
    const clinic = await createClinic();
    const contactId = await createPatient(clinic);
    await withDeadlocks(clinic, 'always', async () => {
      const res = await book(clinic, { contactId });
      expect(res.status).toBe(409);
      expect(res.body.error.code).toBe('concurrent_change');
    });
    expect(await rowsOf(clinic)).toHaveLength(0);
  });

  it('answers a retried booking (same Idempotency-Key) with the first result, booking once', async () => {
    const clinic = await createClinic();
    const contactId = await createPatient(clinic);
    const send = () => book(clinic, { contactId }).set('Idempotency-Key', 'retry-123');
    const first = await send();
    const retry = await send();
    expect(first.status).toBe(201);
    expect(retry.status).toBe(201);
    expect(retry.body.id).toBe(first.body.id);
    expect(await rowsOf(clinic)).toHaveLength(1);
  });

  it('refuses an overlap, allows back-to-back, and frees the slot on cancellation', async () => {
    const clinic = await createClinic();
    const contactId = await createPatient(clinic);
    const first = await book(clinic, { contactId });
    const overlap = await book(clinic, { contactId, startsAt: at('10:15') });
    expect(overlap.status).toBe(409);
    expect(overlap.body.error.details.conflictingIds).toEqual([first.body.id]);
    expect((await book(clinic, { contactId, startsAt: at('10:30') })).status).toBe(201);
    // Another professional is free at the same time.
    expect((await book(clinic, { contactId, professionalId: clinic.doctorAdmin.id })).status).toBe(201);
    const noReason = await clinic.receptionist.agent.post(`/api/appointments/${first.body.id}/status`).send({ status: 'cancelled' });
    expect(noReason.status).toBe(400);
    const cancel = await clinic.receptionist.agent.post(`/api/appointments/${first.body.id}/status`).send({ status: 'cancelled', reason: 'Paciente viajou' });
    expect(cancel.body).toMatchObject({ status: 'cancelled', cancellationReason: 'Paciente viajou' });
    expect((await book(clinic, { contactId })).status).toBe(201);
  });

  it('enforces the status transitions and audits every change with who did it', async () => {
    const clinic = await createClinic();
    const contactId = await createPatient(clinic);
    const { body } = await book(clinic, { contactId });
    const move = (status: string, reason?: string) => clinic.receptionist.agent.post(`/api/appointments/${body.id}/status`).send({ status, reason });
    expect((await move('completed')).status).toBe(409);
    for (const status of ['confirmed', 'arrived', 'in_progress', 'completed']) expect((await move(status)).body.status).toBe(status);
    const late = await move('cancelled', 'desistiu');
    expect(late.status).toBe(409);
    expect(late.body.error.code).toBe('invalid_status_transition');
    const moved = await clinic.receptionist.agent.patch(`/api/appointments/${body.id}`).send({ startsAt: at('15:00') });
    expect(moved.body.error.code).toBe('appointment_locked');
    const audits = await clinic.app.infra.db.select().from(auditLog).where(and(eq(auditLog.clinicId, clinic.id), eq(auditLog.entityId, body.id)));
    const changes = audits.filter((a) => a.action === 'appointment.status_changed');
    expect(changes.map((a) => (a.details as { to: string }).to).sort()).toEqual(['arrived', 'completed', 'confirmed', 'in_progress']);
    expect(changes.every((a) => a.actorId === clinic.receptionist.id)).toBe(true);
  });

  it('lets a no-show go back into the calendar only while the slot is free', async () => {
    const clinic = await createClinic();
    const contactId = await createPatient(clinic);
    const { body } = await book(clinic, { contactId });
    await clinic.receptionist.agent.post(`/api/appointments/${body.id}/status`).send({ status: 'no_show' });
    const other = await book(clinic, { contactId });
    expect(other.status).toBe(201);
    const back = await clinic.receptionist.agent.post(`/api/appointments/${body.id}/status`).send({ status: 'scheduled' });
    expect(back.status).toBe(409);
    expect(back.body.error.code).toBe('appointment_conflict');
  });

  it('reschedules into a free slot, refuses a taken one, and moves between professionals', async () => {
    const clinic = await createClinic();
    const contactId = await createPatient(clinic);
    const a = await book(clinic, { contactId });
    const b = await book(clinic, { contactId, startsAt: at('11:00') });
    const taken = await clinic.receptionist.agent.patch(`/api/appointments/${b.body.id}`).send({ startsAt: at('10:15') });
    expect(taken.status).toBe(409);
    const moved = await clinic.receptionist.agent.patch(`/api/appointments/${b.body.id}`).send({ startsAt: '2030-03-11T12:00:00-03:00', durationMinutes: 60 });
    expect(moved.body).toMatchObject({ startsAt: '2030-03-11T15:00:00.000Z', endsAt: '2030-03-11T16:00:00.000Z' });
    const other = await clinic.receptionist.agent.patch(`/api/appointments/${a.body.id}`).send({ professionalId: clinic.doctorAdmin.id });
    expect(other.body.professionalId).toBe(clinic.doctorAdmin.id);
    expect((await book(clinic, { contactId })).status).toBe(201);
  });

  it('lets only admins book over another appointment (encaixe), audited', async () => {
    const clinic = await createClinic();
    const contactId = await createPatient(clinic);
    const first = await book(clinic, { contactId });
    expect((await book(clinic, { contactId, overbook: true })).status).toBe(403);
    const squeezed = await book(clinic, { contactId, overbook: true }, clinic.admin.agent);
    expect(squeezed.status).toBe(201);
    expect(squeezed.body.overbooked).toBe(true);
    const [audit] = await clinic.app.infra.db
      .select()
      .from(auditLog)
      .where(and(eq(auditLog.clinicId, clinic.id), eq(auditLog.action, 'appointment.overbooked')));
    expect(audit).toMatchObject({ actorId: clinic.admin.id, entityId: squeezed.body.id, details: { conflictingIds: [first.body.id] } });
    // Without the override the slot stays taken, encaixe included.
    await clinic.receptionist.agent.post(`/api/appointments/${first.body.id}/status`).send({ status: 'cancelled', reason: 'x' });
    expect((await book(clinic, { contactId })).status).toBe(409);
  });

  it('refuses bad input with a 4xx and books nothing', async () => {
    const clinic = await createClinic();
    const other = await createClinic();
    const contactId = await createPatient(clinic);
    const zero = '00000000-0000-4000-8000-000000000000';
    const cases: [Record<string, unknown>, number][] = [
      [{ startsAt: '2030-03-11T10:00:00' }, 400],
      [{ startsAt: '2030-02-30T10:00:00-03:00' }, 400],
      [{ startsAt: 'amanhã' }, 400],
      [{ durationMinutes: 0 }, 400],
      [{ durationMinutes: 24 * 60 + 1 }, 400],
      [{ durationMinutes: undefined, endsAt: at('09:00') }, 400],
      [{ durationMinutes: undefined, endsAt: '2030-03-12T11:00:00-03:00' }, 400],
      [{ endsAt: at('11:00') }, 400],
      [{ clinicId: other.id }, 400],
      [{ notes: 'x'.repeat(20_000) }, 400],
      [{ notes: 'nul\u0000' }, 400],
      [{ tagId: 'not-a-uuid' }, 400],
      [{ contactId: zero }, 404],
      [{ contactId: await createPatient(other) }, 404],
      [{ professionalId: zero }, 404],
      [{ professionalId: other.professional.id }, 404],
      [{ professionalId: clinic.receptionist.id }, 404],
      [{ tagId: zero }, 404],
    ];
    for (const [body, status] of cases) {
      const res = await book(clinic, { contactId, ...body });
      expect(res.status, JSON.stringify(body).slice(0, 80)).toBe(status);
      expect(res.body.error.code).toBeTypeOf('string');
    }
    expect(await rowsOf(clinic)).toHaveLength(0);
  });

  it('tells the clinic room after commit, with what the calendar redraws from', async () => {
    const clinic = await createClinic();
    const emit = vi.spyOn(clinic.app.infra.realtime, 'emitToClinic');
    try {
      const contactId = await createPatient(clinic, { name: 'Eva Lima' });
      const res = await book(clinic, { contactId, notes: 'dor de cabeça' });
      await clinic.receptionist.agent.post(`/api/appointments/${res.body.id}/status`).send({ status: 'confirmed' });
      await clinic.receptionist.agent.delete(`/api/appointments/${res.body.id}`);
      // Emits come from the outbox relay, just after each commit.
      await clinic.app.infra.events.flush();
      const mine = emit.mock.calls.filter((c) => c[0] === clinic.id).map((c) => [c[1], c[2]]);
      expect(mine.map((c) => c[0])).toEqual(['contact:created', 'appointment:created', 'appointment:updated', 'appointment:deleted']);
      expect(mine[1]?.[1]).toMatchObject({ id: res.body.id, contactName: 'Eva Lima', professionalId: clinic.professional.id, status: 'scheduled' });
      expect(JSON.stringify(mine)).not.toContain('dor de cabeça');
      expect(mine[2]?.[1]).toMatchObject({ status: 'confirmed' });
    } finally {
      emit.mockRestore();
    }
  });

  it('shows appointments in the patient timeline and keeps such a patient on delete (soft)', async () => {
    const clinic = await createClinic();
    const contactId = await createPatient(clinic);
    const early = await book(clinic, { contactId, type: 'first_visit' });
    const late = await book(clinic, { contactId, startsAt: at('10:00', '2030-03-18'), type: 'return' });
    const timeline = await clinic.receptionist.agent.get(`/api/contacts/${contactId}/timeline`);
    expect(timeline.body.items.map((i: { id: string }) => i.id)).toEqual([late.body.id, early.body.id]);
    expect(timeline.body.items[0]).toMatchObject({ type: 'appointment', title: 'Retorno' });
    expect((await clinic.admin.agent.delete(`/api/contacts/${contactId}`)).status).toBe(204);
    expect((await clinic.admin.agent.get(`/api/contacts/${contactId}`)).status).toBe(404);
    const [row] = await clinic.app.infra.db.select().from(contacts).where(eq(contacts.id, contactId));
    expect(row?.deletedAt).toBeInstanceOf(Date);
    expect(await rowsOf(clinic)).toHaveLength(2);
  });

  it('lists by range, professional, status and tag with a cursor', async () => {
    const clinic = await createClinic();
    const contactId = await createPatient(clinic);
    const tag = await clinic.admin.agent.post('/api/appointment-tags').send({ name: 'Convênio', color: '#AABBCC' });
    expect(tag.body.color).toBe('#aabbcc');
    expect((await clinic.admin.agent.post('/api/appointment-tags').send({ name: 'convênio', color: '#000000' })).status).toBe(409);
    expect((await clinic.admin.agent.post('/api/appointment-tags').send({ name: 'X', color: 'red' })).status).toBe(400);
    for (const hh of ['08:00', '09:00', '10:00']) await book(clinic, { contactId, startsAt: at(hh), tagId: hh === '09:00' ? tag.body.id : null });
    await book(clinic, { contactId, startsAt: at('09:00', '2030-03-20') });
    const range = { from: at('00:00'), to: at('23:59'), professionalId: clinic.professional.id };
    const first = await clinic.receptionist.agent.get('/api/appointments').query({ ...range, limit: 2 });
    expect(first.body.items.map((a: { startsAt: string }) => a.startsAt)).toEqual(['2030-03-11T11:00:00.000Z', '2030-03-11T12:00:00.000Z']);
    const next = await clinic.receptionist.agent.get('/api/appointments').query({ ...range, limit: 2, cursor: first.body.nextCursor });
    expect(next.body.items).toHaveLength(1);
    expect(next.body.nextCursor).toBeNull();
    const tagged = await clinic.receptionist.agent.get('/api/appointments').query({ tagId: tag.body.id });
    expect(tagged.body.items).toHaveLength(1);
    expect((await clinic.receptionist.agent.get('/api/appointments').query({ from: at('10:00'), to: at('09:00') })).status).toBe(400);
    expect((await clinic.receptionist.agent.get('/api/appointments').query({ from: '2030-03-11' })).status).toBe(400);
  });
});
