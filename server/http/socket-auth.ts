import type { IncomingMessage } from 'node:http';
import type { IdentifySocket } from '../infra/realtime.js';
import type { Authenticated, Authenticator } from './auth.js';
import { AppError } from './errors.js';
import { EVENT_READ_PERMISSIONS } from './event-permissions.js';
import { can } from './permissions.js';

/**
 * Socket handshakes (and their periodic re-checks) are authenticated by the same code as HTTP
 * requests: session cookie or API key. A refused credential (4xx) is null; an outage throws.
 */
export const identifySocket =
  (authenticator: Authenticator): IdentifySocket =>
  async (req: IncomingMessage, token: string | undefined) => {
    let identity: Authenticated;
    try {
      identity = await authenticator.authenticate({
        authorization: token ? `Bearer ${token}` : req.headers.authorization,
        cookie: req.headers.cookie,
      });
    } catch (err) {
      if (err instanceof AppError && err.status < 500) return null;
      throw err;
    }
    const { clinicId, actor, session } = identity;
    return {
      clinicId,
      userId: actor.type === 'user' ? actor.userId : null,
      sessionId: session?.id ?? null,
      apiKeyId: actor.type === 'api_key' ? actor.apiKeyId : null,
      permissions: EVENT_READ_PERMISSIONS.filter((permission) => can(actor, permission)),
    };
  };
