import { and, eq, isNull } from 'drizzle-orm';
import { apiKeys, memberships, users } from '../../shared/schema/index.js';
import type { Cache } from '../infra/cache.js';
import type { Db } from '../infra/db.js';
import type { SessionData } from '../infra/sessions.js';
import type { Identity } from './context.js';
import { AppError, unauthorized } from './errors.js';
import type { Role } from './permissions.js';
import { hashToken } from '../lib/tokens.js';

export const API_KEY_PREFIX = 'opb_';
export const membershipCacheGroup = (clinicId: string) => `team:${clinicId}`;
export const apiKeyCacheKey = (hash: string) => `apikey:${hash}`;

interface CachedMembership {
  role: Role;
  isProfessional: boolean;
  /** Epoch ms (cached as JSON, so not a Date). */
  sessionsValidAfter: number | null;
}
/** What a request or socket handshake presents. */
export interface Credentials {
  authorization: string | undefined;
  session: SessionData | undefined;
}

interface CachedKey {
  id: string;
  clinicId: string;
  scopes: string[];
}

const CACHE_TTL_SECONDS = 60;
const LAST_USED_EVERY_MS = 60_000;

/** Turns a session cookie or an API key into the request's tenant context. */
export class Authenticator {
  private readonly lastUsedWrites = new Map<string, number>();

  constructor(
    private readonly db: Db,
    private readonly cache: Cache,
  ) {}

  async authenticate(credentials: Credentials, opts: { userOnly?: boolean } = {}): Promise<Identity> {
    const header = credentials.authorization;
    if (header?.startsWith('Bearer ')) {
      if (opts.userOnly) throw new AppError(403, 'user_session_required', 'This action needs a signed-in user, not an API key');
      return this.fromApiKey(header.slice(7).trim());
    }
    const { userId, clinicId, startedAt } = credentials.session ?? {};
    if (!userId || !clinicId) throw unauthorized();
    const membership = await this.membership(clinicId, userId);
    if (!membership) throw new AppError(401, 'session_invalid', 'Your access to this clinic has ended; sign in again');
    if (membership.sessionsValidAfter !== null && (startedAt ?? 0) < membership.sessionsValidAfter) {
      throw new AppError(401, 'session_expired', 'Your password was changed; sign in again');
    }
    return { clinicId, actor: { type: 'user', userId, role: membership.role, isProfessional: membership.isProfessional } };
  }

  /** Active membership of a user in a clinic, cached per clinic (team changes invalidate it). */
  async membership(clinicId: string, userId: string): Promise<CachedMembership | null> {
    return this.cache.wrap(
      `m:${userId}`,
      CACHE_TTL_SECONDS,
      async () => {
        const [row] = await this.db
          .select({ role: memberships.role, isProfessional: memberships.isProfessional, sessionsValidAfter: users.sessionsValidAfter })
          .from(memberships)
          .innerJoin(users, eq(users.id, memberships.userId))
          .where(and(eq(memberships.clinicId, clinicId), eq(memberships.userId, userId), eq(memberships.active, true)));
        return row ? { role: row.role, isProfessional: row.isProfessional, sessionsValidAfter: row.sessionsValidAfter?.getTime() ?? null } : null;
      },
      membershipCacheGroup(clinicId),
    );
  }

  private async fromApiKey(key: string): Promise<Identity> {
    if (!key.startsWith(API_KEY_PREFIX) || key.length > 200) throw new AppError(401, 'invalid_api_key', 'Invalid API key');
    const hash = hashToken(key);
    const found = await this.cache.wrap<CachedKey | null>(apiKeyCacheKey(hash), CACHE_TTL_SECONDS, async () => {
      const [row] = await this.db
        .select({ id: apiKeys.id, clinicId: apiKeys.clinicId, scopes: apiKeys.scopes })
        .from(apiKeys)
        .where(and(eq(apiKeys.keyHash, hash), isNull(apiKeys.revokedAt)));
      return row ?? null;
    });
    if (!found) throw new AppError(401, 'invalid_api_key', 'Invalid API key');
    await this.touch(found.id);
    return { clinicId: found.clinicId, actor: { type: 'api_key', apiKeyId: found.id, scopes: found.scopes } };
  }

  /** Records last use at most once a minute per key per instance. */
  private async touch(id: string) {
    const now = Date.now();
    if ((this.lastUsedWrites.get(id) ?? 0) > now - LAST_USED_EVERY_MS) return;
    this.lastUsedWrites.set(id, now);
    await this.db.update(apiKeys).set({ lastUsedAt: new Date(now) }).where(eq(apiKeys.id, id));
  }
}
