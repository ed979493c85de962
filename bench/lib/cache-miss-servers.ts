// The contenders of bench/cache-miss.ts, one process each, on a random port printed as `PORT n`:
//   node --import tsx bench/lib/cache-miss-servers.ts <express|app|app-account> <databaseUrl> <clinicId> <searchClinicId>
// `express`: a minimal Express 5 app whose three routes run the app's SQL with postgres.js
// (prepared). `app`: the API as the scheduling benchmark runs it (postgres.js pool, memory
// sessions, info logs to /dev/null) with a cache that never hits (`app-account`: except for the
// signed-in user's account). This file is also copied into
// an older checkout to measure its app in the same run (BENCH_BEFORE): it imports nothing newer.
import { createServer, type Server } from 'node:http';
import express from 'express';
import postgres from 'postgres';
import { pino } from 'pino';
import { loadConfig } from '../../server/config.js';
import { createApp } from '../../server/app.js';
import { createInfra } from '../../server/infra/index.js';
import { createLogger } from '../../server/infra/logger.js';
import { createModules } from '../../server/modules/index.js';
import { NoCache } from './no-cache.js';
import { INBOX_SQL, SEARCH_SQL, WEEK_SQL } from './cold-sql.js';

const listen = (server: Server) =>
  new Promise<number>((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)));

function expressApp(databaseUrl: string, clinicId: string, searchClinicId: string) {
  const sql = postgres(databaseUrl, { max: Number(process.env.BENCH_POOL_MAX ?? 10), onnotice: () => {} });
  const rows = (query: string, params: unknown[]) => sql.unsafe(query, params as never[], { prepare: true });
  const app = express();
  app.get('/api/appointments', async (req, res) => {
    const q = req.query as Record<string, string>;
    const from = new Date(q.from ?? '');
    const startsAfter = new Date(from.getTime() - 24 * 3600_000);
    const items = await rows(WEEK_SQL, [clinicId, clinicId, from, startsAfter, new Date(q.to ?? ''), q.professionalId, 201]);
    res.json({ items: items.slice(0, 200), nextCursor: null });
  });
  app.get('/api/conversations', async (_req, res) => {
    res.json({ items: (await rows(INBOX_SQL, [clinicId, clinicId, clinicId, clinicId, 51])).slice(0, 50), nextCursor: null });
  });
  app.get('/api/contacts', async (req, res) => {
    res.json({ items: (await rows(SEARCH_SQL, [searchClinicId, `%${String(req.query.search)}%`, 51, 0])).slice(0, 50), nextCursor: null });
  });
  return createServer(app);
}

async function apiApp(databaseUrl: string, keepAccounts: boolean) {
  const config = loadConfig({ NODE_ENV: 'development', DATABASE_URL: databaseUrl, CORS_ORIGINS: 'http://bench.local', LOG_LEVEL: 'info', DATA_DIR: '/tmp/opb-bench', ...(process.env.BENCH_POOL_MAX ? { DATABASE_POOL_MAX: process.env.BENCH_POOL_MAX } : {}) });
  const log = createLogger({ level: 'info', destination: pino.destination({ dest: '/dev/null', sync: false }) });
  const infra = await createInfra(config, log);
  infra.cache = new NoCache({ keepAccounts });
  const modules = createModules(infra);
  infra.events.start();
  const { app } = createApp({ infra, modules, rateLimits: { login: 1000, register: 1000, passwordReset: 1000, public: 100_000 } });
  return createServer(app);
}

const [kind, databaseUrl, clinicId, searchClinicId] = process.argv.slice(2) as [string, string, string, string];
const server = kind === 'express' ? expressApp(databaseUrl, clinicId, searchClinicId) : await apiApp(databaseUrl, kind === 'app-account');
process.stdout.write(`PORT ${await listen(server)}\n`);
