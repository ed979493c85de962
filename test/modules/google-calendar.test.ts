import { and, eq } from 'drizzle-orm';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditLog, googleCalendarBusy, googleCalendarSyncs, integrationConnections, outbox } from '../../shared/schema/index.js';
import { OAuthState } from '../../server/modules/google-calendar/state.js';
import { FakeGoogle } from '../fakes/google.js';
import { buildTestApp, getTestApp, TEST_ORIGIN, type TestApp } from '../helpers/app.js';
import { anonymous, createClinic, type Member, type TestClinic } from '../helpers/clinic.js';
import { createPatient, futureMonday } from '../helpers/scheduling.js';
import { until } from '../helpers/until.js';

const PRIMARY = 'dra.ana.clinica@gmail.com';
const PERSONAL = 'pessoal.ana@gmail.com';
const HOLIDAYS = 'pt-br.brazilian#holiday@group.v.calendar.google.com';

let google: FakeGoogle;
let app: TestApp;

beforeAll(async () => {
  google = await new FakeGoogle().start();
  google.addCalendar(PRIMARY, { primary: true });
  google.addCalendar(PERSONAL);
  google.addCalendar(HOLIDAYS, { accessRole: 'reader' });
  app = await buildTestApp({ env: google.env() });
  // Google's push reaches the app the way a request from the internet would.
  google.deliver = async (_address, headers) => {
    const res = await request(app.app).post('/api/webhooks/google-calendar').set(headers);
    return { status: res.status, body: res.body };
  };
});
afterAll(async () => {
  await app?.close();
  await google?.stop();
});

const services = () => app.modules.services.googleCalendar;

/** Consent as the professional would give it in the browser, then Google's redirect to our callback. */
async function connect(member: Member): Promise<string> {
  const res = await member.agent.get('/api/calendar/google/connect');
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  const back = await anonymous(app).get(google.consent(res.body.url).redirect);
  expect(back.status, JSON.stringify(back.body)).toBe(302);
  expect(back.headers.location).toBe('http://app.test/configuracoes/integracoes?google_calendar=connected');
  const list = await member.agent.get('/api/calendar/integrations');
  const mine = (list.body.items as { id: string; ownerUserId: string }[]).find((i) => i.ownerUserId === member.id);
  if (!mine) throw new Error('no integration after connect');
  return mine.id;
}

const integration = async (member: Member, id: string) => {
  const res = await member.agent.get('/api/calendar/integrations');
  return (res.body.items as { id: string; status: string; lastSyncAt: string | null; errorCount: number; calendars: { calendarId: string; lastSyncAt: string | null; channelExpiresAt: string | null }[] }[]).find((i) => i.id === id);
};

const syncRow = async (clinic: TestClinic, calendarId = PRIMARY) =>
  (await app.infra.db.select().from(googleCalendarSyncs).where(and(eq(googleCalendarSyncs.clinicId, clinic.id), eq(googleCalendarSyncs.calendarId, calendarId))))[0];

/** A Google notification for the clinic's calendar channel, and the sync it starts. */
async function notifyAndSync(clinic: TestClinic, calendarId = PRIMARY) {
  const before = (await syncRow(clinic, calendarId))?.lastSyncAt?.getTime() ?? 0;
  const row = await syncRow(clinic, calendarId);
  const res = await google.notify(row?.channelId as string);
  expect(res.status).toBe(200);
  expect(res.body).toEqual({ received: true, queued: true });
  await until(async () => ((await syncRow(clinic, calendarId))?.lastSyncAt?.getTime() ?? 0) > before);
}

const ours = (appointmentId: string, calendarId = PRIMARY) => google.events(calendarId).filter((e) => e.extendedProperties?.private?.operabaseAppointmentId === appointmentId);

async function book(clinic: TestClinic, startsAt: string, minutes = 30) {
  const contactId = await createPatient(clinic, { name: 'Maria Aparecida Souza' });
  const res = await clinic.receptionist.agent.post('/api/appointments').send({ contactId, professionalId: clinic.professional.id, startsAt, durationMinutes: minutes });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.id as string;
}

async function freeStarts(clinic: TestClinic, date: string) {
  const res = await clinic.receptionist.agent.get('/api/availability').query({ professionalId: clinic.professional.id, durationMinutes: 60, from: `${date}T00:00:00-03:00`, to: `${date}T23:59:00-03:00` });
  expect(res.status).toBe(200);
  return (res.body.slots as { startsAt: string }[]).map((s) => s.startsAt.slice(11, 16));
}

describe('connecting a Google calendar', () => {
  it('gives a consent URL with offline access, consent, calendar scopes only and a signed state', async () => {
    const clinic = await createClinic({ app });
    const res = await clinic.professional.agent.get('/api/calendar/google/connect');
    expect(res.status).toBe(200);
    const url = new URL(res.body.url);
    expect(url.origin + url.pathname).toBe(`${google.url}/o/oauth2/v2/auth`);
    expect(url.searchParams.get('access_type')).toBe('offline');
    expect(url.searchParams.get('prompt')).toBe('consent');
    expect(url.searchParams.get('scope')?.split(' ').sort()).toEqual(['https://www.googleapis.com/auth/calendar.events', 'https://www.googleapis.com/auth/calendar.readonly']);
    expect(url.searchParams.get('redirect_uri')).toBe('https://api.clinic.test/api/calendar/google/callback');
    expect(url.searchParams.get('state')).toMatch(/^[\w-]+\.[\w-]+$/);
  });

  it('refuses a forged, altered, foreign or expired state, and a callback without one; nothing is stored', async () => {
    const clinic = await createClinic({ app });
    const { state, code } = google.consent((await clinic.professional.agent.get('/api/calendar/google/connect')).body.url);
    const [body, mac] = state.split('.') as [string, string];
    const otherClinic = JSON.parse(Buffer.from(body, 'base64url').toString());
    otherClinic.c = (await createClinic({ app })).id;
    const expired = new OAuthState(app.infra.secrets.deriveKey('google-oauth-state'), () => Date.now() - 11 * 60_000).sign(clinic.professional.id, clinic.id);
    const foreignKey = new OAuthState(Buffer.alloc(32, 7)).sign(clinic.professional.id, clinic.id);
    const forged = [`${Buffer.from(JSON.stringify(otherClinic)).toString('base64url')}.${mac}`, `${body}.${mac.slice(0, -2)}AA`, expired, foreignKey, 'x', `${body}`];
    for (const bad of forged) {
      const res = await anonymous(app).get('/api/calendar/google/callback').query({ code, state: bad });
      expect(res.status, bad).toBe(400);
      expect(res.body.error.code).toBe('invalid_state');
    }
    expect((await anonymous(app).get('/api/calendar/google/callback').query({ code })).status).toBe(400);
    expect(google.calls.token ?? 0).toBe(0);
    expect(await app.infra.db.select().from(integrationConnections).where(eq(integrationConnections.clinicId, clinic.id))).toEqual([]);
  });

  it('stores the refresh token sealed, uses the primary calendar, watches it and syncs it in full', async () => {
    const clinic = await createClinic({ app });
    const id = await connect(clinic.professional);
    const [row] = await app.infra.db.select().from(integrationConnections).where(eq(integrationConnections.id, id));
    expect(row?.status).toBe('active');
    expect(row?.credentials).toMatch(/^v1\./);
    const { refreshToken } = await app.modules.services.integrations.connections.credentials(clinic.id, id);
    expect(row?.credentials).not.toContain(refreshToken);
    await until(async () => Boolean((await integration(clinic.professional, id))?.lastSyncAt));
    const view = await integration(clinic.professional, id);
    expect(view?.calendars).toHaveLength(1);
    expect(view).toMatchObject({ status: 'active', errorCount: 0, calendarId: PRIMARY, busyCalendarIds: [PRIMARY] });
    const channel = google.channels.get((await syncRow(clinic))?.channelId as string);
    expect(channel?.address).toBe('https://api.clinic.test/api/webhooks/google-calendar');
    expect(channel?.stopped).toBe(false);
    // The professional chooses: appointments to the primary, both own calendars busy; the holidays one is read-only.
    const cals = await clinic.professional.agent.get('/api/calendar/google/calendars');
    expect(cals.body.items.map((c: { id: string; canReceive: boolean }) => [c.id, c.canReceive])).toEqual([
      [PRIMARY, true],
      [PERSONAL, true],
      [HOLIDAYS, false],
    ]);
    const readOnly = await clinic.professional.agent.patch(`/api/calendar/integrations/${id}`).send({ calendarId: HOLIDAYS });
    expect(readOnly.status).toBe(422);
    const foreign = await clinic.professional.agent.patch(`/api/calendar/integrations/${id}`).send({ busyCalendarIds: [PRIMARY, 'someone.else@gmail.com'] });
    expect(foreign.status).toBe(422);
    expect(foreign.body.error).toMatchObject({ code: 'unknown_calendar', details: { calendarIds: ['someone.else@gmail.com'] } });
    const chosen = await clinic.professional.agent.patch(`/api/calendar/integrations/${id}`).send({ calendarId: PRIMARY, busyCalendarIds: [PRIMARY, PERSONAL] });
    expect(chosen.status, JSON.stringify(chosen.body)).toBe(200);
    expect(chosen.body.busyCalendarIds.sort()).toEqual([PERSONAL, PRIMARY].sort());
    await until(async () => Boolean((await syncRow(clinic, PERSONAL))?.lastSyncAt));
    expect(google.activeChannels(PERSONAL).length).toBeGreaterThan(0);
    // Per-connection figures in /metrics.
    const metrics = await request(app.app).get('/metrics');
    expect(metrics.text).toMatch(new RegExp(`google_calendar_last_sync_timestamp_seconds\\{connection="${id}"\\} \\d`));
    expect(metrics.text).toContain(`google_calendar_sync_errors{connection="${id}"} 0`);
    expect(metrics.text).toMatch(/google_calendar_connections\{status="active"\} [1-9]/);
  });

  it('disconnecting stops the channels, revokes the grant and removes the sync state', async () => {
    const clinic = await createClinic({ app });
    const id = await connect(clinic.professional);
    await until(async () => Boolean((await syncRow(clinic))?.lastSyncAt));
    const channelId = (await syncRow(clinic))?.channelId as string;
    const revokes = google.calls.revoke ?? 0;
    const res = await clinic.professional.agent.delete(`/api/calendar/integrations/${id}`);
    expect(res.status).toBe(204);
    expect(google.channels.get(channelId)?.stopped).toBe(true);
    expect(google.calls.revoke).toBe(revokes + 1);
    expect(await syncRow(clinic)).toBeUndefined();
    expect((await clinic.professional.agent.get('/api/calendar/integrations')).body.items).toEqual([]);
    const [audit] = await app.infra.db.select().from(auditLog).where(and(eq(auditLog.clinicId, clinic.id), eq(auditLog.action, 'google_calendar.disconnected')));
    expect(audit?.entityId).toBe(id);
  });
});

describe('appointments to Google', () => {
  it('creates one event, patches it when moved, deletes it when cancelled, in the professional’s zone with minimal content', async () => {
    const clinic = await createClinic({ app });
    await connect(clinic.professional);
    const day = futureMonday(3);
    const id = await book(clinic, `${day}T10:00:00-03:00`);
    await until(() => ours(id).length === 1);
    const [event] = ours(id);
    expect(event?.summary).toBe('Consulta · Maria');
    expect(event?.description).toBeUndefined();
    expect(event?.start).toEqual({ dateTime: `${day}T10:00:00-03:00`, timeZone: 'America/Sao_Paulo' });
    expect(event?.extendedProperties?.private).toEqual({ operabaseAppointmentId: id, operabaseClinicId: clinic.id });

    await clinic.receptionist.agent.patch(`/api/appointments/${id}`).send({ startsAt: `${day}T15:00:00-03:00` });
    await until(() => ours(id)[0]?.start?.dateTime === `${day}T15:00:00-03:00`);
    await clinic.receptionist.agent.post(`/api/appointments/${id}/status`).send({ status: 'cancelled', reason: 'paciente pediu' });
    await until(() => ours(id)[0]?.status === 'cancelled');
    expect(ours(id)).toHaveLength(1);
  });

  it('a job retried after its answer was lost does not create a second event', async () => {
    const clinic = await createClinic({ app });
    await connect(clinic.professional);
    const inserts = google.calls.insert ?? 0;
    google.fault('insert', 'drop');
    const id = await book(clinic, `${futureMonday(4)}T09:00:00-03:00`);
    await until(async () => (await app.infra.db.select().from(googleCalendarSyncs).where(eq(googleCalendarSyncs.clinicId, clinic.id))).length > 0 && ours(id).length === 1 && google.requests.some((r) => r.op === 'patch' && r.path.includes(ours(id)[0]?.id ?? '-')));
    expect(ours(id)).toHaveLength(1);
    expect(google.calls.insert).toBe(inserts + 1);
  });

  it('patches over a changed etag (412 read again) and the clinic can choose what the event shows', async () => {
    const clinic = await createClinic({ app });
    await connect(clinic.professional);
    expect((await clinic.admin.agent.patch('/api/calendar/settings').send({ eventDetail: 'busy_only' })).status).toBe(200);
    const day = futureMonday(5);
    const id = await book(clinic, `${day}T11:00:00-03:00`);
    await until(() => ours(id).length === 1);
    expect(ours(id)[0]?.summary).toBe('Consulta');
    // The professional renamed it in Google: our stored etag is stale.
    google.changeEvent(PRIMARY, ours(id)[0]?.id as string, { summary: 'Consulta (editada)' });
    await clinic.receptionist.agent.patch(`/api/appointments/${id}`).send({ startsAt: `${day}T16:00:00-03:00` });
    await until(() => ours(id)[0]?.start?.dateTime === `${day}T16:00:00-03:00`);
    expect(ours(id)[0]?.summary).toBe('Consulta');
  });
});

describe('Google to availability', () => {
  it('a Google-only event blocks its slot within one sync; our own event is not a second block', async () => {
    const clinic = await createClinic({ app });
    await connect(clinic.professional);
    await until(async () => Boolean((await syncRow(clinic))?.lastSyncAt));
    const day = futureMonday(10);
    expect(await freeStarts(clinic, day)).toContain('14:00');
    const dentist = google.addEvent(PRIMARY, { summary: 'Dentista', start: { dateTime: `${day}T14:00:00-03:00` }, end: { dateTime: `${day}T15:00:00-03:00` } });
    const free = google.addEvent(PRIMARY, { summary: 'Livre', transparency: 'transparent', start: { dateTime: `${day}T16:00:00-03:00` }, end: { dateTime: `${day}T17:00:00-03:00` } });
    await notifyAndSync(clinic);
    const starts = await freeStarts(clinic, day);
    expect(starts).not.toContain('14:00');
    expect(starts).toContain('16:00');

    const id = await book(clinic, `${day}T10:00:00-03:00`);
    await until(() => ours(id).length === 1);
    await notifyAndSync(clinic);
    const blocks = await app.infra.db.select().from(googleCalendarBusy).where(eq(googleCalendarBusy.clinicId, clinic.id));
    const ids = blocks.map((b) => b.googleEventId);
    expect(ids).toContain(dentist.id);
    expect(ids).not.toContain(free.id);
    expect(ids).not.toContain(ours(id)[0]?.id);
  });

  it('all-day, recurring instances, cancelled instances and deletions behave as Google shows them', async () => {
    const clinic = await createClinic({ app });
    await connect(clinic.professional);
    await until(async () => Boolean((await syncRow(clinic))?.lastSyncAt));
    const monday = futureMonday(6);
    const tuesday = new Date(Date.parse(`${monday}T12:00:00Z`) + 86_400_000).toISOString().slice(0, 10);
    const wednesday = new Date(Date.parse(`${monday}T12:00:00Z`) + 2 * 86_400_000).toISOString().slice(0, 10);
    google.addEvent(PRIMARY, { summary: 'Congresso', start: { date: tuesday }, end: { date: wednesday } });
    const series = google.addRecurring(PRIMARY, { id: 'pilates', start: new Date(`${monday}T08:00:00-03:00`), minutes: 60, weeks: 3 });
    const gone = google.addEvent(PRIMARY, { summary: 'Reunião', start: { dateTime: `${monday}T11:00:00-03:00` }, end: { dateTime: `${monday}T12:00:00-03:00` } });
    await notifyAndSync(clinic);
    expect(await freeStarts(clinic, tuesday)).toEqual([]);
    expect(await freeStarts(clinic, monday)).not.toContain('08:00');
    expect(await freeStarts(clinic, monday)).not.toContain('11:00');
    // One instance cancelled, one event deleted: both free again.
    google.changeEvent(PRIMARY, series[0]?.id as string, { status: 'cancelled' });
    google.changeEvent(PRIMARY, gone.id, { status: 'cancelled' });
    await notifyAndSync(clinic);
    const free = await freeStarts(clinic, monday);
    expect(free).toContain('08:00');
    expect(free).toContain('11:00');
    const nextWeek = new Date(Date.parse(`${monday}T12:00:00Z`) + 7 * 86_400_000).toISOString().slice(0, 10);
    expect(await freeStarts(clinic, nextWeek)).not.toContain('08:00');
  });

  it('follows every page, and a 410 drops the sync token for one full sync', async () => {
    const clinic = await createClinic({ app });
    await connect(clinic.professional);
    await until(async () => Boolean((await syncRow(clinic))?.lastSyncAt));
    const firstFull = (await syncRow(clinic))?.lastFullSyncAt?.getTime() ?? 0;
    const day = futureMonday(7);
    google.pageSize = 2;
    try {
      for (const h of ['08', '09', '10', '11', '13']) google.addEvent(PRIMARY, { start: { dateTime: `${day}T${h}:00:00-03:00` }, end: { dateTime: `${day}T${h}:50:00-03:00` } });
      google.expireSyncTokens();
      await notifyAndSync(clinic);
    } finally {
      google.pageSize = 250;
    }
    const row = await syncRow(clinic);
    expect(row?.lastFullSyncAt?.getTime()).toBeGreaterThan(firstFull);
    expect(row?.syncToken).toBeTruthy();
    expect(await freeStarts(clinic, day)).toEqual(['12:00', '14:00', '15:00', '16:00', '17:00']);
  });

  it('flags our event moved or deleted in Google without changing the appointment', async () => {
    const clinic = await createClinic({ app });
    await connect(clinic.professional);
    const day = futureMonday(8);
    const id = await book(clinic, `${day}T10:00:00-03:00`);
    await until(() => ours(id).length === 1);
    google.changeEvent(PRIMARY, ours(id)[0]?.id as string, { start: { dateTime: `${day}T12:00:00-03:00` }, end: { dateTime: `${day}T12:30:00-03:00` } });
    await notifyAndSync(clinic);
    const res = await clinic.receptionist.agent.get('/api/calendar/conflicts');
    expect(res.body.items).toEqual([
      expect.objectContaining({ appointmentId: id, kind: 'moved', googleStartsAt: new Date(`${day}T12:00:00-03:00`).toISOString(), appointmentStartsAt: new Date(`${day}T10:00:00-03:00`).toISOString() }),
    ]);
    const appointment = await clinic.receptionist.agent.get(`/api/appointments/${id}`);
    expect(new Date(appointment.body.startsAt).toISOString()).toBe(new Date(`${day}T10:00:00-03:00`).toISOString());
    const [event] = await app.infra.db.select().from(outbox).where(and(eq(outbox.clinicId, clinic.id), eq(outbox.name, 'google_calendar.conflict')));
    expect(event?.payload).toMatchObject({ appointmentId: id, kind: 'moved' });
    // The moved event is not a busy block of its own: the appointment still holds 10:00, 12:00 stays free.
    expect(await freeStarts(clinic, day)).toContain('12:00');
    google.changeEvent(PRIMARY, ours(id)[0]?.id as string, { status: 'cancelled' });
    await notifyAndSync(clinic);
    const after = await clinic.receptionist.agent.get('/api/calendar/conflicts');
    expect(after.body.items[0]).toMatchObject({ appointmentId: id, kind: 'deleted' });
  });
});

describe('push notifications', () => {
  it('acknowledges sync, ignores unknown channels, replays and another clinic’s channel token', async () => {
    const [a, b] = [await createClinic({ app }), await createClinic({ app })];
    await connect(a.professional);
    await connect(b.professional);
    await until(async () => Boolean((await syncRow(a))?.lastSyncAt) && Boolean((await syncRow(b))?.lastSyncAt));
    const channelA = google.channels.get((await syncRow(a))?.channelId as string);
    const channelB = google.channels.get((await syncRow(b))?.channelId as string);
    if (!channelA || !channelB) throw new Error('no channels');
    const post = (headers: Record<string, string>) => request(app.app).post('/api/webhooks/google-calendar').set(headers);
    const sync = await post(google.pushHeaders(channelA, 'sync'));
    expect(sync.status).toBe(200);
    expect(sync.body).toEqual({ received: true, queued: false });
    const unknown = await post({ ...google.pushHeaders(channelA, 'exists'), 'X-Goog-Channel-ID': 'f0f0f0f0-0000-4000-8000-000000000000' });
    expect(unknown.status).toBe(200);
    expect(unknown.body).toEqual({ received: false });
    // Clinic B's channel with clinic A's token: refused, nothing queued for either.
    const crossed = await post(google.pushHeaders(channelB, 'exists', channelA.token));
    expect(crossed.status).toBe(401);
    const noToken = await post({ ...google.pushHeaders(channelA, 'exists'), 'X-Goog-Channel-Token': '' });
    expect(noToken.status).toBe(401);
    // A session is no credential either.
    expect((await a.doctorAdmin.agent.post('/api/webhooks/google-calendar').set({ ...google.pushHeaders(channelA, 'exists'), 'X-Goog-Channel-Token': 'x' })).status).toBe(401);
    channelA.messageNumber = 50;
    expect((await post(google.pushHeaders(channelA, 'exists'))).body).toEqual({ received: true, queued: true });
    expect((await post(google.pushHeaders(channelA, 'exists'))).body).toEqual({ received: true, queued: false });
    channelA.messageNumber = 10;
    expect((await post(google.pushHeaders(channelA, 'exists'))).body).toEqual({ received: true, queued: false });
  });
});

describe('keeping it alive', () => {
  it('renews a channel about to expire (new first, then the old stopped) and syncs calendars left unsynced', async () => {
    const clinic = await createClinic({ app });
    await connect(clinic.professional);
    await until(async () => Boolean((await syncRow(clinic))?.lastSyncAt));
    const old = (await syncRow(clinic)) as NonNullable<Awaited<ReturnType<typeof syncRow>>>;
    await app.infra.db
      .update(googleCalendarSyncs)
      .set({ channelExpiresAt: new Date(Date.now() + 3600_000), lastSyncAt: new Date(Date.now() - 2 * 3600_000) })
      .where(eq(googleCalendarSyncs.id, old.id));
    await services().sync.maintain(app.infra.log);
    const renewed = await syncRow(clinic);
    expect(renewed?.channelId).not.toBe(old.channelId);
    expect(renewed?.channelExpiresAt?.getTime()).toBeGreaterThan(Date.now() + 29 * 86_400_000);
    expect(google.channels.get(old.channelId as string)?.stopped).toBe(true);
    expect(google.channels.get(renewed?.channelId as string)?.stopped).toBe(false);
    await until(async () => ((await syncRow(clinic))?.lastSyncAt?.getTime() ?? 0) > Date.now() - 60_000);
    // The old channel's notifications are no longer ours.
    expect((await google.notify(old.channelId as string)).body).toEqual({ received: false });
  });

  it('invalid_grant marks the link broken once, tells the professional, pauses sync; reconnecting resumes', async () => {
    const clinic = await createClinic({ app });
    const id = await connect(clinic.professional);
    await until(async () => Boolean((await syncRow(clinic))?.lastSyncAt));
    services().access.forget(id);
    google.revokeAll();
    const day = futureMonday(9);
    const appointmentId = await book(clinic, `${day}T10:00:00-03:00`);
    await until(async () => (await integration(clinic.professional, id))?.status === 'broken');
    expect((await integration(clinic.professional, id))?.status).toBe('broken');
    const channelId = (await syncRow(clinic))?.channelId as string;
    expect((await google.notify(channelId)).body).toEqual({ received: true, queued: false });
    const audits = await app.infra.db.select().from(auditLog).where(and(eq(auditLog.clinicId, clinic.id), eq(auditLog.action, 'google_calendar.broken')));
    expect(audits).toHaveLength(1);
    const [event] = await app.infra.db.select().from(outbox).where(and(eq(outbox.clinicId, clinic.id), eq(outbox.name, 'google_calendar.connection_updated')));
    expect(event).toBeDefined();
    expect((await clinic.professional.agent.post(`/api/calendar/integrations/${id}/sync`)).status).toBe(409);
    expect(ours(appointmentId)).toHaveLength(0);

    expect(await connect(clinic.professional)).toBe(id);
    expect((await integration(clinic.professional, id))?.status).toBe('active');
    // The next change of the appointment reaches Google again.
    await clinic.receptionist.agent.patch(`/api/appointments/${appointmentId}`).send({ startsAt: `${day}T11:00:00-03:00` });
    await until(() => ours(appointmentId).length === 1);
  });
});

describe('who may do what', () => {
  it('receptionists are refused, a professional sees only their own link, admins see and manage all', async () => {
    const clinic = await createClinic({ app });
    const id = await connect(clinic.professional);
    const calls = [
      (m: Member) => m.agent.get('/api/calendar/integrations'),
      (m: Member) => m.agent.patch(`/api/calendar/integrations/${id}`).send({ busyCalendarIds: [PRIMARY] }),
      (m: Member) => m.agent.post(`/api/calendar/integrations/${id}/sync`),
      (m: Member) => m.agent.delete(`/api/calendar/integrations/${id}`),
      (m: Member) => m.agent.get('/api/calendar/google/connect'),
      (m: Member) => m.agent.get('/api/calendar/google/calendars'),
    ];
    for (const call of calls) expect((await call(clinic.receptionist)).status).toBe(403);
    // The doctor-admin is another professional: their own list is empty, but as admin they see the clinic's.
    expect((await clinic.doctorAdmin.agent.get('/api/calendar/integrations')).body.items.map((i: { id: string }) => i.id)).toEqual([id]);
    expect((await clinic.admin.agent.post(`/api/calendar/integrations/${id}/sync`)).status).toBe(202);
    expect((await clinic.admin.agent.get('/api/calendar/google/calendars')).status).toBe(403);
  });

  it('without Google configured the routes answer 503 integration_not_configured', async () => {
    const plain = await getTestApp();
    const clinic = await createClinic({ app: plain });
    for (const path of ['/api/calendar/google/connect', '/api/calendar/google/calendars', '/api/calendar/integrations']) {
      const res = await clinic.doctorAdmin.agent.get(path);
      expect(res.status, path).toBe(503);
      expect(res.body.error.code).toBe('integration_not_configured');
    }
    const ready = await request(plain.app).get('/api/health/ready').set('Origin', TEST_ORIGIN);
    expect(ready.body.integrations?.googleCalendar).toBe(false);
  });
});
