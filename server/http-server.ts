import { createServer, type Server } from 'node:http';
import type { App } from './app.js';
import type { Infra } from './infra/index.js';
import { identifySocket } from './http/socket-auth.js';

export interface StartServerOptions {
  port: number;
  host?: string;
  /** How often each socket's credential is checked again (default 60 s; tests shorten it). */
  socketRecheckMs?: number;
}

/**
 * The HTTP server with Socket.IO attached on the same port, listening. The process entry and the
 * tests that need a real port (sockets, browser) both start the API through this one function.
 */
export async function startServer(infra: Infra, { app, authenticator, isAllowedOrigin }: App, opts: StartServerOptions): Promise<Server> {
  const server = createServer(app);
  // Longer than the ALB/nginx idle timeouts, so the proxy closes idle connections first.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  infra.realtime.attach(server, {
    identify: identifySocket(authenticator),
    isAllowedOrigin,
    redis: infra.redis,
    log: infra.log,
    recheckMs: opts.socketRecheckMs,
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}

/** The port the server actually listens on (tests listen on port 0). */
export function listeningPort(server: Server): number {
  const address = server.address();
  if (typeof address !== 'object' || !address) throw new Error('server is not listening');
  return address.port;
}
