/**
 * Outbox figures on real Postgres (`npx tsx bench/outbox.ts`; BENCH_DATABASE_URL overrides
 * postgres://postgres@127.0.0.1:5432/postgres). Creates and drops a database of its own.
 *   1. Relay throughput: a backlog of 20,000 events over 2,000 aggregates, drained by one relay
 *      (production defaults) to a no-op subscriber: events/s.
 *   2. Steady state: 8 writers publish for 5 s (10 events per transaction) while the relay runs:
 *      delivered events/s and lag (commit to handler) p50/p99.
 *   3. Realtime on one process: the whole API; a socket in the clinic room; 200 bookings one
 *      after another. Time from the HTTP answer (the commit is just before it) to the socket's
 *      `appointment:created`, and from the request being sent.
 */
import { randomUUID } from 'node:crypto';
import { io as connect } from 'socket.io-client';
import postgres from 'postgres';
import { pino } from 'pino';
import type { ServerToClientEvents } from '../shared/api/events.js';
import { clinics } from '../shared/schema/index.js';
import { loadConfig } from '../server/config.js';
import { createApp } from '../server/app.js';
import { openDatabase } from '../server/infra/db.js';
import { closeInfra, createInfra } from '../server/infra/index.js';
import { createLogger } from '../server/infra/logger.js';
import { Outbox } from '../server/infra/outbox.js';
import { createModules } from '../server/modules/index.js';
import { listeningPort, startServer } from '../server/http-server.js';

const BASE = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const name = `opb_bench_outbox_${Date.now().toString(36)}`;
const admin = postgres(BASE, { max: 1, onnotice: () => {} });
await admin.unsafe(`create database ${name}`);
const url = new URL(BASE);
url.pathname = `/${name}`;
const databaseUrl = url.toString();
const log = createLogger({ level: 'silent' });

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
};
const round = (x: number) => Math.round(x * 10) / 10;

try {
  const database = await openDatabase({ url: databaseUrl });
  await database.migrate();
  const [clinic] = await database.db.insert(clinics).values({ name: 'Bench' }).returning({ id: clinics.id });
  const clinicId = (clinic as { id: string }).id;
  const payload = (id: string) => ({ id, name: 'Paciente', phone: null, status: 'active' });

  // 1. Backlog drain.
  {
    const BACKLOG = 20_000;
    const aggregates = Array.from({ length: 2_000 }, () => randomUUID());
    let delivered = 0;
    const events = new Outbox(database, log);
    events.subscribe({ name: 'noop', events: ['contact.updated'], handle: () => void delivered++ });
    for (let t = 0; t < BACKLOG / 100; t++) {
      await database.db.transaction(async (tx) => {
        for (let i = 0; i < 100; i++) await events.publish(tx, 'contact.updated', payload(aggregates[(t * 100 + i) % aggregates.length] as string), { clinicId });
      });
    }
    const t0 = performance.now();
    events.start();
    while (delivered < BACKLOG) await new Promise((r) => setTimeout(r, 5));
    const seconds = (performance.now() - t0) / 1000;
    await events.stop();
    console.log(`backlog: ${BACKLOG} events over ${aggregates.length} aggregates drained in ${round(seconds)} s = ${Math.round(BACKLOG / seconds)} events/s`);
  }

  // 2. Steady state: writers and the relay together.
  {
    const lags: number[] = [];
    const events = new Outbox(database, log);
    events.subscribe({ name: 'noop-live', events: ['contact.updated'], handle: (e) => void lags.push(Date.now() - e.createdAt.getTime()) });
    events.start();
    let published = 0;
    const end = Date.now() + 5_000;
    const writer = async () => {
      while (Date.now() < end) {
        await database.db.transaction(async (tx) => {
          for (let i = 0; i < 10; i++) await events.publish(tx, 'contact.updated', payload(randomUUID()), { clinicId });
        });
        published += 10;
      }
    };
    const t0 = performance.now();
    await Promise.all(Array.from({ length: 8 }, writer));
    while (lags.length < published) await new Promise((r) => setTimeout(r, 5));
    const seconds = (performance.now() - t0) / 1000;
    await events.stop();
    console.log(`steady: ${published} events published and delivered in ${round(seconds)} s = ${Math.round(published / seconds)} events/s; lag p50 ${pct(lags, 50)} ms, p99 ${pct(lags, 99)} ms, max ${Math.max(...lags)} ms`);
  }
  await database.close();

  // 3. Realtime latency through the whole API on one process.
  {
    const config = loadConfig({ NODE_ENV: 'development', DATABASE_URL: databaseUrl, CORS_ORIGINS: 'http://bench.local', LOG_LEVEL: 'info', DATA_DIR: '/tmp/opb-bench' });
    const infra = await createInfra(config, createLogger({ level: 'info', destination: pino.destination({ dest: '/dev/null', sync: false }) }));
    const modules = createModules(infra);
    await infra.queue.start(modules.jobs);
    infra.events.start();
    const app = createApp({ infra, modules, rateLimits: { login: 1000, register: 1000, passwordReset: 1000, public: 100_000 } });
    const server = await startServer(infra, app, { port: 0, host: '127.0.0.1' });
    const base = `http://127.0.0.1:${listeningPort(server)}`;
    const headers = { 'content-type': 'application/json', origin: 'http://bench.local' };
    const reg = await fetch(`${base}/api/auth/register`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ clinicName: 'Bench RT', name: 'Dra. Bench', email: `rt-${Date.now()}@example.com`, password: 'bench-password-1' }),
    });
    const cookie = (reg.headers.get('set-cookie') ?? '').split(';')[0] as string;
    const call = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(`${base}${path}`, { method, headers: { ...headers, cookie }, body: body === undefined ? undefined : JSON.stringify(body) });
      if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
      return (await res.json()) as Record<string, unknown>;
    };
    const me = await call('GET', '/api/auth/me');
    const userId = (me.user as { id: string }).id;
    await call('PATCH', `/api/team/${userId}`, { isProfessional: true });
    const contact = await call('POST', '/api/contacts', { name: 'Paciente Bench', status: 'active' });
    const socket = connect(base, { transports: ['websocket'], extraHeaders: { cookie, origin: 'http://bench.local' }, reconnection: false, forceNew: true });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('connect_error', reject);
    });
    const seenAt = new Map<string, number>();
    socket.on('appointment:created', ((p: Parameters<ServerToClientEvents['appointment:created']>[0]) => seenAt.set(p.id, performance.now())) as never);
    const afterAnswer: number[] = [];
    const afterSend: number[] = [];
    const start = Date.parse('2031-01-06T08:00:00-03:00');
    for (let i = 0; i < 220; i++) {
      const sent = performance.now();
      const booked = await call('POST', '/api/appointments', { contactId: contact.id, professionalId: userId, startsAt: new Date(start + i * 30 * 60_000).toISOString(), durationMinutes: 30 });
      const answered = performance.now();
      const id = booked.id as string;
      while (!seenAt.has(id)) {
        if (performance.now() - answered > 5_000) throw new Error('socket event missing');
        await new Promise((r) => setImmediate(r));
      }
      if (i < 20) continue; // warm-up
      const seen = seenAt.get(id) as number;
      afterAnswer.push(seen - answered);
      afterSend.push(seen - sent);
    }
    socket.close();
    console.log(
      `realtime: appointment:created after the HTTP answer p50 ${round(pct(afterAnswer, 50))} ms, p99 ${round(pct(afterAnswer, 99))} ms; ` +
        `after the request was sent p50 ${round(pct(afterSend, 50))} ms, p99 ${round(pct(afterSend, 99))} ms (${afterAnswer.length} bookings)`,
    );
    await infra.realtime.close();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await closeInfra(infra);
  }
} finally {
  await admin.unsafe(`drop database if exists ${name} with (force)`);
  await admin.end();
}
