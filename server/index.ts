import { ConfigError, integrationStatus, loadConfig } from './config.js';
import { createApp } from './app.js';
import { closeInfra, createInfra } from './infra/index.js';
import { createLogger, errorForLog } from './infra/logger.js';
import { createModules } from './modules/index.js';
import { listeningPort, startServer } from './http-server.js';

async function main() {
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
  const log = createLogger({ level: config.logLevel });
  process.on('unhandledRejection', (reason) => log.error({ err: errorForLog(reason) }, 'unhandled rejection'));

  // Ordered start: database -> Redis -> queue -> HTTP -> sockets.
  const infra = await createInfra(config, log);
  const modules = createModules(infra);
  await infra.queue.start(modules.jobs);
  infra.events.start();
  let draining = false;
  const app = createApp({ infra, modules, draining: () => draining });
  const server = await startServer(infra, app, { port: config.port, host: config.host });
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
