import type { IncomingMessage } from 'node:http';
import type { Sessions } from '../infra/sessions.js';
import type { SocketIdentity } from '../infra/realtime.js';
import type { Authenticator } from './auth.js';

/** Socket handshakes are authenticated by the same code as HTTP requests: session cookie or API key. */
export const identifySocket =
  (authenticator: Authenticator, sessions: Sessions) =>
  async (req: IncomingMessage, token: string | undefined): Promise<SocketIdentity> => {
    const { clinicId, actor } = await authenticator.authenticate({
      authorization: token ? `Bearer ${token}` : req.headers.authorization,
      session: (await sessions.read(req.headers.cookie))?.data,
    });
    return { clinicId, userId: actor.type === 'user' ? actor.userId : null };
  };
