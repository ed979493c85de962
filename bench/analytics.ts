/**
 * Analytics dashboard on real Postgres (`npx tsx bench/analytics.ts`; BENCH_DATABASE_URL, else
 * TEST_DATABASE_URL, else postgres://postgres@127.0.0.1:5432/test; creates and drops its own
 * database). A clinic with 100,000 appointments over two years (10 professionals, 5,000
 * patients), 60,000 WhatsApp messages and 5,000 opportunities; GET /api/analytics/dashboard for a
 * one-year range as an admin (every report, revenue included):
 *   - cold: 30 different one-year ranges, each computed (nothing cached): target p95 < 300 ms;
 *   - cached: one range asked 300 times: target p95 < 20 ms;
 * beside GET /api/clinic (session + one select) in the same run, for the host's scale. Once with
 * the in-memory cache and sessions, once with Redis (BENCH_REDIS_URL, else TEST_REDIS_URL, else
 * the local one; keys under a prefix of their own, removed at the end), as in production.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import postgres, { type Sql } from 'postgres';
import { loadConfig } from '../server/config.js';
import { createApp } from '../server/app.js';
import { openDatabase } from '../server/infra/db.js';
import { closeInfra, createInfra } from '../server/infra/index.js';
import { createLogger } from '../server/infra/logger.js';
import { createModules } from '../server/modules/index.js';
import { hashPassword } from '../server/modules/auth/passwords.js';
import { addDays } from '../server/lib/zoned-time.js';
import { signedInTimer } from './lib/timed-get.js';
import { dropRedisKeys } from './lib/redis-keys.js';

const BASE = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const REDIS_URL = process.env.BENCH_REDIS_URL ?? process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const PASSWORD = 'senha-de-benchmark-123';
const ORIGIN = 'http://bench.local';

/** Everything in SQL: 100,000 appointments, 14 a day per professional at most, none overlapping. */
async function seed(sql: Sql) {
  const hash = await hashPassword(PASSWORD);
  const run = Date.now().toString(36);
  const email = `admin-${run}@bench.local`;
  const [clinic] = await sql`insert into clinics (name, timezone) values ('Clínica Analytics', 'America/Sao_Paulo') returning id`;
  const clinicId = clinic!.id as string;
  const [admin] = await sql`insert into users (name, email, password_hash) values ('Admin', ${email}, ${hash}) returning id`;
  await sql`insert into clinic_memberships (clinic_id, user_id, role) values (${clinicId}, ${admin!.id}, 'admin')`;
  await sql`
    with u as (insert into users (name, email, password_hash) select 'Dra. ' || p, 'prof' || p || '-' || ${run} || '@bench.local', ${hash} from generate_series(0, 9) p returning id)
    insert into clinic_memberships (clinic_id, user_id, role, is_professional) select ${clinicId}::uuid, id, 'professional', true from u`;
  await sql`insert into contacts (clinic_id, name, status) select ${clinicId}::uuid, 'Paciente ' || i, 'active' from generate_series(1, 5000) i`;
  const pros = sql`(select array_agg(user_id order by user_id) from clinic_memberships where clinic_id = ${clinicId} and is_professional)`;
  const patients = sql`(select id, row_number() over (order by id) - 1 as rn from contacts where clinic_id = ${clinicId})`;
  await sql`
    insert into appointments (clinic_id, contact_id, professional_id, starts_at, ends_at, status, price_cents, payment_status)
    select ${clinicId}::uuid, c.id, (${pros})[1 + (i % 137) % 10], s.at, s.at + interval '30 minutes',
      (case when i % 20 = 0 then 'cancelled' when i % 20 = 1 then 'no_show' when i % 20 < 4 then 'scheduled' when i % 20 < 6 then 'confirmed' else 'completed' end)::appointment_status,
      15000 + (i % 5) * 5000, (case when i % 3 = 0 then 'pending' else 'paid' end)::payment_status
    from generate_series(0, 99999) i
    cross join lateral (select ((date '2025-01-01' + (i / 137) * 730 / 730) + time '08:00' + ((i % 137) / 10) * interval '30 minutes') at time zone 'America/Sao_Paulo' as at) s
    join ${patients} c on c.rn = i % 5000`;
  const [connection] = await sql`insert into integration_connections (clinic_id, provider, label, config) values (${clinicId}, 'evolution', 'Recepção', '{}') returning id`;
  const [number] = await sql`insert into whatsapp_numbers (clinic_id, connection_id, instance_name, state) values (${clinicId}, ${connection!.id}, ${`bench-${run}`}, 'open') returning id`;
  await sql`insert into conversations (clinic_id, number_id, contact_id) select ${clinicId}::uuid, ${number!.id}, id from contacts where clinic_id = ${clinicId}`;
  const convs = sql`(select id, row_number() over (order by id) - 1 as rn from conversations where clinic_id = ${clinicId})`;
  await sql`
    insert into messages (clinic_id, conversation_id, number_id, direction, sender, author_user_id, type, text, status, sent_at)
    select ${clinicId}::uuid, c.id, ${number!.id}, (case when seq % 2 = 0 then 'inbound' else 'outbound' end)::message_direction,
      (case when seq % 2 = 0 then 'contact' when c.rn % 3 = 0 then 'ai' when c.rn % 3 = 1 then 'user' else 'phone' end)::message_sender,
      case when seq % 2 = 1 and c.rn % 3 = 1 then (${pros})[1 + c.rn % 10] end, 'text', 'Olá', 'read',
      timestamptz '2025-01-01 09:00-03' + (seq / 2) * interval '120 days' + c.rn * interval '3 minutes' + (seq % 2) * interval '7 minutes'
    from generate_series(0, 11) seq cross join ${convs} c`;
  await sql`
    insert into pipeline_stages (clinic_id, name, color, sort_order, default_key)
    select ${clinicId}::uuid, n, '#888888', o - 1, k from unnest(array['Novo contato', 'Qualificação', 'Agendado', 'Em tratamento', 'Fidelizado', 'Perdido'], array['new', 'qualification', 'scheduled', 'in_treatment', 'loyal', 'lost']) with ordinality as t(n, k, o)`;
  const stage = (k: string) => sql`(select id from pipeline_stages where clinic_id = ${clinicId} and default_key = ${k})`;
  await sql`
    insert into opportunities (clinic_id, contact_id, stage_id, position, title, owner_id, status, lost_reason, created_at)
    select ${clinicId}::uuid, c.id, case when i % 4 in (0, 2) then ${stage('scheduled')} else ${stage('new')} end, 'p' || lpad(i::text, 6, '0'), 'Tratamento',
      (${pros})[1 + i % 10], (case when i % 4 = 0 then 'won' when i % 4 = 1 then 'lost' else 'open' end)::opportunity_status,
      case when i % 4 = 1 then 'Preço' end, timestamptz '2025-01-01 10:00-03' + i * interval '3 hours 30 minutes'
    from generate_series(0, 4999) i join ${patients} c on c.rn = i`;
  const opps = sql`(select id, contact_id, created_at, status, stage_id, (row_number() over (order by position) - 1) % 4 as kind from opportunities where clinic_id = ${clinicId})`;
  await sql`
    insert into opportunity_history (clinic_id, opportunity_id, contact_id, kind, from_stage_id, to_stage_id, source, at)
    select ${clinicId}::uuid, o.id, o.contact_id, 'created'::opportunity_history_kind, null::uuid, ${stage('new')}, 'user', o.created_at from ${opps} o
    union all select ${clinicId}::uuid, o.id, o.contact_id, 'moved'::opportunity_history_kind, ${stage('new')}, ${stage('scheduled')}, 'user', o.created_at + interval '2 days' from ${opps} o where o.kind in (0, 2)
    union all select ${clinicId}::uuid, o.id, o.contact_id, 'won'::opportunity_history_kind, ${stage('scheduled')}, null::uuid, 'user', o.created_at + interval '5 days' from ${opps} o where o.kind = 0
    union all select ${clinicId}::uuid, o.id, o.contact_id, 'lost'::opportunity_history_kind, ${stage('new')}, null::uuid, 'user', o.created_at + interval '1 day' from ${opps} o where o.kind = 1`;
  await sql`analyze`;
  const [counts] = await sql`select (select count(*)::int from appointments where clinic_id = ${clinicId}) as a, (select count(*)::int from messages where clinic_id = ${clinicId}) as m, (select count(*)::int from opportunity_history where clinic_id = ${clinicId}) as h`;
  return { clinicId, email, counts: counts as { a: number; m: number; h: number } };
}

/** Like signedInTimer's `measure`, with a different URL per request. */
async function measureEach(base: string, label: string, next: () => string, warmup: number, runs: number) {
  const { cookie } = await signedInTimer(base, ORIGIN, seededEmail, PASSWORD);
  const once = async () => {
    const started = performance.now();
    const res = await fetch(`${base}${next()}`, { headers: { cookie } });
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`dashboard: ${res.status}`);
    return performance.now() - started;
  };
  for (let i = 0; i < warmup; i++) await once();
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) samples.push(await once());
  samples.sort((a, b) => a - b);
  const at = (q: number) => samples[Math.min(samples.length - 1, Math.floor(q * samples.length))] ?? 0;
  console.log(`${label.padEnd(48)} n=${runs}  p50 ${at(0.5).toFixed(1)} ms  p95 ${at(0.95).toFixed(1)} ms  p99 ${at(0.99).toFixed(1)} ms  max ${at(1).toFixed(1)} ms`);
  return at(0.95);
}


const name = `opb_bench_${Date.now().toString(36)}`;
const redisPrefix = `opbanalytics:${Date.now().toString(36)}:`;
let seededEmail = '';
const admin = postgres(BASE, { max: 1, onnotice: () => {} });
await admin.unsafe(`create database ${name}`);
const url = new URL(BASE);
url.pathname = `/${name}`;
const dataDir = mkdtempSync(path.join(os.tmpdir(), 'opb-bench-'));
try {
  const database = await openDatabase({ url: url.toString() });
  await database.migrate();
  await database.close();
  const sql = postgres(url.toString(), { max: 2, onnotice: () => {} });
  const t0 = performance.now();
  const seeded = await seed(sql);
  seededEmail = seeded.email;
  await sql.end();
  console.log(
    `seeded ${seeded.counts.a} appointments, ${seeded.counts.m} messages, ${seeded.counts.h} pipeline moves in ${((performance.now() - t0) / 1000).toFixed(1)} s; ` +
      `${os.cpus().length} x ${os.cpus()[0]?.model}, Node ${process.version}, load average ${os.loadavg()[0]?.toFixed(1)}`,
  );

  let k = 0;
  for (const mode of ['memory', 'redis'] as const) {
    const redisEnv = mode === 'redis' ? { REDIS_URL, REDIS_PREFIX: redisPrefix } : {};
    const config = loadConfig({ NODE_ENV: 'development', DATA_DIR: dataDir, CORS_ORIGINS: ORIGIN, DATABASE_URL: url.toString(), ...redisEnv });
    const infra = await createInfra(config, createLogger({ level: 'silent' }));
    const modules = createModules(infra);
    const { app } = createApp({ infra, modules, rateLimits: { login: 1000, register: 1000, passwordReset: 1000, public: 1000 } });
    const server = createServer(app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    const base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    try {
      const { measure } = await signedInTimer(base, ORIGIN, seeded.email, PASSWORD);
      console.log(`\ndatabase: ${infra.database.kind}, cache and sessions: ${mode}`);
      await measure('baseline GET /api/clinic (session + 1 select)', '/api/clinic', 50, 300);
      // Cold: a new range per request (each computes every report); the JIT and the pool warmed on other ranges first.
      const year = (day: number) => `/api/analytics/dashboard?from=${addDays('2026-01-01', day)}&to=${addDays('2026-12-31', day)}`;
      const cold = await measureEach(base, 'dashboard, one year, cold (30 ranges)', () => year(k++), 5, 30);
      const cached = await measure('dashboard, one year, cached', year(0), 20, 300);
      console.log(`targets: cold p95 < 300 ms (${cold.toFixed(1)}), cached p95 < 20 ms (${cached.toFixed(1)}); load average ${os.loadavg()[0]?.toFixed(1)}`);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await closeInfra(infra);
    }
  }
} finally {
  await admin.unsafe(`drop database if exists ${name} with (force)`);
  await admin.end();
  rmSync(dataDir, { recursive: true, force: true });
  await dropRedisKeys(REDIS_URL, redisPrefix);
}
