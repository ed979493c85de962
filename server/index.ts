import { existsSync } from 'node:fs';
import { isIP } from 'node:net';
import { ConfigError, integrationStatus, loadConfig, type Config } from './config.js';
import { createApp } from './app.js';
import { databaseStartupProblem } from './infra/db.js';
import { closeInfra, createInfra } from './infra/index.js';
import { createLogger, errorForLog } from './infra/logger.js';
import { createModules } from './modules/index.js';
import { listeningPort, startServer } from './http-server.js';

const isLoopback = (host: string) => host === 'localhost' || host === '::1' || (isIP(host) === 4 && host.startsWith('127.'));

/** Where to listen: HOST, else loopback for the embedded database (a laptop's data stays on it), else every interface. */
const listenHost = (config: Config) => config.host ?? (config.databaseUrl ? undefined : '127.0.0.1');

async function main() {
  // A .env in the working directory is read when present; variables already set win.
  if (existsSync('.env')) process.loadEnvFile('.env');
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
  const pretty = config.logFormat ? config.logFormat === 'pretty' : config.env === 'development' && process.stdout.isTTY;
  const log = createLogger({ level: config.logLevel, pretty });
  process.on('unhandledRejection', (reason) => log.error({ err: errorForLog(reason) }, 'unhandled rejection'));

  // Ordered start: database -> Redis -> queue -> event relay -> HTTP -> sockets.
  let infra;
  try {
    infra = await createInfra(config, log);
  } catch (err) {
    const problem = databaseStartupProblem(err, config.databaseUrl);
    if (!problem) throw err;
    log.flush();
    process.stderr.write(`Failed to start: ${problem}\n`);
    process.exit(1);
  }
  const modules = createModules(infra);
  await infra.queue.start(modules.jobs);
  infra.events.start();
  let draining = false;
  const app = createApp({ infra, modules, draining: () => draining });
  const host = listenHost(config);
  const server = await startServer(infra, app, { port: config.port, host });
  log.info(
    {
      version: config.version,
      mode: infra.database.kind === 'pglite' ? 'embedded' : 'production',
      database: infra.database.kind,
      redis: Boolean(infra.redis),
      queue: infra.queue.kind,
      storage: infra.storage.kind,
      integrations: integrationStatus(config),
      port: listeningPort(server),
    },
    'operabase api listening',
  );
  if (infra.database.kind === 'pglite' && !(host && isLoopback(host))) {
    log.warn({ host: host ?? 'all interfaces' }, 'embedded mode is reachable from other machines: it is meant for one laptop (set DATABASE_URL, SESSION_SECRET and ENCRYPTION_KEY for a shared server)');
  }
  if (config.production && !config.metricsToken) log.warn('METRICS_TOKEN is not set: GET /metrics is not served');
  if (!config.production) {
    const named = host && !isLoopback(host) && host !== '0.0.0.0' && host !== '::';
    const base = `http://${named ? host : 'localhost'}:${listeningPort(server)}`;
    log.info(`API at ${base}, reference at ${base}/api/docs; \`npm run seed\` creates a demo clinic and prints its logins`);
  }

  // Graceful stop: refuse new connections, let in-flight requests and jobs finish, then close
  // sockets, Redis and the pool. Bounded: after the timeout the process exits anyway.
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    draining = true;
    log.info({ signal }, 'shutting down');
    const timer = setTimeout(() => {
      log.error('shutdown timed out; exiting');
      process.exit(1);
    }, config.shutdownTimeoutMs);
    timer.unref();
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    // Keep-alive connections would hold close() open until they time out: close each one as soon
    // as its last request has been answered.
    const reaper = setInterval(() => server.closeIdleConnections(), 100);
    server.closeIdleConnections();
    // Upgraded WebSocket connections count as open connections and would hold server.close()
    // until the forced exit: disconnect them now (clients reconnect to another instance).
    await infra.realtime.close();
    await closed;
    clearInterval(reaper);
    await closeInfra(infra);
    log.info('stopped');
    log.flush();
    clearTimeout(timer);
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

main().catch((err: unknown) => {
  process.stderr.write(`Failed to start: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
