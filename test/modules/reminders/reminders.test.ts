import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { and, eq } from 'drizzle-orm';
import { appointmentReminders, appointments, auditLog, conversations, messages } from '../../../shared/schema/index.js';
import type { JobContext } from '../../../server/infra/queue.js';
import type { ReminderJob } from '../../../server/modules/reminders/send.js';
import { FakeEvolution } from '../../fakes/evolution.js';
import { buildTestApp, TEST_ORIGIN, type TestApp } from '../../helpers/app.js';
import { createClinic, type TestClinic } from '../../helpers/clinic.js';
import { linkNumber, receive, seedNumber, type SeededNumber } from '../../helpers/inbox.js';
import { createPatient, type Patient } from '../../helpers/patients.js';
import { collect, listen, nextEvent, openSocket, sessionCookie, type RunningServer } from '../../helpers/server.js';
import { until } from '../../helpers/until.js';

let fake: FakeEvolution;
let app: TestApp;
let clinic: TestClinic;
let number: SeededNumber;
let running: RunningServer;

const HOUR = 3600_000;

beforeAll(async () => {
  fake = await new FakeEvolution().start();
  app = await buildTestApp({ env: { EVOLUTION_API_URL: fake.url, EVOLUTION_API_KEY: fake.apiKey, WHATSAPP_SEND_RATE_PER_SECOND: '50' } });
  clinic = await createClinic({ app });
  number = await seedNumber(clinic);
  await linkNumber(fake, number);
  // No quiet hours here, so the tests hold at any hour they run (the quiet-hour math is unit-tested).
  const saved = await clinic.admin.agent.put('/api/reminders/settings').send({ enabled: true, quietHours: null });
  expect(saved.status).toBe(200);
  running = await listen(app);
});
afterAll(async () => {
  await running.close();
  await fake.stop();
});

const jobContext = (): JobContext => ({ jobId: 'manual', attempt: 1, clinicId: clinic.id, requestId: null, log: app.infra.log });
const sender = () => app.modules.services.reminders.sender;
const digits = (p: Patient) => (p.phone ?? '').replace(/\D/g, '');
/** What the fake gateway actually sent to this patient. */
const sentTo = (p: Patient) => fake.sent.filter((s) => s.number.replace(/\D/g, '').includes(digits(p)));
/**
 * Free half-hour slots of the professional from 5 hours ahead, all within 14 hours: the day-before
 * reminder (10:00 local the day before) has always passed for them, so each gets one job.
 */
const firstSlot = Math.ceil((Date.now() + 5 * HOUR) / 60_000) * 60_000;
let slots = 0;
const nextSlot = () => new Date(firstSlot + slots++ * 30 * 60_000);

async function book(patient: Patient, startsAt: Date) {
  const res = await clinic.receptionist.agent.post('/api/appointments').send({ contactId: patient.id, professionalId: clinic.professional.id, startsAt: startsAt.toISOString(), durationMinutes: 30 });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.id as string;
}

/** The reminder jobs the subscriber adds while `run` happens. */
async function jobsAdded(run: () => Promise<unknown>) {
  const spy = vi.spyOn(app.infra.queue, 'add');
  try {
    await run();
    await app.infra.events.flush();
    return spy.mock.calls.filter(([name]) => name === 'reminders.send').map(([, data, opts]) => ({ data: data as ReminderJob, jobId: opts?.jobId, delayMs: opts?.delayMs ?? 0 }));
  } finally {
    spy.mockRestore();
  }
}

const messagesKeyed = (key: string) => app.infra.db.select().from(messages).where(eq(messages.automationKey, key));
const remindersOf = (appointmentId: string) => app.infra.db.select().from(appointmentReminders).where(eq(appointmentReminders.appointmentId, appointmentId));

async function sendReminder(patient: Patient) {
  const startsAt = nextSlot();
  let id = '';
  const [job] = await jobsAdded(async () => (id = await book(patient, startsAt)));
  if (!job) throw new Error('no reminder job');
  await sender().run(job.data, jobContext(), startsAt.getTime() - 2 * HOUR);
  const [row] = await remindersOf(id);
  if (!row?.conversationId) throw new Error('no reminder sent');
  await until(() => sentTo(patient).length === 1);
  return { id, startsAt, row, conversation: { id: row.conversationId, numberId: number.id } };
}

describe('reminder settings', () => {
  it('are the documented defaults, switched off, until saved; admins only', async () => {
    const other = await createClinic({ app, timezone: 'America/Manaus' });
    const res = await other.admin.agent.get('/api/reminders/settings');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      enabled: false,
      offsets: [
        { kind: 'day_before', daysBefore: 1, at: '10:00', templateId: null },
        { kind: 'hours_before', minutesBefore: 120, templateId: null },
      ],
      numberId: null,
      quietHours: { start: '21:00', end: '08:00' },
      timezone: 'America/Manaus',
      updatedAt: null,
    });
    for (const member of [other.receptionist, other.professional]) {
      expect((await member.agent.get('/api/reminders/settings')).status).toBe(403);
      expect((await member.agent.put('/api/reminders/settings').send({ enabled: true })).status).toBe(403);
    }
    expect((await other.admin.agent.get('/api/reminders/settings')).body.enabled).toBe(false);
  });

  it('refuse bad settings with 400 and change nothing', async () => {
    const other = await createClinic({ app });
    const bad = [
      {},
      { enabled: 'sim' },
      { offsets: [{ kind: 'hours_before', minutesBefore: 5, templateId: null }] },
      { offsets: [{ kind: 'day_before', daysBefore: 1, at: '25:00' }] },
      { offsets: [{ kind: 'day_before', daysBefore: 0, at: '10:00' }] },
      { offsets: [{ kind: 'week_before', daysBefore: 7 }] },
      { offsets: [{ kind: 'hours_before', minutesBefore: 60 }, { kind: 'hours_before', minutesBefore: 120 }] },
      { quietHours: { start: '21:00', end: '21:00' } },
      { quietHours: { start: '9:00', end: '18:00' } },
      { numberId: 'numero' },
      { enabled: true, clinicId: clinic.id },
    ];
    for (const body of bad) {
      const res = await other.admin.agent.put('/api/reminders/settings').send(body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.code).toBeTypeOf('string');
    }
    // Another clinic's template or number is unknown here.
    const foreignTemplate = (await clinic.admin.agent.get('/api/ai-templates')).body.items[0].id as string;
    expect((await other.admin.agent.put('/api/reminders/settings').send({ offsets: [{ kind: 'hours_before', minutesBefore: 60, templateId: foreignTemplate }] })).status).toBe(404);
    expect((await other.admin.agent.put('/api/reminders/settings').send({ numberId: number.id })).status).toBe(404);
    expect((await other.admin.agent.get('/api/reminders/settings')).body.updatedAt).toBeNull();
  });

  it('save the fields sent and keep the others (audited)', async () => {
    const other = await createClinic({ app });
    const res = await other.admin.agent.put('/api/reminders/settings').send({ offsets: [{ kind: 'hours_before', minutesBefore: 180 }], quietHours: { start: '22:00', end: '07:30' } });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ enabled: false, offsets: [{ kind: 'hours_before', minutesBefore: 180, templateId: null }], quietHours: { start: '22:00', end: '07:30' } });
    const again = await other.admin.agent.put('/api/reminders/settings').send({ enabled: true });
    expect(again.body).toMatchObject({ enabled: true, offsets: [{ kind: 'hours_before', minutesBefore: 180 }], quietHours: { start: '22:00', end: '07:30' } });
    const audit = await app.infra.db.select().from(auditLog).where(and(eq(auditLog.clinicId, other.id), eq(auditLog.action, 'reminder_settings.updated')));
    expect(audit).toHaveLength(2);
  });
});

describe('reminders', () => {
  it('are scheduled by a job keyed by appointment, kind and start, due at the reminder time', async () => {
    const patient = await createPatient(clinic);
    const startsAt = nextSlot();
    let id = '';
    const before = Date.now();
    const jobs = await jobsAdded(async () => (id = await book(patient, startsAt)));
    // The day before at 10:00 already passed: only the 2-hours-before one, due 2 hours before the start.
    expect(jobs.map((j) => j.jobId)).toEqual([`reminder:${id}:hours_before:${startsAt.getTime()}`]);
    const due = startsAt.getTime() - 2 * HOUR;
    expect(jobs[0]?.delayMs).toBeLessThanOrEqual(due - before);
    expect(jobs[0]?.delayMs).toBeGreaterThan(due - Date.now() - 1000);
  });

  it('are sent once with the template filled, however often the job runs', async () => {
    const patient = await createPatient(clinic);
    const { id, startsAt, row } = await sendReminder(patient);
    const [message] = await app.infra.db.select().from(messages).where(eq(messages.id, row.messageId ?? ''));
    expect(message).toMatchObject({ direction: 'outbound', sender: 'system', automationKey: `reminder:${id}:hours_before:${startsAt.getTime()}` });
    expect(message?.text).toContain(patient.name.split(' ')[0]);
    expect(message?.text).toContain(new Intl.DateTimeFormat('pt-BR', { timeZone: 'America/Sao_Paulo', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(startsAt));
    // A retry, and the same job run twice at once.
    const job: ReminderJob = { appointmentId: id, kind: 'hours_before', startsAt: startsAt.toISOString() };
    await Promise.all([sender().run(job, jobContext(), startsAt.getTime() - 2 * HOUR), sender().run(job, jobContext(), startsAt.getTime() - HOUR)]);
    expect(await remindersOf(id)).toHaveLength(1);
    expect(sentTo(patient)).toHaveLength(1);
    const outbound = await app.infra.db.select().from(messages).where(and(eq(messages.conversationId, row.conversationId ?? ''), eq(messages.direction, 'outbound')));
    expect(outbound).toHaveLength(1);
  });

  it('after a reschedule, the old job sends nothing and the new one sends', async () => {
    const patient = await createPatient(clinic);
    const first = nextSlot();
    let id = '';
    const [oldJob] = await jobsAdded(async () => (id = await book(patient, first)));
    const moved = nextSlot();
    const [newJob] = await jobsAdded(() => clinic.receptionist.agent.patch(`/api/appointments/${id}`).send({ startsAt: moved.toISOString() }).expect(200));
    expect(newJob?.jobId).toBe(`reminder:${id}:hours_before:${moved.getTime()}`);
    await sender().run(oldJob!.data, jobContext(), first.getTime() - 2 * HOUR);
    expect(await remindersOf(id)).toHaveLength(0);
    expect(await messagesKeyed(oldJob!.jobId ?? '')).toHaveLength(0);
    await sender().run(newJob!.data, jobContext(), moved.getTime() - 2 * HOUR);
    expect((await remindersOf(id)).map((r) => r.startsAt.getTime())).toEqual([moved.getTime()]);
    await until(() => sentTo(patient).length === 1);
    expect(sentTo(patient)).toHaveLength(1);
  });

  it('for a cancelled or deleted appointment, the job sends nothing', async () => {
    const patient = await createPatient(clinic);
    const startsAt = nextSlot();
    let cancelled = '';
    const [job] = await jobsAdded(async () => (cancelled = await book(patient, startsAt)));
    await clinic.receptionist.agent.post(`/api/appointments/${cancelled}/status`).send({ status: 'cancelled', reason: 'Paciente desistiu' }).expect(200);
    await sender().run(job!.data, jobContext(), startsAt.getTime() - 2 * HOUR);
    let deleted = '';
    const later = nextSlot();
    const [other] = await jobsAdded(async () => (deleted = await book(patient, later)));
    await clinic.admin.agent.delete(`/api/appointments/${deleted}`).expect(204);
    await sender().run(other!.data, jobContext(), later.getTime() - 2 * HOUR);
    expect(await remindersOf(cancelled)).toHaveLength(0);
    expect(await messagesKeyed(`reminder:${cancelled}:hours_before:${startsAt.getTime()}`)).toHaveLength(0);
    expect(await messagesKeyed(`reminder:${deleted}:hours_before:${later.getTime()}`)).toHaveLength(0);
    const rows = await app.infra.db.select().from(appointmentReminders).where(eq(appointmentReminders.clinicId, clinic.id));
    expect(rows.some((r) => r.appointmentId === deleted)).toBe(false);
    expect(sentTo(patient)).toHaveLength(0);
  });

  it('skip a patient without a phone, and an appointment already started', async () => {
    const patient = await createPatient(clinic, { phone: null });
    const startsAt = nextSlot();
    const id = await book(patient, startsAt);
    const job: ReminderJob = { appointmentId: id, kind: 'hours_before', startsAt: startsAt.toISOString() };
    await sender().run(job, jobContext(), startsAt.getTime() - 2 * HOUR);
    await sender().run(job, jobContext(), startsAt.getTime() + 60_000);
    expect(await remindersOf(id)).toHaveLength(0);
  });
});

describe('reminders of a clinic that switches them on later, or has no connected number', () => {
  it('the sweep adds the jobs of appointments booked while they were off; without a number the job waits and tries again', async () => {
    const other = await createClinic({ app });
    const patient = await createPatient(other);
    const startsAt = new Date(Math.ceil((Date.now() + 6 * HOUR) / 60_000) * 60_000);
    const booked = await other.receptionist.agent.post('/api/appointments').send({ contactId: patient.id, professionalId: other.professional.id, startsAt: startsAt.toISOString(), durationMinutes: 30 });
    expect(booked.status).toBe(201);
    const id = booked.body.id as string;
    expect(await jobsAdded(() => app.infra.events.flush())).toEqual([]);
    await other.admin.agent.put('/api/reminders/settings').send({ enabled: true, quietHours: null }).expect(200);
    const swept = await jobsAdded(() => app.modules.services.reminders.scheduler.sweep(jobContext()));
    const job = swept.find((j) => j.data.appointmentId === id);
    expect(job?.jobId).toBe(`reminder:${id}:hours_before:${startsAt.getTime()}`);
    // No WhatsApp number at all: nothing sent, the job comes back in 15 minutes.
    const retried = await jobsAdded(() => sender().run(job!.data, { ...jobContext(), clinicId: other.id }, startsAt.getTime() - 2 * HOUR));
    expect(retried).toEqual([{ data: { ...job!.data, retry: 1 }, jobId: `${job!.jobId}:retry:1`, delayMs: 15 * 60_000 }]);
    expect(await remindersOf(id)).toHaveLength(0);
  });
});

describe("the patient's answer", () => {
  const claims = (messageId: string) => app.modules.services.reminders.answers.claims(clinic.id, messageId);
  const appointmentStatus = async (id: string) => (await app.infra.db.select({ status: appointments.status }).from(appointments).where(eq(appointments.id, id)))[0]?.status;
  const repliesIn = (conversationId: string) =>
    app.infra.db
      .select()
      .from(messages)
      .where(and(eq(messages.conversationId, conversationId), eq(messages.sender, 'system')))
      .then((rows) => rows.filter((m) => m.automationKey?.startsWith('reminder-answer:')));

  it('"Sim, confirmo" confirms the appointment as the reminders system (audited) and answers once', async () => {
    const patient = await createPatient(clinic);
    const { id, conversation } = await sendReminder(patient);
    const answer = await receive(clinic, conversation, 'Sim, confirmo 👍');
    await app.infra.events.flush();
    expect(await claims(answer.id)).toBe(true);
    expect(await appointmentStatus(id)).toBe('confirmed');
    const [audit] = await app.infra.db.select().from(auditLog).where(and(eq(auditLog.entityId, id), eq(auditLog.action, 'appointment.status_changed')));
    expect(audit).toMatchObject({ actorType: 'system', actorId: null, actorRole: 'reminders' });
    expect(audit?.details).toMatchObject({ from: 'scheduled', to: 'confirmed' });
    const replies = await repliesIn(conversation.id);
    expect(replies).toHaveLength(1);
    expect(replies[0]?.text).toMatch(/confirmada/);
    // "ok" again later: still an answer (the assistant stays quiet), nothing new happens.
    const again = await receive(clinic, conversation, 'ok');
    await app.infra.events.flush();
    expect(await claims(again.id)).toBe(true);
    expect(await repliesIn(conversation.id)).toHaveLength(1);
    await until(() => sentTo(patient).length === 2);
    // A change of mind is applied too: the staff is asked to reschedule.
    await receive(clinic, conversation, 'não vou poder');
    await app.infra.events.flush();
    expect((await remindersOf(id))[0]?.answer).toBe('reschedule');
    const [conv] = await app.infra.db.select().from(conversations).where(eq(conversations.id, conversation.id));
    expect(conv?.status).toBe('pending');
    expect(await repliesIn(conversation.id)).toHaveLength(2);
  });

  it('"não posso" marks it for rescheduling: recorded, the conversation pending for the staff, audited', async () => {
    const patient = await createPatient(clinic);
    const { id, conversation, row } = await sendReminder(patient);
    const answer = await receive(clinic, conversation, 'Não posso, preciso remarcar');
    await app.infra.events.flush();
    expect(await claims(answer.id)).toBe(true);
    expect(await appointmentStatus(id)).toBe('scheduled');
    const [reminder] = await remindersOf(id);
    expect(reminder).toMatchObject({ id: row.id, answer: 'reschedule', answerMessageId: answer.id });
    const [conv] = await app.infra.db.select().from(conversations).where(eq(conversations.id, conversation.id));
    expect(conv?.status).toBe('pending');
    const audit = await app.infra.db.select().from(auditLog).where(and(eq(auditLog.entityId, id), eq(auditLog.action, 'appointment_reminder.answered')));
    expect(audit).toMatchObject([{ actorType: 'system', actorRole: 'reminders', details: { answer: 'reschedule', kind: 'hours_before' } }]);
    expect((await repliesIn(conversation.id)).map((m) => m.text)).toEqual([expect.stringMatching(/remarcar/)]);
    // The timeline shows the reminder and its answer.
    const timeline = await clinic.receptionist.agent.get(`/api/contacts/${patient.id}/timeline`);
    expect(timeline.body.items ?? timeline.body).toEqual(expect.arrayContaining([expect.objectContaining({ type: 'appointment_reminder', id: row.id, data: expect.objectContaining({ answer: 'reschedule' }) })]));
  });

  it('"remarcar" is told to the staff over the socket, once, to whoever may read the appointment and never to another clinic', async () => {
    const other = await createClinic({ app });
    const open = async (email: string) => openSocket(running.url, { origin: TEST_ORIGIN, cookie: await sessionCookie(running.url, email) });
    const [receptionist, professional, stranger] = await Promise.all([open(clinic.receptionist.email), open(clinic.professional.email), open(other.admin.email)]);
    try {
      const [seenByReceptionist, seenByStranger] = [collect(receptionist, 'appointment:reschedule_requested'), collect(stranger, 'appointment:reschedule_requested')];
      const patient = await createPatient(clinic);
      const { id, startsAt, conversation } = await sendReminder(patient);
      const told = nextEvent(professional, 'appointment:reschedule_requested');
      const answer = await receive(clinic, conversation, 'remarcar');
      await app.infra.events.flush();
      const expected = { appointmentId: id, contactId: patient.id, professionalId: clinic.professional.id, startsAt: startsAt.toISOString(), conversationId: conversation.id };
      expect(await told).toEqual(expected);
      await until(() => seenByReceptionist.length === 1);
      // The same message handled again (a redelivered event) tells nobody twice.
      await app.modules.services.reminders.answers.handle(clinic.id, [{ messageId: answer.id, requestId: null }]);
      await app.infra.events.flush();
      await new Promise((r) => setTimeout(r, 200));
      expect(seenByReceptionist).toEqual([expected]);
      expect(seenByStranger).toEqual([]);
    } finally {
      for (const socket of [receptionist, professional, stranger]) socket.close();
    }
  });

  it('anything else stays a normal inbox message: not claimed, nothing changed, no reply', async () => {
    const patient = await createPatient(clinic);
    const { id, conversation } = await sendReminder(patient);
    const question = await receive(clinic, conversation, 'Sim, mas qual é o endereço?');
    await app.infra.events.flush();
    expect(await claims(question.id)).toBe(false);
    expect(await appointmentStatus(id)).toBe('scheduled');
    expect((await remindersOf(id))[0]?.answer).toBeNull();
    expect(await repliesIn(conversation.id)).toHaveLength(0);
    const [conv] = await app.infra.db.select().from(conversations).where(eq(conversations.id, conversation.id));
    expect(conv?.status).not.toBe('pending');
  });

  it('a "sim" in a conversation without a reminder is not claimed', async () => {
    const patient = await createPatient(clinic);
    const conversationId = await app.modules.services.inbox.conversations.ensure(clinic.id, number.id, patient.id);
    const message = await receive(clinic, { id: conversationId, numberId: number.id }, 'sim');
    await app.infra.events.flush();
    expect(await claims(message.id)).toBe(false);
  });
});
