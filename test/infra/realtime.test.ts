import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp, TEST_ORIGIN, type TestApp } from '../helpers/app.js';
import { createClinic, type TestClinic } from '../helpers/clinic.js';
import { collect, listen, nextEvent, openSocket, sessionCookie, type ClientSocket, type RunningServer } from '../helpers/server.js';
import { withRedis } from '../helpers/skip.js';

const sockets: ClientSocket[] = [];
const track = (socket: ClientSocket) => (sockets.push(socket), socket);

afterAll(() => {
  for (const socket of sockets) socket.close();
});

describe('Socket.IO on the API port', () => {
  let app: TestApp;
  let running: RunningServer;
  let a: TestClinic;
  let b: TestClinic;

  beforeAll(async () => {
    app = await buildTestApp();
    running = await listen(app);
    [a, b] = await Promise.all([createClinic({ app }), createClinic({ app })]);
  });
  afterAll(() => running.close());

  it('refuses an anonymous socket', async () => {
    await expect(openSocket(running.url, { origin: TEST_ORIGIN })).rejects.toThrow('unauthorized');
  });

  it('refuses a socket whose cookie is not a valid session', async () => {
    await expect(openSocket(running.url, { origin: TEST_ORIGIN, cookie: 'opb.sid=s%3Aforged.signature' })).rejects.toThrow('unauthorized');
  });

  it('delivers a clinic event caused by a REST call to that clinic only', async () => {
    const mine = track(await openSocket(running.url, { origin: TEST_ORIGIN, cookie: await sessionCookie(running.url, a.receptionist.email) }));
    const other = track(await openSocket(running.url, { origin: TEST_ORIGIN, cookie: await sessionCookie(running.url, b.admin.email) }));
    const otherSaw = collect(other, 'clinic:updated');
    const received = nextEvent(mine, 'clinic:updated');

    const res = await a.admin.agent.patch('/api/clinic').send({ name: 'Clínica Renomeada' });
    expect(res.status).toBe(200);
    expect(await received).toEqual({ id: a.id, name: 'Clínica Renomeada', timezone: 'America/Sao_Paulo' });

    // B's socket is open and healthy: an event of its own clinic reaches it, A's never did.
    const own = nextEvent(other, 'test:ping');
    await b.admin.agent.post('/api/test/ping').expect(200);
    await own;
    expect(otherSaw).toEqual([]);
  });

  it('accepts an API key in auth.token and joins the key’s clinic', async () => {
    const created = await a.admin.agent.post('/api/api-keys').send({ name: 'n8n', scopes: ['clinic:read'] });
    expect(created.status).toBe(201);
    const socket = track(await openSocket(running.url, { token: created.body.key as string }));
    const ping = nextEvent(socket, 'test:ping');
    await a.receptionist.agent.post('/api/test/ping').expect(200);
    expect((await ping).by).toBe(String(process.pid));
  });

  it('refuses an invalid or revoked API key', async () => {
    await expect(openSocket(running.url, { token: 'opb_not-a-real-key' })).rejects.toThrow('unauthorized');
    const created = await a.admin.agent.post('/api/api-keys').send({ name: 'old', scopes: ['clinic:read'] });
    await a.admin.agent.delete(`/api/api-keys/${created.body.id as string}`).expect(204);
    await expect(openSocket(running.url, { token: created.body.key as string })).rejects.toThrow('unauthorized');
  });

  it('refuses a cookie-carrying handshake from a foreign Origin', async () => {
    const cookie = await sessionCookie(running.url, a.admin.email);
    await expect(openSocket(running.url, { origin: 'https://evil.example', cookie })).rejects.toThrow();
    // The same cookie from the allowed origin works, so the refusal is the Origin's doing.
    track(await openSocket(running.url, { origin: TEST_ORIGIN, cookie }));
  });

  it('counts open sockets in the metrics', async () => {
    track(await openSocket(running.url, { origin: TEST_ORIGIN, cookie: await sessionCookie(running.url, a.professional.email) }));
    const metrics = await fetch(`${running.url}/metrics`).then((r) => r.text());
    const open = /^\S*websocket\S*\s+(\d+)$/m.exec(metrics);
    expect(Number(open?.[1])).toBeGreaterThanOrEqual(1);
  });
});

describe.runIf(withRedis('realtime: two instances on one Redis'))('two instances on one Redis', () => {
  let first: TestApp;
  let second: TestApp;
  let instanceA: RunningServer;
  let instanceB: RunningServer;

  beforeAll(async () => {
    [first, second] = await Promise.all([buildTestApp(), buildTestApp()]);
    [instanceA, instanceB] = await Promise.all([listen(first), listen(second)]);
  });
  afterAll(async () => {
    await Promise.all([instanceA.close(), instanceB.close()]);
  });

  it('a client on instance A receives the event of a request made to instance B with the same session', async () => {
    const clinic = await createClinic({ app: first });
    const cookie = await sessionCookie(instanceA.url, clinic.admin.email);
    const socket = track(await openSocket(instanceA.url, { origin: TEST_ORIGIN, cookie }));
    const received = nextEvent(socket, 'clinic:updated');

    // The session created on A is found by B in the shared Redis session store.
    const res = await fetch(`${instanceB.url}/api/clinic`, {
      method: 'PATCH',
      headers: { cookie, origin: TEST_ORIGIN, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Via instância B' }),
    });
    expect(res.status).toBe(200);
    expect(await received).toMatchObject({ id: clinic.id, name: 'Via instância B' });
  });
});
