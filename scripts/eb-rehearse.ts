// npm run eb:rehearse: what Elastic Beanstalk does with a deploy, done here with real parts.
// 1. bundle (scripts/eb-bundle.sh, as the deploy workflow), unzipped and installed production-only;
//    the Procfile's web command on a fresh Postgres database and Redis, NODE_ENV=production
// 2. Debian nginx with EB's layout: the bundle's .platform/nginx/nginx.conf and conf.d, `nginx -t`
// 3. through nginx as the ALB calls it: health, register/login, readiness, Socket.IO over
//    WebSocket, a 20 MB upload, a 65 s request
// 4. a second instance: shared session, cross-instance event, repeatable job once, shared rate limit
// 5. SIGTERM under load: no failed request, exit 0
// 6. two instances started together on an empty database migrate once
// Each step prints PASS or FAIL; the exit code is non-zero when any failed.
// Environment: REHEARSAL_DATABASE_URL (admin URL, default postgres://postgres@127.0.0.1:5432/postgres),
// REHEARSAL_REDIS_URL (default redis://127.0.0.1:6379), REHEARSAL_KEEP=1 keeps the work folder.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Socket } from 'socket.io-client';
import { buildAndInstall, type InstalledBundle } from './rehearsal/bundle.js';
import { Client } from './rehearsal/client.js';
import { checkRepeatableJob, eventsAcrossInstances, loadUntil, rateLimitAcrossInstances, sharedSession } from './rehearsal/cluster.js';
import { freePort } from './lib/free-port.js';
import { check, Harness, sleep, waitFor } from './rehearsal/harness.js';
import { Instance } from './rehearsal/instance.js';
import { ensureNginx, Nginx } from './rehearsal/nginx.js';
import { Services } from './rehearsal/services.js';
import { health, readiness, registerAndLogin, slowRequest, socketEvent, upload } from './rehearsal/single.js';

const repo = path.resolve(import.meta.dirname, '..');
const runId = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
const workDir = mkdtempSync(path.join(os.tmpdir(), 'opb-eb-rehearsal-'));
const ORIGIN = 'https://app.ensaio.operabase.test';
const JOB_EVERY_MS = 2000;
const SHUTDOWN_TIMEOUT_MS = 20_000;
const LOGIN_LIMIT = 10; // server/config.ts rateLimits.login
const secrets = { SESSION_SECRET: randomBytes(32).toString('base64url'), ENCRYPTION_KEY: randomBytes(32).toString('base64url') };
const services = new Services(
  process.env.REHEARSAL_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
  process.env.REHEARSAL_REDIS_URL ?? 'redis://127.0.0.1:6379',
);
const h = new Harness();
const sockets: Socket[] = [];
const instances: Instance[] = [];

/** Environment properties as EB would hold them (eb setenv + .ebextensions), plus the rehearsal's test switches. */
function appEnv(bundle: InstalledBundle, databaseUrl: string, redisPrefix: string, name: string): Record<string, string> {
  return {
    NODE_ENV: 'production',
    APP_VERSION: bundle.appVersion,
    DATABASE_URL: databaseUrl,
    REDIS_URL: services.redisUrl,
    REDIS_PREFIX: redisPrefix,
    ...secrets,
    CORS_ORIGINS: ORIGIN,
    // The rehearsal has no Supabase Storage: keep files on the instance disk, on purpose.
    FILE_STORAGE: 'local',
    DATA_DIR: path.join(workDir, `data-${name}`),
    SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS),
    ENABLE_TEST_ROUTES: 'true',
    TOKENS_CLEANUP_EVERY_MS: String(JOB_EVERY_MS),
    LOG_LEVEL: 'info',
  };
}

async function newInstance(bundle: InstalledBundle, name: string, env: Record<string, string>) {
  const instance = new Instance(name, await freePort(), bundle.dir, bundle.webCommand, env, workDir);
  instances.push(instance);
  return instance;
}

async function startupLine(instance: Instance, bundle: InstalledBundle): Promise<string> {
  // Log writes are batched (flushed every 0.5 s): the line may reach the file just after /health answers.
  const line = await waitFor(`${instance.name}'s startup line`, async () => instance.logs().find((l) => l.msg === 'operabase api listening'), 5_000);
  check(line.version === bundle.appVersion && line.mode === 'production' && line.port === instance.port, `startup line: ${JSON.stringify(line)}`);
  return `startup line: version ${String(line.version)}, mode ${String(line.mode)}, port ${String(line.port)}`;
}

async function migrationsApplied(databaseUrl: string, bundle: InstalledBundle): Promise<string> {
  const journal = JSON.parse(readFileSync(path.join(bundle.dir, 'migrations/meta/_journal.json'), 'utf8')) as { entries: unknown[] };
  const [row] = await services.query<{ n: number }>(databaseUrl, 'select count(*)::int as n from drizzle.__drizzle_migrations');
  check(row?.n === journal.entries.length, `${row?.n ?? 0} migrations recorded, ${journal.entries.length} in the bundle`);
  return `${row.n} migrations recorded once`;
}

function noErrorsLogged(...list: Instance[]) {
  for (const instance of list) {
    const errors = instance.logs().filter((l) => l.level >= 50);
    check(errors.length === 0, `${instance.name} logged errors: ${errors.map((e) => e.msg).join('; ')}`);
  }
}

async function main(): Promise<boolean> {
  h.log(`work folder ${workDir}`);
  h.onCleanup('work folder', () => {
    if (process.env.REHEARSAL_KEEP !== '1' && process.exitCode !== 1) rmSync(workDir, { recursive: true, force: true });
  });
  h.onCleanup('databases and Redis keys', () => services.dropAll());
  h.onCleanup('instances', async () => {
    for (const socket of sockets) socket.disconnect();
    await Promise.all(instances.map((i) => i.stop()));
  });

  let bundle: InstalledBundle | undefined;
  let a: Instance | undefined;
  let databaseUrl = '';
  const prefix = services.redisPrefix(`opb-rehearsal:${runId}:`);
  const ok1 = await h.step('1. bundle built by scripts/eb-bundle.sh, installed with npm ci --omit=dev, Procfile web started (production)', async () => {
    bundle = await buildAndInstall(repo, workDir);
    databaseUrl = await services.createDatabase(`opb_rehearsal_${runId}`);
    a = await newInstance(bundle, 'A', appEnv(bundle, databaseUrl, prefix, 'A'));
    a.start();
    await a.waitHealthy();
    noErrorsLogged(a);
    return `${bundle.entries.length} files, no dev tools installed, "web: ${bundle.webCommand}"; ${await startupLine(a, bundle)}; ${await migrationsApplied(databaseUrl, bundle)}`;
  });
  if (!ok1 || !bundle || !a) return h.summary();
  const b0 = bundle;
  const instanceA = a;

  const nginx = new Nginx(await ensureNginx((l) => h.log(l)), workDir, await freePort());
  h.onCleanup('nginx', () => nginx.stop());
  const ok2 = await h.step('2. nginx laid out like EB (.platform/nginx/nginx.conf in place of its own, conf.d/elasticbeanstalk, .platform/nginx/conf.d), nginx -t', async () => {
    const files = nginx.configure(b0.dir, [instanceA.port]);
    const verdict = await nginx.test();
    await nginx.start();
    return `${verdict}; conf.d: ${files.join(', ')}`;
  });
  if (!ok2) return h.summary();

  const viaNginx = new Client(nginx.url, ORIGIN);
  const email = `ensaio.${runId}@example.com`;
  const password = `Senha-ensaio-${runId}`;
  let user: Client | undefined;
  let slow: Promise<string> | undefined;
  const ok3 = await h.step('3. through nginx with X-Forwarded-Proto: https: health, register/login, readiness, Socket.IO, 20 MB upload', async () => {
    const lines = [await health(viaNginx)];
    const signedIn = await registerAndLogin(nginx.url, ORIGIN, email, password);
    user = signedIn.client;
    lines.push(`register 201 + login 200, cookie ${signedIn.cookie}`);
    slow = slowRequest(user);
    slow.catch(() => undefined);
    lines.push(await readiness(user));
    const { socket } = await socketEvent(user, nginx.url, user);
    sockets.push(socket);
    lines.push('Socket.IO over WebSocket through nginx received test:ping');
    lines.push(await upload(user));
    return lines.join('; ');
  });
  if (!ok3 || !user) return h.summary();
  const signedInUser = user;

  let b: Instance | undefined;
  let aSocket: Socket | undefined;
  await h.step('4. second instance on the same database and Redis: shared session, cross-instance event, outbox relayed together, job once, shared rate limit', async () => {
    b = await newInstance(b0, 'B', appEnv(b0, databaseUrl, prefix, 'B'));
    const since = Date.now();
    b.start();
    await b.waitHealthy();
    nginx.configure(b0.dir, [instanceA.port, b.port]);
    await nginx.test();
    await nginx.reload();
    await sleep(500);
    const lines = [await sharedSession(signedInUser, instanceA, b)];
    const event = await socketEvent(signedInUser, instanceA.url, signedInUser.at(b.url));
    aSocket = event.socket;
    sockets.push(aSocket);
    check(event.by === String(b.pid), `test:ping came from pid ${event.by}, expected instance B (${b.pid})`);
    lines.push(`a socket on A received test:ping emitted by B (pid ${event.by})`);
    lines.push(await eventsAcrossInstances(signedInUser, instanceA, b, aSocket));
    lines.push(await rateLimitAcrossInstances(nginx.url, ORIGIN, `limite.${runId}@example.com`, LOGIN_LIMIT));
    lines.push(await checkRepeatableJob([instanceA, b], since, JOB_EVERY_MS));
    noErrorsLogged(instanceA, b);
    return lines.join('; ');
  });

  await h.step('3. (cont.) AI-length request through nginx is not cut at 60 s', async () => {
    check(slow, 'the slow request was never started');
    return slow;
  });

  await h.step('5. SIGTERM to instance A under load through nginx: no failed request, exit 0', async () => {
    check(b && aSocket, 'step 4 did not leave two instances and a socket on A');
    const disconnected = new Promise<void>((resolve) => aSocket?.once('disconnect', () => resolve()));
    const inFlight = signedInUser.at(instanceA.url).request('GET', '/api/test/slow?ms=3000');
    await sleep(300);
    let exitCode: number | null | undefined;
    const stopped = sleep(1500).then(async () => {
      const t0 = Date.now();
      exitCode = await instanceA.terminate(SHUTDOWN_TIMEOUT_MS + 5000);
      h.log(`A exited ${exitCode} ${Date.now() - t0} ms after SIGTERM`);
      await sleep(1000); // keep the load on B a little after A is gone
    });
    const load = await loadUntil(signedInUser, 6, stopped, 5000);
    await stopped;
    const slowReply = await inFlight;
    check(slowReply.status === 200, `the request in flight on A at SIGTERM failed: ${slowReply.status}`);
    check(load.failures.length === 0, `${load.failures.length} of ${load.sent} requests failed: ${[...new Set(load.failures)].slice(0, 3).join(' | ')}`);
    check(exitCode === 0, `A exited with ${exitCode}`);
    await Promise.race([disconnected, sleep(2000)]);
    check(aSocket.disconnected, 'the socket on A was not closed by the shutdown');
    check(instanceA.logs().some((l) => l.msg === 'stopped'), 'A did not log a clean stop');
    const spread = [...load.upstreams].map(([u, n]) => `${u || 'none'}: ${n}`).join(', ');
    return `${load.sent} requests, 0 failed (${spread}); in-flight 3 s request completed; socket closed; exit 0`;
  });

  await h.step('6. two instances started together on an empty database: one migrated schema, no error', async () => {
    const freshUrl = await services.createDatabase(`opb_rehearsal_${runId}_race`);
    const racePrefix = services.redisPrefix(`opb-rehearsal:${runId}:race:`);
    const c = await newInstance(b0, 'C', appEnv(b0, freshUrl, racePrefix, 'C'));
    const d = await newInstance(b0, 'D', appEnv(b0, freshUrl, racePrefix, 'D'));
    c.start();
    d.start();
    await Promise.all([c.waitHealthy(), d.waitHealthy()]);
    const applied = await migrationsApplied(freshUrl, b0);
    noErrorsLogged(c, d);
    const codes = await Promise.all([c.terminate(SHUTDOWN_TIMEOUT_MS + 5000), d.terminate(SHUTDOWN_TIMEOUT_MS + 5000)]);
    check(codes.every((code) => code === 0), `stopping C and D exited ${codes.join(', ')}`);
    return `both healthy; ${applied}; both stopped with exit 0`;
  });

  await h.step('logs: one JSON line per event, no secret, no password', async () => {
    for (const instance of instances) {
      const text = readFileSync(instance.logFile, 'utf8');
      for (const [name, value] of Object.entries({ ...secrets, password })) check(!text.includes(value), `${instance.name}'s log contains ${name}`);
    }
    return `${instances.length} instance logs checked`;
  });
  return h.summary();
}

const ok = await main().catch((err: unknown) => {
  process.stdout.write(`FAIL rehearsal aborted: ${(err as Error).stack ?? String(err)}\n`);
  return false;
});
if (!ok) {
  process.exitCode = 1;
  for (const instance of instances) process.stdout.write(`\n--- last lines of ${instance.logFile}\n${instance.tail()}\n`);
  process.stdout.write(`\n(work folder kept: ${workDir})\n`);
}
await h.cleanup();
// Socket.IO clients and fetch keep-alive agents must not hold the process open.
process.exit(ok ? 0 : 1);
