// GET /api/auth/me with a session cookie, on the memory and on the Redis session store, against
// a bare node:http server, a minimal Express 5 route, and a minimal Express 5 + express-session +
// connect-redis (disableTouch) route answering the same JSON from the session. Every server is
// its own process; the load comes from this one. Ratios are measured in the same run. The API runs
// as production runs it (Procfile): `node dist/index.js`, built first.
//
//   npx tsx bench/auth-me.ts      (BENCH_ROUNDS, BENCH_SECONDS, BENCH_DATABASE_URL, BENCH_REDIS_URL)
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { cpuSeconds, machine, startChild, type Child } from './lib/process.js';
import { median, ramp, type Stage } from './lib/load.js';
import { dropRedisKeys } from './lib/redis-keys.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const STAGES = [4, 16, 32, 64];
const ADMIN_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const ORIGIN = 'https://app.bench.test';
const TSX = ['--import', 'tsx'];

interface Target {
  name: string;
  child: Child;
  headers: Record<string, string>;
  peaks: Stage[];
  /** Server CPU microseconds per request, one figure per round (all stages of the ramp). */
  cpuPerRequest: number[];
}

const cpuOf = (t: { child: Child }) => () => cpuSeconds(t.child.process.pid as number);

const run = `${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
const dbName = `opb_bench_${run}`;
const redisPrefix = `opbbench:${run}:`;

/** Signs in to the express-session baseline (its login puts the /me JSON in the session). */
async function baselineSessionHeaders(url: string): Promise<Record<string, string>> {
  const res = await fetch(`${url}/api/auth/login`, { method: 'POST' });
  const cookie = res.headers.getSetCookie().find((c) => c.startsWith('opb.sid='));
  if (res.status !== 200 || !cookie) throw new Error(`baseline login: ${res.status}`);
  return { cookie: cookie.split(';')[0] as string };
}

/** Registers a clinic through the API, as the web app does behind the ALB (https forwarded). */
async function signedInHeaders(url: string): Promise<Record<string, string>> {
  const headers = { origin: ORIGIN, 'x-forwarded-proto': 'https' };
  const res = await fetch(`${url}/api/auth/register`, {
    method: 'POST',
    headers: { ...headers, 'content-type': 'application/json' },
    body: JSON.stringify({ clinicName: 'Clínica Benchmark', name: 'Dra. Benchmark', email: `bench-${randomBytes(4).toString('hex')}@example.com`, password: 'senha-do-benchmark-123' }),
  });
  if (res.status !== 201) throw new Error(`register: ${res.status} ${await res.text()}`);
  const cookie = res.headers.getSetCookie().find((c) => c.startsWith('opb.sid='));
  if (!cookie) throw new Error('register set no session cookie');
  return { ...headers, cookie: cookie.split(';')[0] as string };
}

async function main() {
  const admin = postgres(ADMIN_URL, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${dbName}`);
  const databaseUrl = Object.assign(new URL(ADMIN_URL), { pathname: `/${dbName}` }).toString();
  const appEnv = {
    NODE_ENV: 'production',
    DATABASE_URL: databaseUrl,
    SESSION_SECRET: randomBytes(24).toString('hex'),
    ENCRYPTION_KEY: randomBytes(24).toString('hex'),
    CORS_ORIGINS: ORIGIN,
    REDIS_PREFIX: redisPrefix,
    DATA_DIR: `/tmp/${dbName}`,
    FILE_STORAGE: 'local',
  };
  const targets: Target[] = [];
  try {
    const start = async (name: string, args: string[], env: Record<string, string>, signIn?: (url: string) => Promise<Record<string, string>>) => {
      const child = await startChild(process.execPath, args, env, '/api/health');
      const headers = signIn ? await signIn(child.url) : {};
      targets.push({ name, child, headers, peaks: [], cpuPerRequest: [] });
    };
    await start('bare node:http', [...TSX, 'bench/lib/baseline-server.ts', 'bare'], {});
    await start('minimal Express 5', [...TSX, 'bench/lib/baseline-server.ts', 'express'], {});
    const sessionEnv = { REDIS_URL, REDIS_PREFIX: `${redisPrefix}baseline:`, SESSION_SECRET: appEnv.SESSION_SECRET };
    await start('Express + express-session', [...TSX, 'bench/lib/baseline-server.ts', 'session'], sessionEnv, baselineSessionHeaders);
    execFileSync(process.execPath, ['scripts/build.mjs'], { stdio: 'ignore' });
    await start('API, memory sessions', ['dist/index.js'], appEnv, signedInHeaders);
    await start('API, Redis sessions', ['dist/index.js'], { ...appEnv, REDIS_URL }, signedInHeaders);

    console.log(`auth-me: ${machine()}; ${ROUNDS} rounds, connections ramped ${STAGES.join(' -> ')}, ${SECONDS} s each`);
    for (const t of targets) await ramp(`${t.child.url}/api/auth/me`, t.headers, [8], 2, cpuOf(t)); // JIT warm-up
    // Rounds interleave the targets so that a noisy neighbour hurts all of them alike.
    for (let round = 1; round <= ROUNDS; round++) {
      for (const t of targets) {
        const stages = await ramp(`${t.child.url}/api/auth/me`, t.headers, STAGES, SECONDS, cpuOf(t));
        const peak = stages.reduce((best, s) => (s.rps > best.rps ? s : best));
        t.peaks.push(peak);
        t.cpuPerRequest.push((1e6 * stages.reduce((sum, s) => sum + s.serverCpu, 0)) / stages.reduce((sum, s) => sum + s.requests, 0));
        console.log(`  round ${round} ${t.name.padEnd(22)} ${stages.map((s) => `${s.connections}c ${Math.round(s.rps)}/s`).join('  ')}`);
      }
    }
    const rps = (t: Target) => median(t.peaks.map((p) => p.rps));
    const cpu = (t: Target) => median(t.cpuPerRequest);
    const [bare, expressBase, sessionBase] = targets as [Target, Target, Target];
    const pct = (x: number) => `${(100 * x).toFixed(0)}%`;
    console.log('\n| server | req/s (median of peaks) | p99 ms at peak | req/s vs express-session | req/s vs Express | req/s vs node:http | server CPU per request | CPU efficiency vs express-session |');
    console.log('|---|---|---|---|---|---|---|---|');
    for (const t of targets) {
      console.log(
        `| ${t.name} | ${Math.round(rps(t))} | ${median(t.peaks.map((p) => p.p99))} | ${pct(rps(t) / rps(sessionBase))} | ${pct(rps(t) / rps(expressBase))} | ${pct(rps(t) / rps(bare))} | ${Math.round(cpu(t))} us | ${pct(cpu(sessionBase) / cpu(t))} |`,
      );
    }
    console.log("(efficiency = the express-session baseline's CPU per request / this one's, i.e. the req/s ratio on a dedicated core)");
    const verdict = (x: number) => `${x >= 0.8 ? 'met' : 'MISSED'} (${pct(x)})`;
    for (const api of targets.slice(3)) {
      console.log(`target, ${api.name} at >= 80% of Express + express-session + connect-redis: by req/s ${verdict(rps(api) / rps(sessionBase))}; by server CPU per request ${verdict(cpu(sessionBase) / cpu(api))}`);
    }
  } finally {
    await Promise.all(targets.map((t) => t.child.stop()));
    await admin.unsafe(`drop database if exists ${dbName} with (force)`);
    await admin.end();
    await dropRedisKeys(REDIS_URL, redisPrefix);
  }
}


await main();
