// bench: only when named (10 minutes to an hour of load)
/**
 * A clinic's busiest day as load (issue #15, item 1): `npm run bench -- clinic-day`.
 * Simulated staff of clinics of 20 (each signs in, holds a socket, then weeks, availability,
 * patient search, bookings with raced slots, status changes, the inbox and replies, knowledge
 * search), patients' WhatsApp messages and status webhooks (5 % delivered twice), Google pushes,
 * against the production build limited like a t3.small (one core with taskset, V8's heap for
 * 2 GiB), on real Postgres and Redis. Prints per-route p50/p95/p99, req/s, statuses, the
 * invariants, loop lag, RSS, CPU, and PASS/FAIL; exits 1 on a FAIL.
 *
 *   CLINIC_DAY_USERS=1000  CLINIC_DAY_SECONDS=600  CLINIC_DAY_INSTANCES=1 (or 3, behind nginx)
 *   CLINIC_DAY_RAMP_SECONDS (default users/10, 10-120)  CLINIC_DAY_SERVER_CPUS=0 (instance i on the i-th, round robin)
 *   CLINIC_DAY_GENERATOR_CPUS=1  CLINIC_DAY_MESSAGES_PER_MINUTE=3 (per number)  CLINIC_DAY_KEEP=1 keeps logs
 *   CLINIC_DAY_APP_ENV="DATABASE_POOL_MAX=5" adds to the app's environment; CLINIC_DAY_NODE_FLAGS="--cpu-prof ..." to its node
 *   --short: 50 users for 30 s (a quick check that everything works)
 * BENCH_DATABASE_URL (admin URL, default postgres://postgres@127.0.0.1:5432/postgres), BENCH_REDIS_URL.
 */
import { ClinicDay, report, verdicts } from './lib/clinic-day/index.js';

const short = process.argv.includes('--short');
const num = (name: string, fallback: number) => (process.env[name] ? Number(process.env[name]) : fallback);
const list = (name: string, fallback: number[]) => (process.env[name] ? process.env[name].split(',').map(Number) : fallback);

const users = num('CLINIC_DAY_USERS', short ? 50 : 1000);
const seconds = num('CLINIC_DAY_SECONDS', short ? 30 : 600);
const day = await ClinicDay.start({
  users,
  instances: num('CLINIC_DAY_INSTANCES', 1),
  rampSeconds: process.env.CLINIC_DAY_RAMP_SECONDS ? Number(process.env.CLINIC_DAY_RAMP_SECONDS) : undefined,
  cpus: list('CLINIC_DAY_SERVER_CPUS', [0]),
  generatorCpus: list('CLINIC_DAY_GENERATOR_CPUS', [1]),
  inbound: { messagesPerNumberPerMinute: num('CLINIC_DAY_MESSAGES_PER_MINUTE', 3) },
  env: Object.fromEntries((process.env.CLINIC_DAY_APP_ENV ?? '').split(/\s+/).filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)])),
});
let failed = true;
try {
  await day.rampUp();
  await day.hold(seconds);
  const result = await day.finish();
  console.log(report(result));
  failed = verdicts(result).some((v) => !v.ok);
} finally {
  await day.stop();
}
process.exit(failed ? 1 : 0);
