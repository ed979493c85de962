import { createServer, type Server } from 'node:http';
import express from 'express';
import postgres from 'postgres';
import { pino } from 'pino';
import { loadConfig } from '../server/config.js';
import { createApp } from '../server/app.js';
import { createInfra } from '../server/infra/index.js';
import { createLogger } from '../server/infra/logger.js';
import { createModules } from '../server/modules/index.js';
import { NoCache } from './lib/no-cache.js';
import { WEEK_SQL } from './lib/cold-sql.js';

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)));
}

function weekRows(sql: postgres.Sql, clinicId: string, url: URL) {
  const q = url.searchParams;
  return sql.unsafe(WEEK_SQL, [clinicId, new Date(q.get('from') ?? ''), new Date(q.get('to') ?? ''), q.get('professionalId') ?? ''], { prepare: true });
}

/** Serves one of the contenders on a random port and prints it; the parent process drives the load. */
export async function serve(kind: string, databaseUrl: string, clinicId: string): Promise<number> {
  if (kind === 'bare') {
    const sql = postgres(databaseUrl, { max: 10, onnotice: () => {} });
    return listen(
      createServer((req, res) => {
        const url = new URL(req.url ?? '/', 'http://x');
        weekRows(sql, clinicId, url).then(
          (rows) => {
            res.writeHead(200, { 'content-type': 'application/json' });
            res.end(JSON.stringify({ items: rows, nextCursor: null }));
          },
          () => {
            res.writeHead(500);
            res.end();
          },
        );
      }),
    );
  }
  if (kind === 'express') {
    const sql = postgres(databaseUrl, { max: 10, onnotice: () => {} });
    const app = express();
    app.get('/api/appointments', async (req, res) => {
      res.json({ items: await weekRows(sql, clinicId, new URL(req.url, 'http://x')), nextCursor: null });
    });
    return listen(createServer(app));
  }
  // The real app, production-like: postgres.js pool, memory cache, sessions, info logs (to /dev/null).
  const config = loadConfig({ NODE_ENV: 'development', DATABASE_URL: databaseUrl, CORS_ORIGINS: 'http://bench.local', LOG_LEVEL: 'info', DATA_DIR: '/tmp/opb-bench' });
  const log = createLogger({ level: 'info', destination: pino.destination({ dest: '/dev/null', sync: false }) });
  const infra = await createInfra(config, log);
  if (kind === 'app-nocache') infra.cache = new NoCache();
  const modules = createModules(infra);
  infra.events.start();
  const { app } = createApp({ infra, modules, rateLimits: { login: 1000, register: 1000, passwordReset: 1000, public: 100_000 } });
  return listen(createServer(app));
}
