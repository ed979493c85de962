import { z } from 'zod';

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
  DATA_DIR: z.string().default('./.data'),
  APP_VERSION: optionalString,

  // Database: first one set wins, in this order.
  SUPABASE_POOLER_URL: optionalUrl,
  SUPABASE_CONNECTION_STRING: optionalUrl,
  SUPABASE_DATABASE_URL: optionalUrl,
  DATABASE_URL: optionalUrl,
  DATABASE_POOL_MAX: z.coerce.number().int().min(1).max(100).default(10),

  REDIS_URL: optionalUrl,
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

  OPENAI_API_KEY: optionalString,
  OPENAI_BASE_URL: optionalUrl,
  GOOGLE_CLIENT_ID: optionalString,
  GOOGLE_CLIENT_SECRET: optionalString,
  GOOGLE_REDIRECT_URI: optionalUrl,
  GOOGLE_WEBHOOK_TOKEN: optionalString,
  EVOLUTION_API_URL: optionalUrl,
  EVOLUTION_URL: optionalUrl,
  EVOLUTION_API_KEY: optionalString,
  N8N_WEBHOOK_URL: optionalUrl,
  N8N_API_KEY: optionalString,
  WEBHOOK_BASE_URL: optionalUrl,
});

type Env = z.infer<typeof envSchema>;

const DEV_ORIGINS = ['http://localhost:5173', 'http://localhost:3000', 'http://127.0.0.1:5173', 'http://127.0.0.1:3000'];

const DATABASE_VARS = ['SUPABASE_POOLER_URL', 'SUPABASE_CONNECTION_STRING', 'SUPABASE_DATABASE_URL', 'DATABASE_URL'] as const;

/** What production cannot run without; checked on the raw values so they are named even when other variables are invalid. */
function productionProblems(env: NodeJS.ProcessEnv): string[] {
  const set = (name: string) => (env[name] ?? '').trim();
  const problems: string[] = [];
  if (!DATABASE_VARS.some((name) => set(name))) problems.push('DATABASE_URL (or SUPABASE_POOLER_URL/SUPABASE_CONNECTION_STRING/SUPABASE_DATABASE_URL): required in production');
  if (set('SESSION_SECRET').length < 32) problems.push('SESSION_SECRET: required in production, at least 32 characters');
  if (set('SESSION_SECRET_PREVIOUS') && set('SESSION_SECRET_PREVIOUS').length < 32) problems.push('SESSION_SECRET_PREVIOUS: at least 32 characters when set');
  if (set('ENCRYPTION_KEY').length < 32) problems.push('ENCRYPTION_KEY: required in production, at least 32 characters');
  return problems;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env) {
  const parsed = envSchema.safeParse(env);
  // One message naming every invalid and every missing variable.
  const problems = parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  if (env.NODE_ENV === 'production') problems.push(...productionProblems(env));
  if (!parsed.success || problems.length > 0) throw new ConfigError(problems);
  const e: Env = parsed.data;
  const production = e.NODE_ENV === 'production';
  const databaseUrl = e.SUPABASE_POOLER_URL ?? e.SUPABASE_CONNECTION_STRING ?? e.SUPABASE_DATABASE_URL ?? e.DATABASE_URL;

  const evolutionUrl = e.EVOLUTION_API_URL ?? e.EVOLUTION_URL;
  const sessionSecret = e.SESSION_SECRET ?? 'dev-only-session-secret-change-me-0123456789';
  return {
    env: e.NODE_ENV,
    production,
    port: e.PORT ?? (production ? 8080 : 3000),
    host: e.HOST,
    logLevel: e.LOG_LEVEL ?? (e.NODE_ENV === 'test' ? 'silent' : 'info'),
    dataDir: e.DATA_DIR,
    version: e.APP_VERSION ?? 'dev',
    databaseUrl,
    // Supabase's transaction pooler (port 6543 or a *.pooler.supabase.com host) cannot hold prepared statements.
    databaseIsPooler: Boolean(e.SUPABASE_POOLER_URL) || /pooler\.supabase\.com|:6543\//.test(databaseUrl ?? ''),
    databasePoolMax: e.DATABASE_POOL_MAX,
    redisUrl: e.REDIS_URL,
    redisPrefix: e.REDIS_PREFIX,
    redisCache: e.ENABLE_REDIS_CACHE,
    sessionSecret,
    /** The first signs session cookies; every one is accepted (secret rotation). */
    sessionSecrets: [sessionSecret, ...(e.SESSION_SECRET_PREVIOUS ? [e.SESSION_SECRET_PREVIOUS] : [])],
    encryptionKey: e.ENCRYPTION_KEY ?? 'dev-only-encryption-key-change-me-0123456789',
    metricsToken: e.METRICS_TOKEN,
    corsOrigins: e.CORS_ORIGINS ? e.CORS_ORIGINS.split(',').map((o) => o.trim()).filter(Boolean) : production ? [] : DEV_ORIGINS,
    publicAppUrl: e.PUBLIC_APP_URL ?? 'http://localhost:5173',
    publicApiUrl: e.PUBLIC_API_URL,
    smtpUrl: e.SMTP_URL,
    mailFrom: e.MAIL_FROM,
    enablePagination: e.ENABLE_PAGINATION,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    enableTestRoutes: e.ENABLE_TEST_ROUTES,
    tokensCleanupEveryMs: e.TOKENS_CLEANUP_EVERY_MS,
    rateLimits: { login: 10, register: 5, passwordReset: 5, public: 60 },
    supabase: {
      url: e.SUPABASE_URL,
      anonKey: e.SUPABASE_ANON_KEY,
      serviceRoleKey: e.SUPABASE_SERVICE_ROLE_KEY,
      /** The key sent to Supabase Auth with a user's token: the public one when set, else the service key. */
      authKey: e.SUPABASE_ANON_KEY ?? e.SUPABASE_SERVICE_ROLE_KEY,
      bucket: e.SUPABASE_STORAGE_BUCKET,
    },
    openai: { apiKey: e.OPENAI_API_KEY, baseUrl: e.OPENAI_BASE_URL },
    google: {
      clientId: e.GOOGLE_CLIENT_ID,
      clientSecret: e.GOOGLE_CLIENT_SECRET,
      redirectUri: e.GOOGLE_REDIRECT_URI,
      webhookToken: e.GOOGLE_WEBHOOK_TOKEN,
    },
    evolution: { url: evolutionUrl, apiKey: e.EVOLUTION_API_KEY },
    n8n: { webhookUrl: e.N8N_WEBHOOK_URL, apiKey: e.N8N_API_KEY },
    webhookBaseUrl: e.WEBHOOK_BASE_URL,
  };
}

export type Config = ReturnType<typeof loadConfig>;

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
    evolution: Boolean(config.evolution.url && config.evolution.apiKey),
    n8n: Boolean(config.n8n.webhookUrl),
    smtp: Boolean(config.smtpUrl),
  };
}
