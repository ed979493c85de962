/**
 * The cache-miss path (issue #15 item 4): the week view, the inbox list and a patient search with
 * every cache off (account, calendar: each request reads Postgres), against a minimal Express 5 +
 * postgres.js route running the same SQL, prepared. Target: the app at >= 67% of its req/s.
 * Real Postgres at BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres); the
 * bench creates, seeds and drops its own database. Each server runs in its own process, driven by
 * autocannon (10 connections, 2 s warm-up, BENCH_DURATION s, default 8); two interleaved rounds,
 * the best of each. BENCH_PATHS=search,... runs only those paths; BENCH_POOL_MAX sets the app's and
 * Express's pool alike (default 10 each, the app's default). BENCH_BEFORE=<commit> also runs that commit's app (from `git archive`) in the
 * same run, for a before/after on one host state.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import postgres from 'postgres';
import { openDatabase } from '../server/infra/db.js';
import { cpuSeconds, machine } from './lib/process.js';
import { WEEK, login, seed } from './scheduling-seed.js';

const BASE = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const DURATION_S = Number(process.env.BENCH_DURATION ?? 8);
const BEFORE = process.env.BENCH_BEFORE;
const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
const SERVER_FILES = ['cache-miss-servers.ts', 'no-cache.ts', 'cold-sql.ts'];

/** Conversations for the first clinic's 5,000 patients, 10 messages each, the last one linked. */
async function seedInbox(sql: postgres.Sql, clinicId: string) {
  const [conn] = await sql`insert into integration_connections (clinic_id, provider, status) values (${clinicId}, 'evolution', 'active') returning id`;
  await sql`insert into whatsapp_numbers (clinic_id, connection_id, instance_name, name, state) values (${clinicId}, ${conn!.id}, ${`bench-${Date.now()}`}, 'Recepção', 'open')`;
  await sql`insert into conversations (clinic_id, number_id, contact_id, status, unread_count)
    select ${clinicId}, n.id, c.id, (array['open','open','pending','resolved'])[1 + (row_number() over () % 4)]::conversation_status, (row_number() over () % 3)::int
    from contacts c, whatsapp_numbers n where c.clinic_id = ${clinicId} and n.clinic_id = ${clinicId}`;
  await sql`insert into messages (clinic_id, conversation_id, number_id, external_id, direction, sender, type, text, status, sent_at)
    select ${clinicId}, cv.id, cv.number_id, 'BENCH' || cv.id || '-' || g, case when g % 2 = 0 then 'inbound' else 'outbound' end::message_direction,
      case when g % 2 = 0 then 'contact' else 'user' end::message_sender, 'text', 'Bom dia, gostaria de marcar uma consulta #' || g, 'delivery_ack',
      now() - (cv.k * 10 + g) * interval '1 minute'
    from (select id, number_id, row_number() over (order by id) as k from conversations where clinic_id = ${clinicId}) cv, generate_series(1, 10) g`;
  await sql`update conversations cv set last_message_id = m.id, last_message_at = m.sent_at
    from (select distinct on (conversation_id) conversation_id, id, sent_at from messages where clinic_id = ${clinicId} order by conversation_id, sent_at desc, id desc) m
    where cv.id = m.conversation_id`;
  await sql`analyze`;
}

/** That commit's tree with this benchmark's server files, sharing this checkout's node_modules. */
function checkout(commit: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'opb-before-'));
  execFileSync('sh', ['-c', `git -C "${root}" archive ${commit} | tar -x -C "${dir}"`]);
  symlinkSync(path.join(root, 'node_modules'), path.join(dir, 'node_modules'));
  for (const f of SERVER_FILES) copyFileSync(path.join(here, 'lib', f), path.join(dir, 'bench/lib', f));
  return dir;
}

type Server = ChildProcess & { port: number };

async function start(tree: string, kind: string, args: string[]): Promise<Server> {
  const proc = spawn(process.execPath, ['--import', 'tsx', path.join(tree, 'bench/lib/cache-miss-servers.ts'), kind, ...args], { cwd: tree, stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    proc.stdout?.on('data', (d: Buffer) => {
      const m = /PORT (\d+)/.exec(d.toString());
      if (m) resolve(Number(m[1]));
    });
    proc.on('exit', (code) => reject(new Error(`${kind} exited with ${code}`)));
  });
  return Object.assign(proc, { port });
}


interface Figure {
  rps: number;
  p99: number;
  cpuUs: number;
  ids: string;
}

async function measure(proc: Server, url: string, cookie: string | undefined): Promise<Figure> {
  const headers: Record<string, string> = cookie ? { cookie } : {};
  const first = await fetch(`http://127.0.0.1:${proc.port}${url}`, { headers });
  const body = (await first.json()) as { items: { id: string }[] };
  if (first.status !== 200) throw new Error(`${url}: ${first.status}`);
  const opts = { url: `http://127.0.0.1:${proc.port}${url}`, connections: 10, headers };
  await autocannon({ ...opts, duration: 2 });
  const cpu0 = cpuSeconds(proc.pid as number);
  const r = await autocannon({ ...opts, duration: DURATION_S });
  const cpu = cpuSeconds(proc.pid as number) - cpu0;
  if (r.non2xx > 0 || r.errors > 0) throw new Error(`${url}: ${r.non2xx} non-2xx, ${r.errors} errors`);
  return { rps: r.requests.average, p99: r.latency.p99, cpuUs: (cpu / r.requests.total) * 1e6, ids: body.items.map((i) => i.id).join(',') };
}

async function main() {
  const name = `opb_bench_${Date.now().toString(36)}`;
  const admin = postgres(BASE, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  const url = new URL(BASE);
  url.pathname = `/${name}`;
  const dbUrl = url.toString();
  const children: ChildProcess[] = [];
  const before = BEFORE ? checkout(BEFORE) : undefined;
  try {
    const database = await openDatabase({ url: dbUrl });
    await database.migrate();
    await database.close();
    const sql = postgres(dbUrl, { max: 2, onnotice: () => {} });
    const data = await seed(sql);
    await seedInbox(sql, data.clinicId);
    await sql.end();
    const args = [dbUrl, data.clinicId, data.searchClinicId];
    const paths = {
      week: `/api/appointments?professionalId=${data.professionalIds[3]}&from=${encodeURIComponent(WEEK.from)}&to=${encodeURIComponent(WEEK.to)}`,
      inbox: '/api/conversations',
      search: '/api/contacts?search=silva',
    };
    // BENCH_PATHS=search,week: only those paths.
    const only = process.env.BENCH_PATHS?.split(',');
    if (only) for (const what of Object.keys(paths)) if (!only.includes(what)) delete paths[what as keyof typeof paths];
    // label, checkout, server kind: "app" with every cache off, "app, account cached" with only the view's own off.
    const kinds: [string, string, string][] = [
      ['express', root, 'express'],
      ['app', root, 'app'],
      ['app, account cached', root, 'app-account'],
      ...(before ? [['before', before, 'app'] as [string, string, string]] : []),
    ];
    const best: Record<string, Record<string, Figure>> = {};
    const loads: number[] = [];
    for (let round = 0; round < 2; round++) {
      for (const [label, tree, kind] of kinds) {
        const proc = await start(tree, kind, args);
        children.push(proc);
        const cookies = kind.startsWith('app') ? { main: await login(proc.port, data.adminEmail), search: await login(proc.port, data.searchAdminEmail) } : undefined;
        for (const [what, p] of Object.entries(paths)) {
          const f = await measure(proc, p, what === 'search' ? cookies?.search : cookies?.main);
          const row = (best[what] ??= {});
          if (!row[label] || f.rps > row[label].rps) row[label] = f;
          loads.push(os.loadavg()[0] as number);
        }
        proc.kill('SIGTERM');
      }
    }
    console.log(`${machine()}; load average during the runs ${Math.min(...loads).toFixed(1)}-${Math.max(...loads).toFixed(1)}${BEFORE ? `; before = ${BEFORE}` : ''}`);
    console.log('| path | server | req/s | p99 ms | server CPU per request | req/s vs Express | CPU efficiency vs Express |');
    console.log('|---|---|---|---|---|---|---|');
    for (const [what, row] of Object.entries(best)) {
      const yard = row.express as Figure;
      for (const [label, f] of Object.entries(row)) {
        if (f.ids !== yard.ids) throw new Error(`${what}: ${label} answered other rows than the Express baseline: the baseline's SQL has drifted from the app's`);
        const pct = (x: number) => `${(x * 100).toFixed(0)}%`;
        console.log(`| ${what} | ${label} | ${f.rps.toFixed(0)} | ${f.p99} | ${f.cpuUs.toFixed(0)} us | ${pct(f.rps / yard.rps)} | ${pct(yard.cpuUs / f.cpuUs)} |`);
      }
    }
    console.log('target: app >= 67% of Express on each path');
  } finally {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    await admin.unsafe(`drop database if exists ${name} with (force)`);
    await admin.end();
    if (before) rmSync(before, { recursive: true, force: true });
  }
}

await main();
