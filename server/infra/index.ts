import type { Config } from '../config.js';
import { createAiProvider, type AiProvider } from './ai.js';
import { MemoryCache, RedisCache, type Cache } from './cache.js';
import { openDatabase, type Database, type Db } from './db.js';
import type { Logger } from './logger.js';
import { createMailer, type Mailer } from './mailer.js';
import { Outbox, type OutboxOptions } from './outbox.js';
import { QUEUES, createQueue, type Queue } from './queue.js';
import { Realtime } from './realtime.js';
import { connectRedis, createRedis, type Redis } from './redis.js';
import { Sessions, createSessionStore } from './sessions.js';
import { createStorage, type Storage } from './storage.js';
import { SupabaseAuth } from './supabase.js';
import { SecretBox } from '../lib/crypto.js';
import { resolveKeys } from './local-secrets.js';

/** Everything that talks to the outside, built once per process and handed to the app and modules. */
export interface Infra {
  config: Config;
  log: Logger;
  database: Database;
  /** Global tables (users, clinics, tokens); a clinic's tables go through ClinicData (server/infra/clinic-data.ts). */
  db: Db;
  /** The same database, for the few reads and jobs that cross clinics on purpose (grep for it). */
  systemDb: Db;
  redis?: Redis;
  cache: Cache;
  sessions: Sessions;
  queue: Queue;
  /** Domain events: `events.publish(tx, ...)` in a write's transaction; subscribers in modules. */
  events: Outbox;
  realtime: Realtime;
  storage: Storage;
  mailer: Mailer;
  /** Verifies Supabase Auth access tokens; absent when Supabase is not configured. */
  supabaseAuth?: SupabaseAuth;
  /** Encrypts secrets stored in the database (AES-256-GCM under ENCRYPTION_KEY). */
  secrets: SecretBox;
  /** The model provider (OpenAI or compatible); absent without OPENAI_API_KEY. */
  ai?: AiProvider;
}

export interface InfraOverrides {
  database?: Database;
  mailer?: Mailer;
  queueBackoffMs?: number;
  /** Key prefix of the queue alone (tests: apps sharing one Redis must not take each other's jobs). */
  queuePrefix?: string;
  /** Outbox settings (tests: a scope of its own per app, short backoff and lease). */
  outbox?: OutboxOptions;
}

/** Ordered start: database (migrated) -> Redis -> cache, sessions, queue, storage, mail. */
export async function createInfra(config: Config, log: Logger, overrides: InfraOverrides = {}): Promise<Infra> {
  const database =
    overrides.database ??
    (await openDatabase({
      url: config.databaseUrl,
      dataDir: config.dataDir,
      prepare: config.databasePrepare,
      poolMax: config.databasePoolMax,
    }));
  if (!overrides.database) await database.migrate();

  let redis: Redis | undefined;
  if (config.redisUrl) {
    redis = createRedis(config.redisUrl, log, 'main');
    await connectRedis(redis);
  }
  const keys = resolveKeys(config);
  const cache: Cache = redis && config.redisCache ? new RedisCache(redis, config.redisPrefix, log) : new MemoryCache();
  return {
    config,
    log,
    database,
    db: database.db,
    systemDb: database.db,
    redis,
    cache,
    sessions: new Sessions(createSessionStore({ redis, prefix: config.redisPrefix }), {
      secrets: [keys.sessionSecret, ...(config.sessionSecretPrevious ? [config.sessionSecretPrevious] : [])],
      production: config.production,
    }),
    queue: createQueue({
      log,
      redisUrl: config.redisUrl,
      prefix: overrides.queuePrefix ?? config.redisPrefix,
      backoffMs: overrides.queueBackoffMs,
      // Each WhatsApp number sends at its configured pace (WHATSAPP_SEND_RATE_PER_SECOND).
      queues: { whatsapp: { ...QUEUES.whatsapp, perKey: config.whatsappSendRate } },
    }),
    events: new Outbox(database, log, overrides.outbox),
    realtime: new Realtime(),
    storage: createStorage({ dataDir: config.dataDir, signingKey: keys.sessionSecret, supabase: config.supabase }),
    mailer: overrides.mailer ?? createMailer({ smtpUrl: config.smtpUrl, from: config.mailFrom, production: config.production, log }),
    supabaseAuth: config.supabase.url && config.supabase.authKey ? new SupabaseAuth(config.supabase.url, config.supabase.authKey) : undefined,
    secrets: new SecretBox(keys.encryptionKey),
    ai: createAiProvider(config.openai),
  };
}

/** Reverse order of start; each step bounded so one stuck dependency cannot hold the exit. */
export async function closeInfra(infra: Infra): Promise<void> {
  // Subscribers may enqueue jobs: the relay stops before the queue.
  await infra.events.stop();
  await infra.queue.close();
  await infra.realtime.close();
  infra.mailer.close();
  infra.sessions.close();
  infra.redis?.disconnect();
  await infra.database.close();
}
