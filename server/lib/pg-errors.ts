import { setTimeout as sleep } from 'node:timers/promises';
import { DrizzleQueryError } from 'drizzle-orm';

/** The SQLSTATE of a Postgres error, looking through drizzle's wrapper (`DrizzleQueryError.cause`). */
export function pgErrorCode(err: unknown): string | undefined {
  for (let e = err as { code?: unknown; cause?: unknown } | undefined, depth = 0; e && depth < 5; e = e.cause as typeof e, depth++) {
    if (typeof e.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code)) return e.code;
  }
  return undefined;
}

/** The constraint a violation names (postgres.js: constraint_name; PGlite: constraint). */
export function pgConstraint(err: unknown): string | undefined {
  for (let e = err as Record<string, unknown> | undefined, depth = 0; e && depth < 5; e = e.cause as typeof e, depth++) {
    const name = e.constraint_name ?? e.constraint;
    if (typeof name === 'string') return name;
  }
  return undefined;
}

export const UNIQUE_VIOLATION = '23505';
export const EXCLUSION_VIOLATION = '23P01';
export const CHECK_VIOLATION = '23514';
export const FOREIGN_KEY_VIOLATION = '23503';
export const DEADLOCK_DETECTED = '40P01';

/** Transactions tried in all by `retryOnDeadlock`. */
const DEADLOCK_ATTEMPTS = 3;

/**
 * Runs a whole transaction again when Postgres aborted it to break a deadlock. Two inserts racing
 * for one slot deadlock inside an exclusion constraint (each waits for the other's index entry;
 * about one race in a hundred here): run again, the loser meets the winner's committed row. Only
 * for transactions with no effect outside the database.
 */
export async function retryOnDeadlock<T>(transaction: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await transaction();
    } catch (err) {
      if (pgErrorCode(err) !== DEADLOCK_DETECTED || attempt >= DEADLOCK_ATTEMPTS) throw err;
    }
  }
}

/** Postgres refusing work as a whole: connection failures (08), shutting down or starting up (57P01-03), out of connections. */
const UNAVAILABLE_SQLSTATE = /^(08[0-9A-Z]{3}|57P0[123]|53300)$/;
/** The driver's own words for a connection that failed or went away (postgres.js codes, socket errors). */
const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'CONNECTION_CLOSED',
  'CONNECTION_DESTROYED',
  'CONNECTION_ENDED',
  'CONNECT_TIMEOUT',
  // Ours: the outage gate refused the query without trying (server/infra/db.ts).
  'DATABASE_DOWN',
]);

/**
 * Whether a query failed because the database could not be reached (down, restarting, out of
 * connections): a retryable outage, not a bug. Only the error itself and, under drizzle's wrapper,
 * the driver's: a socket error deeper down belongs to something else (an outbound fetch).
 */
export function databaseUnreachable(err: unknown): boolean {
  const driver = err instanceof DrizzleQueryError ? err.cause : err;
  const code = (driver as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && (CONNECTION_CODES.has(code) || UNAVAILABLE_SQLSTATE.test(code));
}

/**
 * Runs a write that must not be dropped (what the outside world already saw) until it lands: while
 * the database is unreachable it is tried again every `waitMs`, up to `giveUpAt`; any other error,
 * or the last outage error, is thrown.
 */
export async function retryWhileUnreachable<T>(attempt: () => Promise<T>, opts: { waitMs: number; giveUpAt: number }): Promise<T> {
  for (;;) {
    try {
      return await attempt();
    } catch (err) {
      if (!databaseUnreachable(err) || Date.now() + opts.waitMs > opts.giveUpAt) throw err;
      await sleep(opts.waitMs);
    }
  }
}
