// The system under test: the production build (`node dist/index.js`, the Procfile's web command)
// on a database and a Redis key prefix of its own, each instance pinned to a core like a
// t3.small's one core's worth of CPU, the heap limit V8 gives a 2 GiB machine, and the fakes of
// Evolution, Google and OpenAI it talks to. Three instances stand behind the deploy rehearsal's
// nginx (EB's layout with the bundle's .platform config).
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../../../scripts/lib/free-port.js';
import { Instance } from '../../../scripts/rehearsal/instance.js';
import { ensureNginx, Nginx } from '../../../scripts/rehearsal/nginx.js';
import { run } from '../../../scripts/rehearsal/run.js';
import { Services } from '../../../scripts/rehearsal/services.js';
import { PrivateRedis } from '../private-services.js';
import { FakeEvolution } from '../../../test/fakes/evolution.js';
import { FakeGoogle } from '../../../test/fakes/google.js';
import { FakeOpenAI } from '../../../test/fakes/openai.js';

export const ORIGIN = 'https://app.carga.operabase.test';
const REPO = path.resolve(import.meta.dirname, '../../..');

export interface StackOptions {
  /** App processes (1, or 3 behind nginx). */
  instances: number;
  /** Cores the instances are pinned to, instance i on cpus[i % length] (taskset); default [0]. */
  cpus?: number[];
  /**
   * `--max-old-space-size` in MiB. The Procfile sets none, so production gets V8's default for the
   * machine: a quarter of physical memory, 512 MiB on a t3.small's 2 GiB.
   */
  heapMiB?: number;
  /** Admin URL of the Postgres server the run creates its database on. */
  adminDatabaseUrl?: string;
  /** A Redis to use (a key prefix of the run's); default: a private redis-server on a free port, so INFO memory is the run's alone. */
  redisUrl?: string;
  /** Extra environment for the app (a fault script's knobs). */
  env?: Record<string, string>;
}

export interface Stack {
  /** Where clients and webhooks go: nginx, or the one instance. */
  url: string;
  instances: Instance[];
  databaseUrl: string;
  redisUrl: string;
  redisPrefix: string;
  metricsToken: string;
  /** The app's environment (the seed opens the same database with the same keys in-process). */
  env: Record<string, string>;
  evolution: FakeEvolution;
  google: FakeGoogle;
  openai: FakeOpenAI;
  nginx?: Nginx;
  workDir: string;
  stop(): Promise<void>;
}

export async function startStack(opts: StackOptions): Promise<Stack> {
  const runId = `${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
  const workDir = mkdtempSync(path.join(os.tmpdir(), 'opb-clinic-day-'));
  const sharedRedis = opts.redisUrl ?? process.env.BENCH_REDIS_URL;
  const redis = sharedRedis ? undefined : await PrivateRedis.start(workDir, { persistent: false });
  const services = new Services(opts.adminDatabaseUrl ?? process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres', sharedRedis ?? redis?.url ?? '');
  const instances: Instance[] = [];
  let nginx: Nginx | undefined;
  const [evolution, google, openai] = await Promise.all([new FakeEvolution().start(), new FakeGoogle().start(), new FakeOpenAI().start()]);
  const stop = async () => {
    await Promise.all(instances.map((i) => i.stop()));
    await nginx?.stop();
    await Promise.all([evolution.stop(), google.stop(), openai.stop()]);
    await services.dropAll();
    await redis?.kill();
    if (process.env.CLINIC_DAY_KEEP !== '1') rmSync(workDir, { recursive: true, force: true });
  };
  try {
    await run(process.execPath, [path.join(REPO, 'scripts/build.mjs')], { cwd: REPO });
    const databaseUrl = await services.createDatabase(`opb_clinic_day_${runId}`);
    const redisPrefix = services.redisPrefix(`opb-clinic-day:${runId}:`);
    const ports = await Promise.all(Array.from({ length: opts.instances }, () => freePort()));
    const entryPort = opts.instances > 1 ? await freePort() : (ports[0] as number);
    const url = `http://127.0.0.1:${entryPort}`;
    const metricsToken = randomBytes(16).toString('hex');
    const env: Record<string, string> = {
      NODE_ENV: 'production',
      DATABASE_URL: databaseUrl,
      REDIS_URL: services.redisUrl,
      REDIS_PREFIX: redisPrefix,
      SESSION_SECRET: randomBytes(32).toString('base64url'),
      ENCRYPTION_KEY: randomBytes(32).toString('base64url'),
      METRICS_TOKEN: metricsToken,
      CORS_ORIGINS: ORIGIN,
      FILE_STORAGE: 'local',
      LOG_LEVEL: 'info',
      EVOLUTION_API_URL: evolution.url,
      EVOLUTION_API_KEY: evolution.apiKey,
      OPENAI_API_KEY: openai.apiKey,
      OPENAI_BASE_URL: openai.baseUrl,
      // PUBLIC_API_URL stays an https address (Google refuses others for channels); the fakes
      // deliver to the entry instead, as DNS would send them to the ALB.
      ...google.env(),
      ...opts.env,
    };
    evolution.webhookOrigin = url;
    const deliverPush = google.deliver;
    google.deliver = (address, headers) => deliverPush(`${url}${new URL(address).pathname}`, headers);
    const cpus = opts.cpus ?? [0];
    const heap = opts.heapMiB ?? 512;
    for (const [i, port] of ports.entries()) {
      // CLINIC_DAY_NODE_FLAGS="--cpu-prof --cpu-prof-dir=/tmp/prof": a profile of each instance, written when it stops.
      const command = `taskset -c ${cpus[i % cpus.length]} ${process.execPath} --max-old-space-size=${heap} ${process.env.CLINIC_DAY_NODE_FLAGS ?? ''} dist/index.js`;
      const instance = new Instance(String.fromCharCode(65 + i), port, REPO, command, { ...env, DATA_DIR: path.join(workDir, `data-${i}`) }, workDir);
      instances.push(instance);
    }
    // The first migrates alone (the others would wait on the advisory lock anyway).
    instances[0]?.start();
    await instances[0]?.waitHealthy(120_000);
    for (const instance of instances.slice(1)) instance.start();
    await Promise.all(instances.slice(1).map((i) => i.waitHealthy(120_000)));
    if (opts.instances > 1) {
      nginx = new Nginx(await ensureNginx((line) => console.log(line)), workDir, entryPort);
      nginx.configure(REPO, ports);
      await nginx.test();
      await nginx.start();
    }
    return { url, instances, databaseUrl, redisUrl: services.redisUrl, redisPrefix, metricsToken, env, evolution, google, openai, nginx, workDir, stop };
  } catch (err) {
    for (const instance of instances) console.error(`--- ${instance.logFile}\n${instance.tail()}`);
    await stop();
    throw err;
  }
}
