import { createServer } from 'node:http';
import { ConfigError, integrationStatus, loadConfig } from './config.js';
import { createApp } from './app.js';
import { closeInfra, createInfra } from './infra/index.js';
import { createLogger } from './infra/logger.js';
import { createModules } from './modules/index.js';
import { identifySocket } from './http/socket-auth.js';

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
  process.on('unhandledRejection', (reason) => log.error({ err: reason }, 'unhandled rejection'));

  // Ordered start: database -> Redis -> queue -> HTTP -> sockets.
  const infra = await createInfra(config, log);
  const modules = createModules(infra);
  await infra.queue.start(modules.jobs);
  let draining = false;
  const { app, sessionMiddleware, authenticator, isAllowedOrigin } = createApp({ infra, modules, draining: () => draining });
  const server = createServer(app);
  // Longer than the ALB/nginx idle timeouts, so the proxy closes idle connections first.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  infra.realtime.attach(server, {
    sessionMiddleware,
    identify: identifySocket(authenticator, log),
    isAllowedOrigin,
    redis: infra.redis,
    log,
  });
  await new Promise<void>((resolve) => server.listen(config.port, config.host, resolve));
  const address = server.address();
  log.info(
    {
      version: config.version,
      mode: infra.database.kind === 'pglite' ? 'embedded' : 'production',
      database: infra.database.kind,
      redis: Boolean(infra.redis),
      queue: infra.queue.kind,
      storage: infra.storage.kind,
      integrations: integrationStatus(config),
      port: typeof address === 'object' && address ? address.port : config.port,
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
    // close() ends only the connections idle at that moment; a keep-alive connection whose request
    // finishes later would stay open for keepAliveTimeout (65 s), past the drain timeout.
    const idleSweep = setInterval(() => server.closeIdleConnections(), 200);
    server.closeIdleConnections();
    // Upgraded WebSocket connections count as open connections and would hold server.close()
    // until the forced exit: disconnect them now (clients reconnect to another instance).
    await infra.realtime.close();
    await closed;
    clearInterval(idleSweep);
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
