import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { startChild } from '/work/wt-foundation-perf/bench/lib/process.js';
import { ramp } from '/work/wt-foundation-perf/bench/lib/load.js';
const ORIGIN = 'https://app.bench.test';
const admin = postgres('postgres://postgres@127.0.0.1:5432/postgres', { max: 1, onnotice: () => {} });
const db = `opb_prof_${Date.now()}`;
await admin.unsafe(`create database ${db}`);
const extra = process.argv[2] === 'redis' ? { REDIS_URL: 'redis://127.0.0.1:6379', REDIS_PREFIX: `prof${Date.now()}:` } : {};
const child = await startChild(process.execPath, ['--cpu-prof', '--cpu-prof-dir=/tmp/fp/prof', '--import', 'tsx', 'server/index.ts'], {
  NODE_ENV: 'production', DATABASE_URL: `postgres://postgres@127.0.0.1:5432/${db}`, SESSION_SECRET: 'x'.repeat(40), ENCRYPTION_KEY: 'y'.repeat(40), CORS_ORIGINS: ORIGIN, DATA_DIR: '/tmp/fp/data', ...extra }, '/api/health');
const headers: Record<string, string> = { origin: ORIGIN, 'x-forwarded-proto': 'https' };
const res = await fetch(`${child.url}/api/auth/register`, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify({ clinicName: 'C', name: 'Dra B', email: `b${Date.now()}@example.com`, password: 'senha-do-benchmark-123' }) });
headers.cookie = res.headers.getSetCookie()[0]!.split(';')[0]!;
console.log(res.status, await (await fetch(`${child.url}/api/auth/me`, { headers })).text());
console.log(await ramp(`${child.url}/api/auth/me`, headers, [16], Number(process.env.SECS ?? 8)));
await child.stop();
await admin.unsafe(`drop database ${db} with (force)`); await admin.end();
