import type { IncomingMessage } from 'node:http';
import { and, asc, eq, isNull, sql } from 'drizzle-orm';
import { apiKeys, clinics, memberships, users } from '../../shared/schema/index.js';
import type { Cache } from '../infra/cache.js';
import { ClinicData } from '../infra/clinic-data.js';
import type { Db } from '../infra/db.js';
import { Sessions, type ActiveSession } from '../infra/sessions.js';
import type { Account, Identity } from './context.js';
import { AppError, unauthorized } from '../lib/errors.js';
import { hashToken } from '../lib/tokens.js';

export const API_KEY_PREFIX = 'opb_';
/** Dropped whenever the user, a membership of theirs or one of their clinics changes. */
export const accountCacheGroup = (userId: string) => `account:${userId}`;
export const apiKeyCacheKey = (hash: string) => `apikey:${hash}`;
/** What a request or socket handshake presents: an API key, or a session cookie (read by `Sessions.read`). */
export interface Credentials {
  authorization: string | undefined;
  req: IncomingMessage;
}

/** An identity, and the session it came from (none for an API key): its id names it to whoever ends it. */
export type Authenticated = Identity & { session?: ActiveSession };

interface CachedKey {
  id: string;
  clinicId: string;
  scopes: string[];
}

const CACHE_TTL_SECONDS = 60;
const LAST_USED_EVERY_MS = 60_000;

/**
 * The user's row once per active membership (once with nulls for none), across clinics on purpose:
 * the account lists every clinic the user belongs to. One round trip, built once per database
 * handle (drizzle's query building costs as much as the query on this path).
 */
function accountQuery(systemDb: Db) {
  return systemDb
    .select({
      id: users.id,
      name: users.name,
      email: users.email,
      sessionsValidAfter: users.sessionsValidAfter,
      clinicId: memberships.clinicId,
      clinicName: clinics.name,
      clinicTimezone: clinics.timezone,
      role: memberships.role,
      isProfessional: memberships.isProfessional,
    })
    .from(users)
    .leftJoin(memberships, and(eq(memberships.userId, users.id), eq(memberships.active, true)))
    .leftJoin(clinics, eq(clinics.id, memberships.clinicId))
    .where(eq(users.id, sql.placeholder('userId')))
    .orderBy(asc(memberships.createdAt))
    .prepare('account');
}
const accountQueries = new WeakMap<Db, ReturnType<typeof accountQuery>>();

/**
 * The user and their active memberships, one cache entry per user: every session-authenticated
 * request reads it, and `GET /api/auth/me` answers from the same entry.
 */
export function loadAccount(systemDb: Db, cache: Cache, userId: string): Promise<Account | null> {
  return cache.wrap(
    'account',
    CACHE_TTL_SECONDS,
    async () => {
      let query = accountQueries.get(systemDb);
      if (!query) accountQueries.set(systemDb, (query = accountQuery(systemDb)));
      const rows = await query.execute({ userId });
      const [first] = rows;
      if (!first) return null;
      const active = rows.flatMap((r) =>
        r.clinicId && r.role && r.clinicName !== null && r.clinicTimezone !== null && r.isProfessional !== null
          ? [{ clinicId: r.clinicId, clinicName: r.clinicName, clinicTimezone: r.clinicTimezone, role: r.role, isProfessional: r.isProfessional }]
          : [],
      );
      return { user: { id: first.id, name: first.name, email: first.email }, sessionsValidAfter: first.sessionsValidAfter?.getTime() ?? null, memberships: active };
    },
    accountCacheGroup(userId),
  );
}

/** Turns a session cookie or an API key into the request's tenant context. */
export class Authenticator {
  private readonly lastUsedWrites = new Map<string, number>();

  /** `systemDb`: authentication comes before any clinic is known, so its reads cross clinics. */
  constructor(
    private readonly systemDb: Db,
    private readonly cache: Cache,
    private readonly sessions: Sessions,
  ) {}

  async authenticate(credentials: Credentials, opts: { userOnly?: boolean } = {}): Promise<Authenticated> {
    const header = credentials.authorization;
    if (header?.startsWith('Bearer ')) {
      if (opts.userOnly) throw new AppError(403, 'user_session_required', 'This action needs a signed-in user, not an API key');
      return this.fromApiKey(header.slice(7).trim());
    }
    // No cookie, no store read (and no session object made for nothing).
    if (!Sessions.presented(credentials.req)) throw unauthorized();
    // The account is read while the session is: two Redis round trips at once, not one after the other.
    let early: { userId: string; account: Promise<Account | null> } | undefined;
    const session = await this.sessions.read(credentials.req, (userId) => {
      const account = loadAccount(this.systemDb, this.cache, userId);
      // Awaited below unless the session turns out missing or the store fails; never unhandled.
      account.catch(() => {});
      early = { userId, account };
    });
    if (!session) throw unauthorized();
    const { userId, clinicId, startedAt } = session;
    const account = await (early?.userId === userId ? early.account : loadAccount(this.systemDb, this.cache, userId));
    const membership = account?.memberships.find((m) => m.clinicId === clinicId);
    if (!account || !membership) throw new AppError(401, 'session_invalid', 'Your access to this clinic has ended; sign in again');
    if (account.sessionsValidAfter !== null && startedAt < account.sessionsValidAfter) {
      throw new AppError(401, 'session_expired', 'Your password was changed; sign in again');
    }
    return { clinicId, actor: { type: 'user', userId, role: membership.role, isProfessional: membership.isProfessional }, account, session };
  }

  private async fromApiKey(key: string): Promise<Identity> {
    if (!key.startsWith(API_KEY_PREFIX) || key.length > 200) throw new AppError(401, 'invalid_api_key', 'Invalid API key');
    const hash = hashToken(key);
    const found = await this.cache.wrap<CachedKey | null>(apiKeyCacheKey(hash), CACHE_TTL_SECONDS, async () => {
      // The key names its clinic: it is looked up before any clinic is known.
      const [row] = await this.systemDb
        .select({ id: apiKeys.id, clinicId: apiKeys.clinicId, scopes: apiKeys.scopes })
        .from(apiKeys)
        .where(and(eq(apiKeys.keyHash, hash), isNull(apiKeys.revokedAt)));
      return row ?? null;
    });
    if (!found) throw new AppError(401, 'invalid_api_key', 'Invalid API key');
    await this.touch(found.clinicId, found.id);
    return { clinicId: found.clinicId, actor: { type: 'api_key', apiKeyId: found.id, scopes: found.scopes } };
  }

  /** Records last use at most once a minute per key per instance. */
  private async touch(clinicId: string, id: string) {
    const now = Date.now();
    if ((this.lastUsedWrites.get(id) ?? 0) > now - LAST_USED_EVERY_MS) return;
    this.lastUsedWrites.set(id, now);
    await new ClinicData(clinicId, this.systemDb).update(apiKeys, { lastUsedAt: new Date(now) }, eq(apiKeys.id, id));
  }
}
