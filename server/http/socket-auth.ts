import type { IncomingMessage } from 'node:http';
import type { IdentifySocket } from '../infra/realtime.js';
import type { Authenticated, Authenticator } from './auth.js';
import { AppError } from '../lib/errors.js';
import { EVENT_READ_PERMISSIONS } from '../lib/event-permissions.js';
import { can } from '../lib/permissions.js';

/**
 * Socket handshakes (and their periodic re-checks) are authenticated by the same code as HTTP
 * requests: an API key, or the session cookie read from the same store. A refused credential (4xx) is null; an outage throws.
 */
export const identifySocket =
  (authenticator: Authenticator): IdentifySocket =>
  async (req: IncomingMessage, token: string | undefined) => {
    let identity: Authenticated;
    try {
      // Each call reads the store again (a re-check reuses the handshake's request): an expired or
      // destroyed session is seen as such.
      identity = await authenticator.authenticate({ authorization: token ? `Bearer ${token}` : req.headers.authorization, req });
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
      admin: actor.type === 'user' && actor.role === 'admin',
    };
  };
