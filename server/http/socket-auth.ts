import type { IncomingMessage } from 'node:http';
import type { Request } from 'express';
import type { Logger } from '../infra/logger.js';
import type { SocketIdentity } from '../infra/realtime.js';
import type { Authenticator } from './auth.js';

/** Socket handshakes are authenticated by the same code as HTTP requests: session cookie or API key. */
export const identifySocket =
  (authenticator: Authenticator, log: Logger) =>
  async (req: IncomingMessage, token: string | undefined, socketId: string): Promise<SocketIdentity> => {
    const ctx = await authenticator.authenticate(
      {
        authorization: token ? `Bearer ${token}` : req.headers.authorization,
        // Set by the session middleware that Socket.IO's engine runs on the handshake.
        session: (req as Partial<Request>).session,
      },
      { requestId: socketId, log, ip: req.socket.remoteAddress, userAgent: req.headers['user-agent'] },
    );
    return { clinicId: ctx.clinicId, userId: ctx.actor.type === 'user' ? ctx.actor.userId : null };
  };
