import type { IncomingMessage } from 'node:http';
import type { SocketIdentity } from '../infra/realtime.js';
import type { Authenticator } from './auth.js';

/** Socket handshakes are authenticated by the same code as HTTP requests: session cookie or API key. */
export const identifySocket =
  (authenticator: Authenticator) =>
  async (req: IncomingMessage, token: string | undefined): Promise<SocketIdentity> => {
    const { clinicId, actor } = await authenticator.authenticate({
      authorization: token ? `Bearer ${token}` : req.headers.authorization,
      cookie: req.headers.cookie,
    });
    return { clinicId, userId: actor.type === 'user' ? actor.userId : null };
  };
