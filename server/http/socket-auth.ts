import { ServerResponse, type IncomingMessage } from 'node:http';
import type { SocketIdentity } from '../infra/realtime.js';
import type { Identity } from './context.js';
import type { Authenticator } from './auth.js';

/** What a socket carries: the whole identity, and the session id of a cookie-authenticated one. */
export type HandshakeIdentity = SocketIdentity & Identity & { sessionId?: string };

/**
 * Socket handshakes are authenticated by the same code as HTTP requests: an API key, or the
 * session cookie read by the same express-session middleware (on a response that is never sent).
 */
export const identifySocket =
  (authenticator: Authenticator) =>
  async (req: IncomingMessage, token: string | undefined): Promise<HandshakeIdentity> => {
    const { clinicId, actor, session } = await authenticator.authenticate({
      authorization: token ? `Bearer ${token}` : req.headers.authorization,
      req,
      res: new ServerResponse(req),
    });
    return { clinicId, actor, userId: actor.type === 'user' ? actor.userId : null, sessionId: session?.id };
  };
