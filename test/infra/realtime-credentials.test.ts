import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memberships } from '../../shared/schema/index.js';
import { accountCacheGroup } from '../../server/http/auth.js';
import { buildTestApp, TEST_ORIGIN, type TestApp } from '../helpers/app.js';
import { anonymous, createClinic, type TestClinic } from '../helpers/clinic.js';
import { collect, disconnection, listen, nextEvent, openSocket, sessionCookie, type ClientSocket, type RunningServer } from '../helpers/server.js';
import { withRedis } from '../helpers/skip.js';

// Each credential ending disconnects the socket at once: well inside this bound, far below the
// 60 s re-check of the servers these tests use (except the re-check tests themselves).
const AT_ONCE_MS = 2000;

const sockets: ClientSocket[] = [];
const track = (socket: ClientSocket) => (sockets.push(socket), socket);
afterAll(() => {
  for (const socket of sockets) socket.close();
});

/** A request over the real port with exactly this credential. */
function call(url: string, method: string, path: string, opts: { cookie?: string; token?: string; body?: unknown } = {}) {
  const headers: Record<string, string> = { origin: TEST_ORIGIN };
  if (opts.cookie) headers.cookie = opts.cookie;
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  return fetch(`${url}${path}`, { method, headers, body: opts.body === undefined ? undefined : JSON.stringify(opts.body) });
}

async function memberSocket(url: string, email: string) {
  const cookie = await sessionCookie(url, email);
  return { cookie, socket: track(await openSocket(url, { origin: TEST_ORIGIN, cookie })) };
}

async function apiKey(clinic: TestClinic, scopes = ['contacts:read', 'clinic:read']) {
  const created = await clinic.admin.agent.post('/api/api-keys').send({ name: 'integração', scopes });
  expect(created.status).toBe(201);
  return { id: created.body.id as string, key: created.body.key as string };
}

/** The socket is still open and receiving: a ping of its clinic reaches it. */
async function stillReceives(socket: ClientSocket, clinic: TestClinic) {
  expect(socket.connected).toBe(true);
  const ping = nextEvent(socket, 'test:ping');
  await clinic.receptionist.agent.post('/api/test/ping').expect(200);
  await ping;
}

describe('a socket ends with its credential', () => {
  let app: TestApp;
  let running: RunningServer;
  let clinic: TestClinic;

  beforeAll(async () => {
    app = await buildTestApp();
    running = await listen(app);
    clinic = await createClinic({ app });
  });
  afterAll(() => running.close());

  it('logout disconnects that session’s sockets, not the user’s other sessions', async () => {
    const first = await memberSocket(running.url, clinic.receptionist.email);
    const second = await memberSocket(running.url, clinic.receptionist.email);
    const ended = disconnection(first.socket, AT_ONCE_MS);
    expect((await call(running.url, 'POST', '/api/auth/logout', { cookie: first.cookie })).status).toBe(204);
    expect(await ended).toBe('io server disconnect');
    await stillReceives(second.socket, clinic);
  });

  it('removing a member disconnects their sockets in that clinic', async () => {
    const target = await createClinic({ app });
    const { socket } = await memberSocket(running.url, target.professional.email);
    const colleague = await memberSocket(running.url, target.receptionist.email);
    const ended = disconnection(socket, AT_ONCE_MS);
    await target.admin.agent.delete(`/api/team/${target.professional.id}`).expect(200);
    expect(await ended).toBe('io server disconnect');
    await stillReceives(colleague.socket, target);
  });

  it('deactivating a member disconnects their sockets, and they cannot reconnect', async () => {
    const target = await createClinic({ app });
    const { cookie, socket } = await memberSocket(running.url, target.receptionist.email);
    const ended = disconnection(socket, AT_ONCE_MS);
    await target.admin.agent.patch(`/api/team/${target.receptionist.id}`).send({ active: false }).expect(200);
    expect(await ended).toBe('io server disconnect');
    await expect(openSocket(running.url, { origin: TEST_ORIGIN, cookie })).rejects.toThrow('unauthorized');
  });

  it('a role change disconnects; the reconnected socket carries the new role’s permissions', async () => {
    const target = await createClinic({ app });
    const { cookie, socket } = await memberSocket(running.url, target.professional.email);
    // Hours are not permissions: that change keeps the socket.
    await target.admin.agent.patch(`/api/team/${target.professional.id}`).send({ timezone: 'America/Manaus' }).expect(200);
    await stillReceives(socket, target);

    const ended = disconnection(socket, AT_ONCE_MS);
    await target.admin.agent.patch(`/api/team/${target.professional.id}`).send({ role: 'receptionist' }).expect(200);
    expect(await ended).toBe('io server disconnect');

    const again = track(await openSocket(running.url, { origin: TEST_ORIGIN, cookie }));
    const clinical = collect(again, 'medical_record:signed');
    app.infra.realtime.emitToClinic(target.id, 'medical_record:signed', { id: target.id, contactId: target.id });
    await stillReceives(again, target);
    expect(clinical).toEqual([]);
  });

  it('a password change disconnects the user’s other sessions; their cookie no longer opens a socket', async () => {
    const target = await createClinic({ app });
    const changing = await sessionCookie(running.url, target.admin.email);
    const other = await memberSocket(running.url, target.admin.email);
    const ended = disconnection(other.socket, AT_ONCE_MS);
    const res = await call(running.url, 'POST', '/api/auth/change-password', { cookie: changing, body: { currentPassword: 'senha-de-teste-123', newPassword: 'nova-senha-456' } });
    expect(res.status).toBe(204);
    expect(await ended).toBe('io server disconnect');
    await expect(openSocket(running.url, { origin: TEST_ORIGIN, cookie: other.cookie })).rejects.toThrow('unauthorized');
  });

  it('a password reset disconnects every socket of the user', async () => {
    const target = await createClinic({ app });
    const { socket } = await memberSocket(running.url, target.receptionist.email);
    await anonymous(app).post('/api/auth/password-reset').send({ email: target.receptionist.email }).expect(202);
    const token = /token=([\w-]+)/.exec((await app.mail.waitFor(target.receptionist.email)).text)?.[1];
    const ended = disconnection(socket, AT_ONCE_MS);
    await anonymous(app).post('/api/auth/password-reset/confirm').send({ token, newPassword: 'redefinida-654' }).expect(200);
    expect(await ended).toBe('io server disconnect');
  });

  it('switching clinics disconnects the session’s sockets; the reconnected one follows the new clinic', async () => {
    const other = await createClinic({ app });
    await app.infra.db.insert(memberships).values({ clinicId: other.id, userId: clinic.receptionist.id, role: 'receptionist' });
    await app.infra.cache.invalidateGroup(accountCacheGroup(clinic.receptionist.id));
    const { cookie, socket } = await memberSocket(running.url, clinic.receptionist.email);
    const ended = disconnection(socket, AT_ONCE_MS);
    expect((await call(running.url, 'POST', '/api/auth/switch-clinic', { cookie, body: { clinicId: other.id } })).status).toBe(200);
    expect(await ended).toBe('io server disconnect');

    const again = track(await openSocket(running.url, { origin: TEST_ORIGIN, cookie }));
    const fromFirst = collect(again, 'test:ping');
    await clinic.receptionist.agent.post('/api/test/ping').expect(200);
    await stillReceives(again, other);
    expect(fromFirst).toHaveLength(1);
  });

  it('revoking an API key disconnects that key’s sockets, not another key’s', async () => {
    const [revoked, kept] = await Promise.all([apiKey(clinic), apiKey(clinic)]);
    const socket = track(await openSocket(running.url, { token: revoked.key }));
    const other = track(await openSocket(running.url, { token: kept.key }));
    const ended = disconnection(socket, AT_ONCE_MS);
    await clinic.admin.agent.delete(`/api/api-keys/${revoked.id}`).expect(204);
    expect(await ended).toBe('io server disconnect');
    await stillReceives(other, clinic);
  });
});

describe('the periodic re-check', () => {
  const RECHECK_MS = 300;
  let app: TestApp;
  let running: RunningServer;
  let clinic: TestClinic;

  beforeAll(async () => {
    app = await buildTestApp();
    running = await listen(app, { socketRecheckMs: RECHECK_MS });
    clinic = await createClinic({ app });
  });
  afterAll(() => running.close());

  it('disconnects a socket whose session expired, and keeps a valid one through several checks', async () => {
    const expiring = await memberSocket(running.url, clinic.professional.email);
    const valid = await memberSocket(running.url, clinic.receptionist.email);
    // The store entry gets one second to live, as when its 12 hours run out.
    const ref = app.infra.sessions.parse(expiring.cookie);
    const data = ref && (await app.infra.sessions.store.get(ref.id));
    if (!ref || !data) throw new Error('session not found');
    await app.infra.sessions.store.set(ref.id, data, 1);

    const ended = disconnection(expiring.socket, 1000 + 3 * RECHECK_MS);
    expect(await ended).toBe('io server disconnect');
    await stillReceives(valid.socket, clinic);
  });

  it('catches a permission change nobody announced', async () => {
    const target = await createClinic({ app });
    const { socket } = await memberSocket(running.url, target.professional.email);
    await new Promise((resolve) => setTimeout(resolve, 2 * RECHECK_MS));
    expect(socket.connected).toBe(true);

    const ended = disconnection(socket, 3 * RECHECK_MS);
    await app.infra.db
      .update(memberships)
      .set({ isProfessional: false })
      .where(and(eq(memberships.clinicId, target.id), eq(memberships.userId, target.professional.id)));
    await app.infra.cache.invalidateGroup(accountCacheGroup(target.professional.id));
    expect(await ended).toBe('io server disconnect');
  });
});

describe.runIf(withRedis('realtime: endings on another instance'))('endings reach sockets on another instance', () => {
  let first: TestApp;
  let second: TestApp;
  let instanceA: RunningServer;
  let instanceB: RunningServer;
  let clinic: TestClinic;

  beforeAll(async () => {
    [first, second] = await Promise.all([buildTestApp(), buildTestApp()]);
    [instanceA, instanceB] = await Promise.all([listen(first), listen(second)]);
    clinic = await createClinic({ app: first });
  });
  afterAll(async () => {
    await Promise.all([instanceA.close(), instanceB.close()]);
  });

  it('logout on B disconnects the session’s socket on A', async () => {
    const cookie = await sessionCookie(instanceA.url, clinic.receptionist.email);
    const socket = track(await openSocket(instanceA.url, { origin: TEST_ORIGIN, cookie }));
    const ended = disconnection(socket, AT_ONCE_MS);
    expect((await call(instanceB.url, 'POST', '/api/auth/logout', { cookie })).status).toBe(204);
    expect(await ended).toBe('io server disconnect');
  });

  it('removing a member on B disconnects their socket on A', async () => {
    const { socket } = await memberSocket(instanceA.url, clinic.professional.email);
    const adminCookie = await sessionCookie(instanceB.url, clinic.admin.email);
    const ended = disconnection(socket, AT_ONCE_MS);
    expect((await call(instanceB.url, 'DELETE', `/api/team/${clinic.professional.id}`, { cookie: adminCookie })).status).toBe(200);
    expect(await ended).toBe('io server disconnect');
  });

  it('revoking a key on B disconnects its socket on A', async () => {
    const { id, key } = await apiKey(clinic);
    const socket = track(await openSocket(instanceA.url, { token: key }));
    const adminCookie = await sessionCookie(instanceB.url, clinic.admin.email);
    const ended = disconnection(socket, AT_ONCE_MS);
    expect((await call(instanceB.url, 'DELETE', `/api/api-keys/${id}`, { cookie: adminCookie })).status).toBe(204);
    expect(await ended).toBe('io server disconnect');
  });
});
