import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createTcpServer, type Socket } from 'node:net';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import request from 'supertest';
import { TEST_ORIGIN, buildTestApp, type TestApp } from '../helpers/app.js';
import { PASSWORD, anonymous, createClinic, type TestClinic } from '../helpers/clinic.js';
import { freePort } from '../../scripts/lib/free-port.js';
import { messages } from '../../shared/schema/index.js';
import { createLogger } from '../../server/infra/logger.js';
import { Realtime } from '../../server/infra/realtime.js';
import { connectRedis, createRedis } from '../../server/infra/redis.js';
import { createPatient } from '../helpers/scheduling.js';
import { canRun } from '../helpers/skip.js';
import { until } from '../helpers/until.js';
import { createNumber, deliver, textMessage, type TestNumber } from '../helpers/whatsapp-webhooks.js';
import { listen, nextEvent, openSocket, sessionCookie, type RunningServer } from '../helpers/server.js';

/**
 * A Redis of our own (so it can be stopped and started again), on a free port; skipped where no
 * redis-server binary exists.
 */
const hasRedis = spawnSync('redis-server', ['--version']).status === 0;


async function startRedis(port: number): Promise<ChildProcess> {
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'ignore'] });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('Ready to accept connections')) resolve();
    });
    child.on('exit', (code) => reject(new Error(`redis-server exited ${code}: ${out}`)));
  });
  return child;
}

async function stopRedis(child: ChildProcess) {
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}


describe.runIf(canRun('when Redis goes away and comes back', hasRedis, 'needs the redis-server binary (apt-get install -y redis-server)'))('when Redis goes away and comes back', () => {
  let port: number;
  let redis: ChildProcess;
  let app: TestApp;
  let clinic: TestClinic;
  let key: string;
  let writeKey: string;
  let contactId: string;
  let number: TestNumber;

  beforeAll(async () => {
    port = await freePort();
    redis = await startRedis(port);
    app = await buildTestApp({ env: { REDIS_URL: `redis://127.0.0.1:${port}` }, rateLimits: { login: 50, register: 50, passwordReset: 50, public: 50 } });
    clinic = await createClinic({ app });
    key = (await clinic.admin.agent.post('/api/api-keys').send({ name: 'n8n', scopes: ['clinic:read'] })).body.key;
    writeKey = (await clinic.admin.agent.post('/api/api-keys').send({ name: 'agenda', scopes: ['appointments:write'] })).body.key;
    contactId = await createPatient(clinic);
    number = await createNumber(app, clinic.id);
  });
  afterAll(async () => {
    // Workers close cleanly only with Redis there.
    if (redis && (redis.exitCode !== null || redis.signalCode !== null)) redis = await startRedis(port);
    await app?.close();
    if (redis?.exitCode === null) await stopRedis(redis);
  });

  const ready = () => request(app.app).get('/api/health/ready');
  const withKey = () => request(app.app).get('/api/clinic').set('Authorization', `Bearer ${key}`);
  const bookWithKey = (idempotencyKey: string) =>
    request(app.app)
      .post('/api/appointments')
      .set('Authorization', `Bearer ${writeKey}`)
      .set('Idempotency-Key', idempotencyKey)
      .send({ professionalId: clinic.professional.id, contactId, startsAt: '2030-04-08T10:00:00-03:00', durationMinutes: 30 });

  it('keeps answering, reports it in readiness, and recovers by itself', async () => {
    expect(app.infra.cache.constructor.name).toBe('RedisCache');
    expect((await ready()).status).toBe(200);
    expect((await withKey()).status).toBe(200);
    const booked = await bookWithKey('booking-before-outage');
    expect(booked.status).toBe(201);

    await stopRedis(redis);

    const down = await ready();
    expect(down.status).toBe(503);
    expect(down.body.checks.redis.ok).toBe(false);
    expect(down.body.checks.database.ok).toBe(true);
    // Cache misses fall through to the database; rate limits let requests pass.
    const keyed = await withKey();
    expect(keyed.status).toBe(200);
    expect(keyed.body.id).toBe(clinic.id);
    expect((await anonymous(app).get(`/api/public/invitations/${'t'.repeat(43)}`)).status).toBe(404);
    expect((await request(app.app).get('/api/health')).status).toBe(200);
    // Idempotency keys live in the database: a retry during the outage gets the first answer, no second booking.
    const retried = await bookWithKey('booking-before-outage');
    expect(retried.status).toBe(201);
    expect(retried.body.id).toBe(booked.body.id);
    expect(retried.headers['idempotent-replayed']).toBe('true');
    // Sessions live in Redis: a signed-in request is refused quickly and clearly, not hung or a 500.
    const session = await clinic.receptionist.agent.get('/api/team');
    expect(session.status).toBe(503);
    expect(session.body.error.code).toBe('session_store_unavailable');
    const login = await anonymous(app).post('/api/auth/login').send({ email: clinic.receptionist.email, password: PASSWORD });
    expect(login.status).toBe(503);
    const t0 = Date.now();
    const reset = await anonymous(app).post('/api/auth/password-reset').send({ email: clinic.admin.email }).timeout(8000);
    expect(reset.status, JSON.stringify(reset.body)).toBe(503);
    expect(reset.body.error.code).toBe('queue_unavailable');
    expect(Date.now() - t0).toBeLessThan(5000);
    // An Evolution webhook is stored in Postgres before its 200, queue or not: Evolution will not send it again.
    const webhook = textMessage(number, 'Mensagem durante a queda do Redis');
    const acknowledged = await deliver(app, number, webhook);
    expect(acknowledged.status, JSON.stringify(acknowledged.body)).toBe(200);
    const stored = () => app.infra.db.select({ id: messages.id }).from(messages).where(eq(messages.externalId, webhook.data.key.id));

    // Restarted empty (no persistence), as a Redis that was killed: jobs and schedulers are gone.
    redis = await startRedis(port);
    await until(async () => (await ready()).status === 200);
    expect((await withKey()).status).toBe(200);
    // The sessions went with that Redis; signing in again works.
    const again = await anonymous(app).post('/api/auth/login').send({ email: clinic.receptionist.email, password: PASSWORD });
    expect(again.status).toBe(200);
    // The queue works again: a job added now is delivered by the reconnected worker.
    expect((await anonymous(app).post('/api/auth/password-reset').send({ email: clinic.admin.email })).status).toBe(202);
    expect((await app.mail.waitFor(clinic.admin.email, 20_000)).text).toContain('redefinir-senha?token=');
    // The sweep (a repeatable job, rescheduled on the empty Redis) queues the stored delivery: the message lands, once.
    await until(async () => (await stored()).length === 1, 20_000, 100);
    expect((await deliver(app, number, webhook)).body.duplicate).toBe(true);
    expect(await stored()).toHaveLength(1);
  }, 60_000);
});

describe.runIf(canRun('Socket.IO across instances through Redis', hasRedis, 'needs the redis-server binary'))('Socket.IO across instances when Redis goes away and comes back', () => {
  let port: number;
  let redis: ChildProcess;
  let apps: TestApp[];
  let servers: RunningServer[];

  beforeAll(async () => {
    port = await freePort();
    redis = await startRedis(port);
    apps = await Promise.all([0, 1].map(() => buildTestApp({ env: { REDIS_URL: `redis://127.0.0.1:${port}` } })));
    servers = await Promise.all(apps.map((a) => listen(a)));
  });
  afterAll(async () => {
    if (redis && (redis.exitCode !== null || redis.signalCode !== null)) redis = await startRedis(port);
    await Promise.all((servers ?? []).map((s) => s.close()));
    if (redis?.exitCode === null) await stopRedis(redis);
  });

  it('an event of instance B reaches a client of instance A again once the adapter has reconnected', async () => {
    const [a, b] = servers as [RunningServer, RunningServer];
    const clinic = await createClinic({ app: apps[0] });
    const cookie = await sessionCookie(a.url, clinic.admin.email);
    const socket = await openSocket(a.url, { origin: TEST_ORIGIN, cookie });
    const rename = (name: string, as = cookie) => fetch(`${b.url}/api/clinic`, { method: 'PATCH', headers: { cookie: as, origin: TEST_ORIGIN, 'content-type': 'application/json' }, body: JSON.stringify({ name }) });
    try {
      const before = nextEvent(socket, 'clinic:updated');
      expect((await rename('Antes da queda')).status).toBe(200);
      expect(await before).toMatchObject({ name: 'Antes da queda' });

      await stopRedis(redis);
      redis = await startRedis(port);
      // Sessions went with that Redis: sign in again (through B), then B's events travel to A's socket again.
      let again = '';
      await until(async () => {
        again = await sessionCookie(b.url, clinic.admin.email).catch(() => '');
        return again !== '';
      }, 20_000, 200);
      await until(async () => {
        const after = nextEvent(socket, 'clinic:updated', 1000).catch(() => undefined);
        expect((await rename('Depois da queda', again)).status).toBe(200);
        return (await after) !== undefined;
      }, 20_000, 200);
      expect(socket.connected).toBe(true);
    } finally {
      socket.close();
    }
  }, 60_000);
});

describe.runIf(canRun('closing Socket.IO while Redis reconnects', hasRedis, 'needs the redis-server binary'))('closing Socket.IO while its Redis reconnects', () => {
  it('leaves no unhandled rejection from the adapter unsubscribing', async () => {
    const port = await freePort();
    const redis = await startRedis(port);
    const client = createRedis(`redis://127.0.0.1:${port}`, createLogger({ level: 'silent' }), 'test');
    await connectRedis(client);
    const realtime = new Realtime();
    realtime.attach(createHttpServer(), { identify: async () => null, isAllowedOrigin: () => true, redis: client, log: createLogger({ level: 'silent' }) });
    await until(async () => Number(await client.call('PUBSUB', 'NUMPAT')) > 0);

    // Redis gone, and in its place a port that accepts and never answers: the subscriber stays "connecting".
    await stopRedis(redis);
    const held: Socket[] = [];
    const silent = createTcpServer((socket) => void held.push(socket.resume()));
    await new Promise<void>((resolve) => silent.listen(port, '127.0.0.1', resolve));
    await until(async () => held.length >= 2, 10_000, 20);

    const rejections: unknown[] = [];
    const onRejection = (reason: unknown) => void rejections.push(reason);
    process.on('unhandledRejection', onRejection);
    try {
      await realtime.close();
      client.disconnect();
      // Both clients' sockets closed: ioredis has flushed what was queued on them.
      await until(async () => held.every((socket) => socket.closed), 10_000, 20);
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(rejections.map((r) => String(r))).toEqual([]);
    } finally {
      process.off('unhandledRejection', onRejection);
      for (const socket of held) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  }, 30_000);
});
