import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { inject } from 'vitest';
import { loadConfig } from '../../server/config.js';
import { createApp, type App } from '../../server/app.js';
import { createInfra, type Infra } from '../../server/infra/index.js';
import { openDatabase, type Database } from '../../server/infra/db.js';
import type { OutboxOptions, Subscriber } from '../../server/infra/outbox.js';
import type { DestinationStream } from 'pino';
import { createLogger } from '../../server/infra/logger.js';
import { createModules, type Modules } from '../../server/modules/index.js';
import type { Module } from '../../server/modules/module.js';
import type { AssistantTool } from '../../server/modules/assistant/tool.js';
import type { RateLimits } from '../../server/http/rate-limit.js';
import { RecordingMailer } from './mailer.js';

export const TEST_ORIGIN = 'http://app.test';
/** Previews under a domain the clinic controls (a wildcard over vercel.app is refused at boot). */
export const TEST_PREVIEW_PATTERN = 'https://*.preview.clinic.test';

export interface TestApp extends App {
  infra: Infra;
  modules: Modules;
  mail: RecordingMailer;
  close(): Promise<void>;
}

export function testConfig(env: Record<string, string> = {}) {
  const databaseUrl = inject('databaseUrl');
  const redisUrl = inject('redisUrl');
  return loadConfig({
    NODE_ENV: 'test',
    DATA_DIR: path.join(inject('tempRoot'), `worker-${process.pid}`),
    CORS_ORIGINS: `${TEST_ORIGIN},${TEST_PREVIEW_PATTERN}`,
    // Fixed keys: the generated ones would be written into DATA_DIR (server/infra/local-secrets.ts).
    SESSION_SECRET: 'test-session-secret-0123456789abcdef',
    ENCRYPTION_KEY: 'test-encryption-key-0123456789abcdef',
    REDIS_PREFIX: inject('redisPrefix'),
    ENABLE_TEST_ROUTES: 'true',
    PUBLIC_APP_URL: 'http://app.test',
    ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
    ...(redisUrl ? { REDIS_URL: redisUrl } : {}),
    ...env,
  });
}

const HIGH_LIMITS: RateLimits = { login: 10_000, register: 10_000, passwordReset: 10_000, public: 10_000, changePassword: 10_000, googleSignIn: 10_000 };

/** Builds a whole app (infra, modules, queue, routes) on the test database; no port is opened. */
export async function buildTestApp(
  opts: { env?: Record<string, string>; rateLimits?: Partial<RateLimits>; realMailer?: boolean; logTo?: DestinationStream; outbox?: OutboxOptions; subscribers?: Subscriber[]; database?: Database; modules?: Module[]; assistantTools?: AssistantTool[] } = {},
): Promise<TestApp> {
  const config = testConfig(opts.env);
  // `logTo` captures every log line (at trace level) so a test can check what reaches the logs.
  const log = opts.logTo ? createLogger({ level: 'trace', destination: opts.logTo }) : createLogger({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  const mail = new RecordingMailer();
  // `database`: a connection pool of its own, as a second instance of a cluster would have.
  const database = opts.database ?? (await sharedDatabase());
  // realMailer: the mailer the config chooses (SMTP_URL), as in production; app.mail stays empty.
  // Apps of a run share sessions and cache like a cluster, but each has its own queue: a worker of
  // one app must not take (and send with its own mailer) the jobs of another.
  const infra = await createInfra(config, log, {
    database,
    mailer: opts.realMailer ? undefined : mail,
    queueBackoffMs: 10,
    queuePrefix: `${config.redisPrefix}q${randomUUID().slice(0, 8)}:`,
    // Likewise each app relays only its own events (its socket server is the one tests listen on),
    // unless a test gives two apps one scope to make them a cluster.
    outbox: { scope: `t${randomUUID().slice(0, 8)}:`, backoffMs: 10, ...opts.outbox },
  });
  // `modules`: extra features after the built-in ones, declared as a module.ts would declare them.
  // `assistantTools`: the functions the assistant's model may call, in place of the real ones.
  const modules = createModules(infra, opts.modules, { assistantTools: opts.assistantTools });
  for (const subscriber of opts.subscribers ?? []) infra.events.subscribe(subscriber);
  await infra.queue.start(modules.jobs);
  infra.events.start();
  const app = createApp({ infra, modules, rateLimits: { ...HIGH_LIMITS, ...opts.rateLimits } });
  return {
    ...app,
    infra,
    modules,
    mail,
    async close() {
      await infra.events.stop();
      await infra.queue.close();
      await infra.realtime.close();
      infra.mailer.close();
      infra.redis?.disconnect();
    },
  };
}

let databasePromise: ReturnType<typeof openDatabase> | undefined;

/** One database per worker: in-memory PGlite (migrated once) or the run's database on the real server. */
export function sharedDatabase() {
  databasePromise ??= (async () => {
    const url = inject('databaseUrl');
    const database = await openDatabase({ url, poolMax: 5 });
    if (!url) await database.migrate();
    return database;
  })();
  return databasePromise;
}

let appPromise: Promise<TestApp> | undefined;

/** The worker's shared app with default settings. */
export function getTestApp(): Promise<TestApp> {
  appPromise ??= buildTestApp();
  return appPromise;
}
