import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { io as connect, type Socket } from 'socket.io-client';
import { identifySocket } from '../../server/http/socket-auth.js';
import { TEST_ORIGIN, buildTestApp, type TestApp } from '../helpers/app.js';
import { PASSWORD, anonymous, createClinic } from '../helpers/clinic.js';

let app: TestApp;
let server: Server;
let url: string;
const sockets: Socket[] = [];

beforeAll(async () => {
  app = await buildTestApp();
  server = createServer(app.app);
  app.infra.realtime.attach(server, {
    sessionMiddleware: app.sessionMiddleware,
    identify: identifySocket(app.authenticator, app.infra.log),
    isAllowedOrigin: app.isAllowedOrigin,
    redis: app.infra.redis,
    log: app.infra.log,
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  for (const s of sockets) s.disconnect();
  await app.close();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

/** Connects and resolves with the socket, or rejects with the server's refusal. */
function open(opts: { cookie?: string; origin?: string; token?: string }): Promise<Socket> {
  const socket = connect(url, {
    transports: ['websocket'],
    reconnection: false,
    extraHeaders: { ...(opts.cookie ? { cookie: opts.cookie } : {}), ...(opts.origin ? { origin: opts.origin } : {}) },
    ...(opts.token ? { auth: { token: opts.token } } : {}),
  });
  sockets.push(socket);
  return new Promise((resolve, reject) => {
    socket.on('connect', () => resolve(socket));
    socket.on('connect_error', (err) => reject(err));
  });
}

async function sessionCookie(email: string) {
  const res = await anonymous(app).post('/api/auth/login').send({ email, password: PASSWORD });
  return String(res.headers['set-cookie']).split(';')[0] as string;
}

const nextEvent = <T>(socket: Socket, event: string, timeoutMs = 3000) =>
  new Promise<T | 'none'>((resolve) => {
    const timer = setTimeout(() => resolve('none'), timeoutMs);
    socket.once(event, (payload: T) => {
      clearTimeout(timer);
      resolve(payload);
    });
  });

describe('Socket.IO', () => {
  it('refuses anonymous sockets and revoked or unknown keys', async () => {
    await expect(open({ origin: TEST_ORIGIN })).rejects.toThrow(/unauthorized/);
    await expect(open({ token: 'opb_nao-existe' })).rejects.toThrow(/unauthorized/);
  });

  it('refuses a cookie handshake from a foreign page', async () => {
    const clinic = await createClinic({ app });
    const cookie = await sessionCookie(clinic.receptionist.email);
    await expect(open({ cookie, origin: 'https://evil.com' })).rejects.toThrow();
  });

  it('a signed-in member receives their clinic’s events, and only theirs', async () => {
    const [clinic, other] = await Promise.all([createClinic({ app }), createClinic({ app })]);
    const mine = await open({ cookie: await sessionCookie(clinic.receptionist.email), origin: TEST_ORIGIN });
    const { key } = (await other.admin.agent.post('/api/api-keys').send({ name: 'socket', scopes: ['clinic:read'] })).body;
    const theirs = await open({ token: key });

    const gotMine = nextEvent<{ userId: string; role: string }>(mine, 'team:updated');
    const gotTheirs = nextEvent(theirs, 'team:updated', 1000);
    expect((await clinic.admin.agent.patch(`/api/team/${clinic.professional.id}`).send({ isProfessional: true, role: 'admin' })).status).toBe(200);
    expect(await gotMine).toMatchObject({ userId: clinic.professional.id, role: 'admin' });
    expect(await gotTheirs).toBe('none');

    const upload = nextEvent<{ id: string; filename: string }>(theirs, 'file:created');
    const file = await other.admin.agent.post('/api/files').attach('file', Buffer.from('oi'), { filename: 'a.txt', contentType: 'text/plain' });
    expect(await upload).toMatchObject({ id: file.body.id, filename: 'a.txt' });
  });
});
