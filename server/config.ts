import { z } from 'zod';
import { webhookSecret } from '../shared/api/webhooks.js';
import { originProblem } from './http/origins.js';

// The only reader of process.env. Every variable is listed in .env.example.

const bool = z
  .enum(['true', 'false', '1', '0', ''])
  .optional()
  .transform((v) => v === 'true' || v === '1');
const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));
const optionalUrl = optionalString.pipe(z.url().optional());

const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  PORT: z.coerce.number().int().min(0).max(65535).optional(),
  HOST: optionalString,
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).optional(),
  LOG_FORMAT: z.enum(['pretty', 'json', '']).optional(),
  DATA_DIR: z.string().default('./.data'),
  APP_VERSION: optionalString,

  // Database: first one set wins, in this order.
  SUPABASE_POOLER_URL: optionalUrl,
  SUPABASE_CONNECTION_STRING: optionalUrl,
  SUPABASE_DATABASE_URL: optionalUrl,
  DATABASE_URL: optionalUrl,
  DATABASE_POOL_MAX: z.coerce.number().int().min(1).max(100).default(10),
  DATABASE_PREPARE: z.enum(['auto', 'true', 'false', '']).optional(),

  // `host:6379` parses as a URL whose scheme is "host:": ask for the scheme itself.
  REDIS_URL: optionalString.pipe(z.url({ protocol: /^rediss?$/, error: 'use redis://host:port or rediss://host:port' }).optional()),
  REDIS_PREFIX: z.string().default('opb:'),
  ENABLE_REDIS_CACHE: z
    .enum(['true', 'false', '1', '0', ''])
    .optional()
    .transform((v) => v !== 'false' && v !== '0'),

  SESSION_SECRET: optionalString,
  /** The secret before the last rotation: its cookies are still accepted; new ones are signed with SESSION_SECRET. */
  SESSION_SECRET_PREVIOUS: optionalString,
  ENCRYPTION_KEY: optionalString,
  METRICS_TOKEN: optionalString,
  CORS_ORIGINS: optionalString,
  PUBLIC_APP_URL: optionalUrl,
  PUBLIC_API_URL: optionalUrl,
  SMTP_URL: optionalUrl,
  MAIL_FROM: z.string().default('Operabase <nao-responda@operabase.com.br>'),
  ENABLE_PAGINATION: bool,
  SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().min(1000).default(25_000),
  ENABLE_TEST_ROUTES: bool,
  TOKENS_CLEANUP_EVERY_MS: z.coerce.number().int().min(1000).default(60 * 60_000),

  SUPABASE_URL: optionalUrl,
  SUPABASE_ANON_KEY: optionalString,
  SUPABASE_SERVICE_ROLE_KEY: optionalString,
  SUPABASE_STORAGE_BUCKET: z.string().default('operabase-files'),
  FILE_STORAGE: z.enum(['local', '']).optional(),

  OPENAI_API_KEY: optionalString,
  OPENAI_BASE_URL: optionalUrl,
  OPENAI_CHAT_MODEL: z.string().trim().min(1).default('gpt-4o-mini'),
  OPENAI_EMBEDDING_MODEL: z.string().trim().min(1).default('text-embedding-3-small'),
  // HNSW indexes refuse more than 2,000 dimensions.
  OPENAI_EMBEDDING_DIMENSIONS: z.coerce.number().int().min(16).max(2000).default(1536),
  /** Hosts outbound fetches (URL documents, N8N) may reach although private: names, addresses or CIDR ranges. */
  OUTBOUND_ALLOW_HOSTS: optionalString,
  GOOGLE_CLIENT_ID: optionalString,
  GOOGLE_CLIENT_SECRET: optionalString,
  GOOGLE_REDIRECT_URI: optionalUrl,
  GOOGLE_API_ROOT_URL: optionalUrl,
  GOOGLE_OAUTH_AUTH_URL: optionalUrl,
  GOOGLE_OAUTH_TOKEN_URL: optionalUrl,
  GOOGLE_OAUTH_CERTS_URL: optionalUrl,
  GOOGLE_SIGNIN_REDIRECT_URI: optionalUrl,
  EVOLUTION_API_URL: optionalUrl,
  EVOLUTION_URL: optionalUrl,
  EVOLUTION_API_KEY: optionalString,
  EVOLUTION_TIMEOUT_MS: z.coerce.number().int().min(100).default(15_000),
  WHATSAPP_PROBE_EVERY_MS: z.coerce.number().int().min(1000).default(60_000),
  WHATSAPP_WEBHOOK_RETENTION_HOURS: z.coerce.number().int().min(1).max(24 * 30).default(24),
  WEBHOOK_LOOKUP_CACHE_MS: z.coerce.number().int().min(0).max(60_000).default(5000),
  /** Messages sent per second by one WhatsApp number (a fraction spaces them further: 0.5 = one every 2 s). */
  WHATSAPP_SEND_RATE_PER_SECOND: z.coerce.number().positive().max(50).default(1),
  N8N_WEBHOOK_URL: optionalUrl,
  /** Signs the operator's N8N_WEBHOOK_URL deliveries (whsec_ + base64 of 24-64 bytes). */
  N8N_WEBHOOK_SECRET: optionalString.pipe(webhookSecret.optional()),
  /** Delays in ms between a delivery's attempts (the first is immediate): the Standard Webhooks example schedule, about 27 h. */
  WEBHOOK_RETRY_SCHEDULE_MS: z
    .string()
    .default('5000,300000,1800000,7200000,18000000,36000000,36000000')
    .transform((v) => v.split(',').map((n) => Number(n.trim())))
    .pipe(z.array(z.number().int().min(0).max(7 * 24 * 3600_000)).max(20)),
  WEBHOOK_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(10_000),
  /** Consecutive deliveries that ended failed (every attempt spent) before a subscription is switched off. */
  WEBHOOK_DISABLE_AFTER_FAILURES: z.coerce.number().int().min(1).max(1000).default(20),
  /** Per process: how long a subscription's target and opened secrets are kept for deliveries (0: read every time). */
  WEBHOOK_SUBSCRIPTION_CACHE_MS: z.coerce.number().int().min(0).max(60_000).default(5000),
  /** Finished deliveries (delivered or failed) older than this are deleted from the log. */
  WEBHOOK_DELIVERY_RETENTION_DAYS: z.coerce.number().int().min(1).max(3650).default(30),
  /** How often one worker of the cluster re-queues deliveries whose job was lost (a crash mid-attempt). */
  WEBHOOK_SWEEP_EVERY_MS: z.coerce.number().int().min(1000).default(60_000),
  N8N_API_KEY: optionalString,
  WEBHOOK_BASE_URL: optionalUrl,
});

type Env = z.infer<typeof envSchema>;

const DEV_ORIGINS = ['http://localhost:5173', 'http://localhost:3000', 'http://127.0.0.1:5173', 'http://127.0.0.1:3000'];

const corsOriginsOf = (e: Env) =>
  e.CORS_ORIGINS ? e.CORS_ORIGINS.split(',').map((o) => o.trim()).filter(Boolean) : e.NODE_ENV === 'production' ? [] : DEV_ORIGINS;

const DATABASE_VARS = ['SUPABASE_POOLER_URL', 'SUPABASE_CONNECTION_STRING', 'SUPABASE_DATABASE_URL', 'DATABASE_URL'] as const;

/** What production cannot run without; checked on the raw values so they are named even when other variables are invalid. */
function productionProblems(env: NodeJS.ProcessEnv): string[] {
  const set = (name: string) => (env[name] ?? '').trim();
  const problems: string[] = [];
  if (!DATABASE_VARS.some((name) => set(name))) problems.push('DATABASE_URL (or SUPABASE_POOLER_URL/SUPABASE_CONNECTION_STRING/SUPABASE_DATABASE_URL): required in production');
  if (set('SESSION_SECRET').length < 32) problems.push('SESSION_SECRET: required in production, at least 32 characters');
  if (set('SESSION_SECRET_PREVIOUS') && set('SESSION_SECRET_PREVIOUS').length < 32) problems.push('SESSION_SECRET_PREVIOUS: at least 32 characters when set');
  if (set('ENCRYPTION_KEY').length < 32) problems.push('ENCRYPTION_KEY: required in production, at least 32 characters');
  // Elastic Beanstalk replaces the instance disk on every deploy: local files would be lost.
  const supabase = Boolean(set('SUPABASE_URL') && set('SUPABASE_SERVICE_ROLE_KEY'));
  if (!supabase && set('FILE_STORAGE') !== 'local') {
    problems.push('SUPABASE_URL and SUPABASE_SERVICE_ROLE_KEY: required in production for file storage (or FILE_STORAGE=local to keep files on this disk on purpose)');
  }
  return problems;
}

/**
 * Prepared statements, unless DATABASE_PREPARE says otherwise: off behind Supabase's transaction
 * pooler (SUPABASE_POOLER_URL, port 6543, or a *.pooler.supabase.com host), which hands each
 * transaction a different server connection and so cannot keep them.
 */
function databasePrepare(e: Env, databaseUrl: string | undefined): boolean {
  if (e.DATABASE_PREPARE === 'true' || e.DATABASE_PREPARE === 'false') return e.DATABASE_PREPARE === 'true';
  return !(Boolean(e.SUPABASE_POOLER_URL) || /pooler\.supabase\.com|:6543\//.test(databaseUrl ?? ''));
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env) {
  const parsed = envSchema.safeParse(env);
  // One message naming every invalid and every missing variable.
  const problems = parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  if (env.NODE_ENV === 'production') problems.push(...productionProblems(env));
  if (parsed.success && Boolean(parsed.data.N8N_WEBHOOK_URL) !== Boolean(parsed.data.N8N_WEBHOOK_SECRET)) {
    problems.push('N8N_WEBHOOK_URL and N8N_WEBHOOK_SECRET: set both (the operator\'s deliveries are signed) or neither');
  }
  if (parsed.success) problems.push(...corsOriginsOf(parsed.data).flatMap((o) => originProblem(o) ?? []).map((p) => `CORS_ORIGINS: ${p}`));
  if (!parsed.success || problems.length > 0) throw new ConfigError(problems);
  const e: Env = parsed.data;
  const production = e.NODE_ENV === 'production';
  const databaseUrl = e.SUPABASE_POOLER_URL ?? e.SUPABASE_CONNECTION_STRING ?? e.SUPABASE_DATABASE_URL ?? e.DATABASE_URL;

  const evolutionUrl = e.EVOLUTION_API_URL ?? e.EVOLUTION_URL;
  return {
    env: e.NODE_ENV,
    production,
    port: e.PORT ?? (production ? 8080 : 3000),
    host: e.HOST,
    logLevel: e.LOG_LEVEL ?? (e.NODE_ENV === 'test' ? 'silent' : 'info'),
    /** Unset: pretty in development on a terminal (server/index.ts), JSON otherwise. */
    logFormat: e.LOG_FORMAT || undefined,
    dataDir: e.DATA_DIR,
    version: e.APP_VERSION ?? 'dev',
    databaseUrl,
    databasePrepare: databasePrepare(e, databaseUrl),
    databasePoolMax: e.DATABASE_POOL_MAX,
    redisUrl: e.REDIS_URL,
    redisPrefix: e.REDIS_PREFIX,
    redisCache: e.ENABLE_REDIS_CACHE,
    // Unset outside production: infra/local-secrets.ts generates them into DATA_DIR on first boot.
    sessionSecret: e.SESSION_SECRET,
    /** Accepted besides SESSION_SECRET, which signs (secret rotation). */
    sessionSecretPrevious: e.SESSION_SECRET_PREVIOUS,
    encryptionKey: e.ENCRYPTION_KEY,
    metricsToken: e.METRICS_TOKEN,
    corsOrigins: corsOriginsOf(e),
    publicAppUrl: e.PUBLIC_APP_URL ?? 'http://localhost:5173',
    publicApiUrl: e.PUBLIC_API_URL,
    smtpUrl: e.SMTP_URL,
    mailFrom: e.MAIL_FROM,
    enablePagination: e.ENABLE_PAGINATION,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    enableTestRoutes: e.ENABLE_TEST_ROUTES,
    tokensCleanupEveryMs: e.TOKENS_CLEANUP_EVERY_MS,
    // Google sign-ins are counted per address only (the email is known after the exchange): a
    // clinic's staff behind one NAT must fit.
    rateLimits: { login: 10, register: 5, passwordReset: 5, public: 60, changePassword: 10, googleSignIn: 30 },
    supabase: {
      url: e.SUPABASE_URL,
      anonKey: e.SUPABASE_ANON_KEY,
      serviceRoleKey: e.SUPABASE_SERVICE_ROLE_KEY,
      /** The key sent to Supabase Auth with a user's token: the public one when set, else the service key. */
      authKey: e.SUPABASE_ANON_KEY ?? e.SUPABASE_SERVICE_ROLE_KEY,
      bucket: e.SUPABASE_STORAGE_BUCKET,
    },
    openai: {
      apiKey: e.OPENAI_API_KEY,
      baseUrl: e.OPENAI_BASE_URL,
      chatModel: e.OPENAI_CHAT_MODEL,
      embeddingModel: e.OPENAI_EMBEDDING_MODEL,
      embeddingDimensions: e.OPENAI_EMBEDDING_DIMENSIONS,
    },
    outboundAllowHosts: (e.OUTBOUND_ALLOW_HOSTS ?? '').split(',').map((h) => h.trim()).filter(Boolean),
    google: {
      clientId: e.GOOGLE_CLIENT_ID,
      clientSecret: e.GOOGLE_CLIENT_SECRET,
      redirectUri: e.GOOGLE_REDIRECT_URI,
      // The real Google endpoints unless a fake or emulator stands in.
      apiRootUrl: e.GOOGLE_API_ROOT_URL ?? 'https://www.googleapis.com/',
      oauthAuthUrl: e.GOOGLE_OAUTH_AUTH_URL ?? 'https://accounts.google.com/o/oauth2/v2/auth',
      oauthTokenUrl: e.GOOGLE_OAUTH_TOKEN_URL ?? 'https://oauth2.googleapis.com/token',
      // The PEM certificates google-auth-library checks ID tokens with on Node (v1; v3 is the JWK set).
      oauthCertsUrl: e.GOOGLE_OAUTH_CERTS_URL ?? 'https://www.googleapis.com/oauth2/v1/certs',
      /** Sign in with Google's own callback; without it and without PUBLIC_API_URL, sign-in is not configured. */
      signInRedirectUri: e.GOOGLE_SIGNIN_REDIRECT_URI ?? (e.PUBLIC_API_URL ? `${e.PUBLIC_API_URL.replace(/\/+$/, '')}/api/auth/google/callback` : undefined),
    },
    evolution: {
      url: evolutionUrl,
      apiKey: e.EVOLUTION_API_KEY,
      /** Per call; a send past it is `unconfirmed`, never resent blindly. */
      timeoutMs: e.EVOLUTION_TIMEOUT_MS,
      /** How often one worker of the cluster asks Evolution each number's real state. */
      probeEveryMs: e.WHATSAPP_PROBE_EVERY_MS,
    },
    /** Processed Evolution webhook payloads (message text) are deleted after this. */
    whatsappWebhookRetentionMs: e.WHATSAPP_WEBHOOK_RETENTION_HOURS * 3_600_000,
    whatsappSendRate: sendRate(e.WHATSAPP_SEND_RATE_PER_SECOND),
    n8n: { webhookUrl: e.N8N_WEBHOOK_URL, webhookSecret: e.N8N_WEBHOOK_SECRET, apiKey: e.N8N_API_KEY },
    webhooks: {
      retryScheduleMs: e.WEBHOOK_RETRY_SCHEDULE_MS,
      timeoutMs: e.WEBHOOK_TIMEOUT_MS,
      disableAfterFailures: e.WEBHOOK_DISABLE_AFTER_FAILURES,
      sweepEveryMs: e.WEBHOOK_SWEEP_EVERY_MS,
      subscriptionCacheMs: e.WEBHOOK_SUBSCRIPTION_CACHE_MS,
      retentionMs: e.WEBHOOK_DELIVERY_RETENTION_DAYS * 86_400_000,
    },
    webhookBaseUrl: e.WEBHOOK_BASE_URL,
    /** How long a process keeps a webhook's connection and WhatsApp number (0: not at all); other processes see a change after it. */
    webhookLookupCacheMs: e.WEBHOOK_LOOKUP_CACHE_MS,
  };
}

export type Config = ReturnType<typeof loadConfig>;

/** A per-second rate as the queue's window: whole sends per second, or one send per longer window. */
function sendRate(perSecond: number) {
  return perSecond >= 1 ? { max: Math.floor(perSecond), durationMs: 1000 } : { max: 1, durationMs: Math.round(1000 / perSecond) };
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n  - ${problems.join('\n  - ')}`);
  }
}

/** Which optional integrations have their variables set; never their values. */
export function integrationStatus(config: Config) {
  return {
    supabaseStorage: Boolean(config.supabase.url && config.supabase.serviceRoleKey),
    supabaseAuth: Boolean(config.supabase.url && config.supabase.authKey),
    openai: Boolean(config.openai.apiKey),
    googleCalendar: Boolean(config.google.clientId && config.google.clientSecret),
    googleSignIn: Boolean(config.google.clientId && config.google.clientSecret && config.google.signInRedirectUri),
    evolution: Boolean(config.evolution.url && config.evolution.apiKey),
    n8n: Boolean(config.n8n.webhookUrl),
    smtp: Boolean(config.smtpUrl),
  };
}
