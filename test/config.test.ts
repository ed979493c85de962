import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../server/config.js';

const SECRET = 'x'.repeat(32);
const production = {
  NODE_ENV: 'production',
  DATABASE_URL: 'postgres://u:p@db.example.com:5432/app',
  SESSION_SECRET: SECRET,
  ENCRYPTION_KEY: SECRET,
  SUPABASE_URL: 'https://projeto.supabase.co',
  SUPABASE_SERVICE_ROLE_KEY: 'service-role',
};

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  return [];
}

describe('config', () => {
  it('boots with no environment at all on the embedded defaults', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({ production: false, databaseUrl: undefined, redisUrl: undefined, dataDir: './.data' });
  });

  it('refuses production without a database, SESSION_SECRET or ENCRYPTION_KEY, naming each', () => {
    const problems = problemsOf({ NODE_ENV: 'production', FILE_STORAGE: 'local' });
    expect(problems).toHaveLength(3);
    expect(problems.join('\n')).toMatch(/DATABASE_URL/);
    expect(problems.join('\n')).toMatch(/SESSION_SECRET/);
    expect(problems.join('\n')).toMatch(/ENCRYPTION_KEY/);
    expect(problemsOf({ ...production, SESSION_SECRET: 'short' })).toEqual([expect.stringMatching(/^SESSION_SECRET/)]);
    expect(problemsOf({ ...production, ENCRYPTION_KEY: '' })).toEqual([expect.stringMatching(/^ENCRYPTION_KEY/)]);
    expect(problemsOf(production)).toEqual([]);
  });

  it('names invalid and missing variables together', () => {
    const problems = problemsOf({ NODE_ENV: 'production', PORT: 'oitenta', REDIS_URL: 'not a url' });
    const text = problems.join('\n');
    for (const name of ['PORT', 'REDIS_URL', 'DATABASE_URL', 'SESSION_SECRET', 'ENCRYPTION_KEY']) expect(text).toContain(name);
  });

  it('accepts any of the Supabase database variables, the pooler first, without prepared statements', () => {
    const config = loadConfig({
      ...production,
      DATABASE_URL: 'postgres://direct@db:5432/app',
      SUPABASE_POOLER_URL: 'postgres://pooler@aws-0-sa-east-1.pooler.supabase.com:6543/postgres',
    });
    expect(config.databaseUrl).toContain('pooler@');
    expect(config.databasePrepare).toBe(false);
    expect(loadConfig({ ...production, DATABASE_URL: '', SUPABASE_DATABASE_URL: 'postgres://s@db:5432/x' }).databaseUrl).toBe('postgres://s@db:5432/x');
  });

  it('prepares statements on a direct connection, and DATABASE_PREPARE overrides the guess either way', () => {
    expect(loadConfig({ ...production, DATABASE_URL: 'postgres://direct@db:5432/app' }).databasePrepare).toBe(true);
    expect(loadConfig({ ...production, DATABASE_URL: 'postgres://u@db.example.com:6543/app' }).databasePrepare).toBe(false);
    expect(loadConfig({ ...production, DATABASE_URL: 'postgres://direct@db:5432/app', DATABASE_PREPARE: 'false' }).databasePrepare).toBe(false);
    // A pooler in session mode keeps its server connection: prepared statements work there.
    expect(loadConfig({ ...production, SUPABASE_POOLER_URL: 'postgres://p@aws-0-sa-east-1.pooler.supabase.com:5432/postgres', DATABASE_PREPARE: 'true' }).databasePrepare).toBe(true);
  });

  it('accepts EVOLUTION_URL as an alias of EVOLUTION_API_URL (which wins when both are set)', () => {
    expect(loadConfig({ EVOLUTION_URL: 'http://evo.local:8080' }).evolution.url).toBe('http://evo.local:8080');
    expect(loadConfig({ EVOLUTION_URL: 'http://old.local', EVOLUTION_API_URL: 'http://new.local' }).evolution.url).toBe('http://new.local');
  });

  it('production defaults: port 8080, no CORS origin unless listed, secure cookies', () => {
    const config = loadConfig(production);
    expect(config.port).toBe(8080);
    expect(config.corsOrigins).toEqual([]);
    expect(loadConfig({ ...production, CORS_ORIGINS: 'https://app.operabase.com.br, https://*.preview.operabase.com.br' }).corsOrigins).toEqual([
      'https://app.operabase.com.br',
      'https://*.preview.operabase.com.br',
    ]);
  });

  it('refuses a CORS wildcard over a public suffix, private ones included, saying why', () => {
    for (const pattern of ['https://*.vercel.app', 'https://*.netlify.app', 'https://*.pages.dev', 'https://*.github.io', 'https://*.herokuapp.com', 'https://*.onrender.com', 'https://*.com.br', 'https://*.co.uk']) {
      for (const env of [{}, production]) {
        const problems = problemsOf({ ...env, CORS_ORIGINS: `https://app.operabase.com.br,${pattern}` });
        expect(problems, pattern).toHaveLength(1);
        expect(problems[0], pattern).toMatch(/^CORS_ORIGINS: .*(shared hosting suffix|public suffix).*act as a signed-in user/);
        expect(problems[0]).toContain(pattern);
      }
    }
    // Under a domain someone owns the wildcard is theirs: the clinic's own, or one Vercel project's.
    for (const pattern of ['https://*.preview.operabase.com.br', 'https://*.operabase.com.br', 'https://*.minha-clinica.vercel.app', 'http://*.clinic.test:5173']) {
      expect(problemsOf({ CORS_ORIGINS: pattern }), pattern).toEqual([]);
    }
  });

  it('refuses CORS entries that are not origins or put the wildcard elsewhere', () => {
    for (const entry of ['https://app.operabase.com.br/', 'app.operabase.com.br', 'https://app-*.operabase.com.br', 'https://*.*.operabase.com.br', 'https://*.10.0.0.1', '*']) {
      expect(problemsOf({ CORS_ORIGINS: entry }), entry).toEqual([expect.stringMatching(/^CORS_ORIGINS: /)]);
    }
  });

  it('refuses production without file storage unless local storage is chosen explicitly', () => {
    const { SUPABASE_URL: _url, SUPABASE_SERVICE_ROLE_KEY: _key, ...noStorage } = production;
    expect(problemsOf(noStorage)).toEqual([expect.stringMatching(/^SUPABASE_URL and SUPABASE_SERVICE_ROLE_KEY: required in production .*FILE_STORAGE=local/)]);
    expect(problemsOf({ ...noStorage, SUPABASE_URL: 'https://projeto.supabase.co' })).toHaveLength(1);
    expect(problemsOf({ ...noStorage, FILE_STORAGE: 'local' })).toEqual([]);
    expect(problemsOf({ FILE_STORAGE: 'disk' })).toEqual([expect.stringMatching(/^FILE_STORAGE/)]);
    // Development stays on local files without being asked.
    expect(problemsOf({})).toEqual([]);
  });

  it('refuses a REDIS_URL without a redis:// or rediss:// scheme', () => {
    for (const url of ['localhost:6379', '127.0.0.1:6379', 'http://cache:6379']) {
      expect(problemsOf({ REDIS_URL: url }), url).toEqual([expect.stringMatching(/^REDIS_URL: use redis:\/\/host:port/)]);
    }
    expect(loadConfig({ REDIS_URL: 'rediss://cache.example.com:6380' }).redisUrl).toBe('rediss://cache.example.com:6380');
    expect(loadConfig({ REDIS_URL: 'redis://127.0.0.1:6379' }).redisUrl).toBe('redis://127.0.0.1:6379');
  });

  it('`npx tsx server/index.ts` in production with no env exits non-zero with one message naming every missing variable', async () => {
    const env: Record<string, string> = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', NODE_ENV: 'production' };
    const child = spawn('npx', ['tsx', 'server/index.ts'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code).not.toBe(0);
    expect(stderr).toContain('Invalid configuration');
    expect(stderr.match(/Invalid configuration/g)).toHaveLength(1);
    for (const name of ['DATABASE_URL', 'SESSION_SECRET', 'ENCRYPTION_KEY']) expect(stderr).toContain(name);
    expect(stderr).not.toMatch(/\n\s+at /);
  }, 60_000);
});
