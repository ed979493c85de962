/**
 * WhatsApp webhook ingest, end to end, on real Postgres and Redis (`npx tsx bench/whatsapp-ingest.ts`;
 * BENCH_DATABASE_URL / BENCH_REDIS_URL, else TEST_DATABASE_URL / TEST_REDIS_URL, else the local
 * servers; skipped with a message when they cannot be reached). One app process (BullMQ queues):
 * signed `messages.upsert` POST -> 200 ack -> integrations.webhook job -> message stored -> the
 * `message.received` domain event delivered to a subscriber.
 *   1. Ack latency at a fixed 500 msg/s, evenly spaced (an open loop: p50/p99 from each request's due time).
 *   2. Sustained throughput with 5 % duplicate deliveries: messages stored and their event
 *      delivered per second, counted until the last event arrives (the queue is drained).
 *   3. Baseline in the same run: a minimal Express route doing one `INSERT ... ON CONFLICT DO
 *      NOTHING` of the same row, at the same concurrency; the ratio is 2 / 3.
 * BENCH_DURATION (seconds per phase, default 10; `--full` = 60); BENCH_POOL_MAX (the app's pool, default 10). The load generator (autocannon)
 * runs in a child process (bench/lib/webhook-load.ts), as Evolution is another host. Load-independent figures
 * beside them: SQL statements per delivery (every statement the app's postgres.js client sends,
 * counted through its `debug` hook: acks, drains, the outbox and its subscribers) and this
 * process's CPU per message, for the app and the baseline alike.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { fork } from 'node:child_process';
import { createServer } from 'node:http';
import os from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import express from 'express';
import { Redis } from 'ioredis';
import { SignJWT } from 'jose';
import postgres from 'postgres';
import { pino } from 'pino';
import { clinics, whatsappNumbers } from '../shared/schema/index.js';
import { loadConfig } from '../server/config.js';
import { createApp } from '../server/app.js';
import { closeInfra, createInfra } from '../server/infra/index.js';
import { createLogger } from '../server/infra/logger.js';
import { createModules } from '../server/modules/index.js';
import { listeningPort, startServer } from '../server/http-server.js';
import { dropRedisKeys } from './lib/redis-keys.js';
import type { LoadResult, LoadRun, Target } from './lib/webhook-load.js';

const DB = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const REDIS = process.env.BENCH_REDIS_URL ?? process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const SECONDS = process.argv.includes('--full') ? 60 : Number(process.env.BENCH_DURATION ?? 10);
const CONNECTIONS = 32;
const DUPLICATES = 0.05;
const SENDERS = 500;
/** Clinics (a number each) the senders are spread over: BENCH_NUMBERS, default 1 (each clinic has a drain of its own). */
const NUMBERS = Number(process.env.BENCH_NUMBERS ?? 1);
const BASELINE_NUMBER = randomUUID();

const round = (x: number) => Math.round(x * 10) / 10;
const load = () => os.loadavg().map((l) => l.toFixed(1)).join(' ');
/** CPU (user + system) this process spent, ms. */
const cpuMs = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};

async function reachable(): Promise<string | undefined> {
  try {
    const sql = postgres(DB, { max: 1, connect_timeout: 3, onnotice: () => {} });
    await sql`select 1`;
    await sql.end();
  } catch {
    return `Postgres at ${DB} is not reachable`;
  }
  const redis = new Redis(REDIS, { lazyConnect: true, connectTimeout: 3000, maxRetriesPerRequest: 0 });
  try {
    await redis.connect();
    await redis.ping();
  } catch {
    return `Redis at ${REDIS} is not reachable`;
  } finally {
    redis.disconnect();
  }
  return undefined;
}

const unreachable = await reachable();
if (unreachable) {
  console.log(`skipped: ${unreachable} (set BENCH_DATABASE_URL and BENCH_REDIS_URL, or TEST_DATABASE_URL and TEST_REDIS_URL)`);
  process.exit(0);
}

const dbName = `opb_bench_wa_${Date.now().toString(36)}`;
const admin = postgres(DB, { max: 1, onnotice: () => {} });
await admin.unsafe(`create database ${dbName}`);
const url = new URL(DB);
url.pathname = `/${dbName}`;
const prefix = `opb-bench-wa-${Date.now().toString(36)}:`;
const TEMPLATE = new URL('../test/fixtures/evolution/webhook.messages.upsert.text.json', import.meta.url);

try {
  const config = loadConfig({ NODE_ENV: 'development', DATABASE_POOL_MAX: process.env.BENCH_POOL_MAX ?? '10', DATABASE_URL: url.toString(), REDIS_URL: REDIS, REDIS_PREFIX: prefix, CORS_ORIGINS: 'http://bench.local', LOG_LEVEL: 'info', DATA_DIR: '/tmp/opb-bench-wa' });
  const infra = await createInfra(config, createLogger({ level: 'info', destination: pino.destination({ dest: '/dev/null', sync: false }) }));
  // Every statement the app sends: postgres.js calls `debug` once per query it writes (its options object is shared by its connections).
  let statements = 0;
  (infra.db as unknown as { $client: { options: { debug: unknown } } }).$client.options.debug = () => void statements++;
  const modules = createModules(infra);
  const delivered = new Map<string, number>();
  infra.events.subscribe({ name: 'bench-received', events: ['message.received'], handle: (e) => void delivered.set((e.payload as { externalId: string }).externalId, performance.now()) });
  await infra.queue.start(modules.jobs);
  infra.events.start();
  const app = createApp({ infra, modules, rateLimits: { login: 1000, register: 1000, passwordReset: 1000, public: 100_000, changePassword: 1000 } });
  const server = await startServer(infra, app, { port: 0, host: '127.0.0.1' });
  const base = `http://127.0.0.1:${listeningPort(server)}`;

  // NUMBERS clinics with a number each, every sender writing to one of them (one process serves many clinics).
  const targets: Target[] = [];
  for (let n = 0; n < NUMBERS; n++) {
    const [clinic] = await infra.db.insert(clinics).values({ name: `Bench WhatsApp ${n + 1}` }).returning({ id: clinics.id });
    const secret = randomBytes(32).toString('base64url');
    const instance = `bench-${randomUUID().slice(0, 8)}`;
    const connection = await modules.services.integrations.connections.create(clinic!.id, { provider: 'evolution', credentials: { webhookSecret: secret, instanceToken: randomUUID() }, webhook: true });
    await infra.db.insert(whatsappNumbers).values({ clinicId: clinic!.id, connectionId: connection.id, instanceName: instance, state: 'open' });
    // One token per number for the run (Evolution signs each call; verifying is the server's cost either way).
    const jwt = await new SignJWT({ app: 'evolution', action: 'webhook' }).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).setIssuedAt().setExpirationTime('2h').sign(new TextEncoder().encode(secret));
    targets.push({ instance, path: `/api/webhooks/evolution/${connection.webhookRef}`, authorization: `Bearer ${jwt}` });
  }

  // The load generator is a child process (bench/lib/webhook-load.ts) that keeps the sent ids across phases.
  const generator = fork(fileURLToPath(new URL('./lib/webhook-load.ts', import.meta.url)), [], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, TEMPLATE: fileURLToPath(TEMPLATE), SENDERS: String(SENDERS), DUPLICATES: String(DUPLICATES) },
  });
  const replies: ((m: LoadResult | 'ready') => void)[] = [];
  generator.on('message', (m: LoadResult | 'ready') => replies.shift()?.(m));
  const reply = () => new Promise<LoadResult | 'ready'>((resolve) => replies.push(resolve));
  await reply();
  const run = async (opts: Omit<LoadRun, 'url'> & { url?: string }, phase: string) => {
    const answered = reply();
    generator.send({ url: base, targets, ...opts } satisfies LoadRun);
    const r = (await answered) as LoadResult;
    if (r.failures) throw new Error(`${phase}: ${r.failures}`);
    return r;
  };
  const drain = async (unique: number) => {
    const deadline = Date.now() + 120_000;
    while (delivered.size < unique && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  };

  // Warm-up: connections, JIT, every sender's lead created once (so the phases measure known senders).
  let sent = await run({ connections: 8, amount: Math.ceil(SENDERS * 1.2) }, 'warm-up');
  await drain(sent.unique);

  console.log(`${NUMBERS} clinic(s) with a number each, ${SENDERS} senders; load average at start: ${load()}`);
  // 1. Ack latency at 500 msg/s.
  {
    const statementsBefore = statements;
    const loop = monitorEventLoopDelay({ resolution: 5 });
    loop.enable();
    const r = await run({ duration: SECONDS, connections: CONNECTIONS, overallRate: 500 }, 'rate phase');
    loop.disable();
    sent = r;
    await drain(sent.unique);
    console.log(
      `ack at 500 msg/s: ${r.total} deliveries in ${SECONDS} s, ack p50 ${r.p50} ms, p99 ${r.p99} ms, max ${r.max} ms; ` +
        `event-loop delay p99 ${round(loop.percentile(99) / 1e6)} ms, max ${round(loop.max / 1e6)} ms; ` +
        `${round((statements - statementsBefore) / r.total)} statements per delivery end to end`,
    );
  }

  // 2. Sustained, end to end, 5 % duplicates.
  let ingestRate = 0;
  {
    const before = delivered.size;
    const uniqueBefore = sent.unique;
    const statementsBefore = statements;
    const cpuBefore = cpuMs();
    const t0 = performance.now();
    const r = await run({ duration: SECONDS, connections: CONNECTIONS }, 'throughput phase');
    sent = r;
    const loadEnd = performance.now();
    await drain(sent.unique);
    const cpu = cpuMs() - cpuBefore;
    const unique = sent.unique - uniqueBefore;
    const stored = delivered.size - before;
    const last = Math.max(...[...delivered.values()]);
    const seconds = (last - t0) / 1000;
    ingestRate = stored / seconds;
    const [{ n }] = (await infra.db.execute(`select count(*)::int as n from messages`)) as unknown as [{ n: number }];
    console.log(
      `sustained: ${r.total} deliveries (${r.duplicates} duplicates) in ${SECONDS} s = ${Math.round(r.total / SECONDS)} acks/s (ack p99 ${r.p99} ms); ` +
        `${stored} of ${unique} new messages stored and delivered as events in ${round(seconds)} s = ${Math.round(ingestRate)} msg/s end to end ` +
        `(queue drained ${round((last - loadEnd) / 1000)} s after the load); ${n} message rows in all, duplicates stored once; ` +
        `${round((statements - statementsBefore) / r.total)} statements per delivery, ${(cpu / r.total).toFixed(2)} ms CPU per delivery (the app's process)`,
    );
  }

  // 3. Baseline: one INSERT ... ON CONFLICT DO NOTHING of the same row per request.
  {
    const sql = postgres(url.toString(), { max: 10, onnotice: () => {} });
    await sql`create table bench_baseline (number_id uuid not null, external_id text not null, remote_jid text, text text, sent_at timestamptz, primary key (number_id, external_id))`;
    const baseline = express();
    baseline.post('/baseline', express.raw({ type: () => true, limit: '1mb' }), async (req, res) => {
      const b = JSON.parse((req.body as Buffer).toString('utf8')) as { data: { key: { id: string; remoteJid: string }; message: { conversation: string }; messageTimestamp: number } };
      await sql`insert into bench_baseline values (${BASELINE_NUMBER}, ${b.data.key.id}, ${b.data.key.remoteJid}, ${b.data.message.conversation}, ${new Date(b.data.messageTimestamp * 1000)}) on conflict do nothing`;
      res.json({ received: true });
    });
    const http = createServer(baseline);
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', () => resolve()));
    const port = (http.address() as { port: number }).port;
    const cpuBefore = cpuMs();
    const r = await run({ duration: SECONDS, connections: CONNECTIONS, url: `http://127.0.0.1:${port}/baseline`, targets: undefined }, 'baseline');
    const cpu = cpuMs() - cpuBefore;
    const rate = r.total / SECONDS;
    console.log(`baseline (Express + one INSERT ... ON CONFLICT DO NOTHING): ${Math.round(rate)} req/s, p99 ${r.p99} ms, ${(cpu / r.total).toFixed(2)} ms CPU per request`);
    console.log(`ratio: end-to-end ingest ${Math.round(ingestRate)} msg/s = ${round((ingestRate / rate) * 100)} % of the baseline`);
    http.close();
    await sql.end();
  }

  generator.kill();
  await infra.realtime.close();
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await closeInfra(infra);
} finally {
  await admin.unsafe(`drop database if exists ${dbName} with (force)`);
  await admin.end();
  await dropRedisKeys(REDIS, prefix);
  console.log(`load average at end: ${load()}`);
}
