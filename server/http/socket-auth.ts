import type { IncomingMessage } from 'node:http';
import type { Sessions } from '../infra/sessions.js';
import type { SocketIdentity } from '../infra/realtime.js';
import type { Authenticator } from './auth.js';

/** Socket handshakes are authenticated by the same code as HTTP requests: session cookie or API key. */
export const identifySocket =
  (authenticator: Authenticator, sessions: Sessions) =>
  async (req: IncomingMessage, token: string | undefined, socketId: string): Promise<SocketIdentity> => {
    const ctx = await authenticator.authenticate(
      {
        authorization: token ? `Bearer ${token}` : req.headers.authorization,
        session: (await sessions.read(req.headers.cookie))?.data,
      },
      { requestId: socketId, ip: req.socket.remoteAddress, userAgent: req.headers['user-agent'] },
    );
    return { clinicId: ctx.clinicId, userId: ctx.actor.type === 'user' ? ctx.actor.userId : null };
  };
