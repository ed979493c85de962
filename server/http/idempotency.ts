import { createHash, randomUUID } from 'node:crypto';
import { eq, lt } from 'drizzle-orm';
import { idempotencyKeys } from '../../shared/schema/index.js';
import { ClinicData } from '../infra/clinic-data.js';
import type { Db } from '../infra/db.js';
import { AppError, badRequest } from '../lib/errors.js';
import { databaseUnreachable, retryWhileUnreachable } from '../lib/pg-errors.js';

/** Keys are kept this long; a scheduled job prunes older ones. */
export const IDEMPOTENCY_TTL_MS = 24 * 3600_000;
const POLL_MS = 25;
/**
 * A claim still in progress after this long was left by an attempt that will never finish (its
 * process was killed, or the database went away before the key was freed): the next retry takes
 * it over instead of getting 409 for a day. Longer than nginx and the ALB let any request run
 * (180 s), so a live handler is never run a second time beside itself; the one case it can repeat
 * is a handler that committed in the instant before its process died.
 */
export const IDEMPOTENCY_STALE_MS = 300_000;
/** Freeing a key, or storing its answer, while the database is unreachable is tried again this often. */
const FREE_RETRY_MS = 500;

export interface StoredAnswer {
  status: number;
  body: unknown;
}

export interface IdempotencyScope {
  clinicId: string;
  /** Method and route template: `POST /appointments`. */
  route: string;
  key: string;
  /** The validated request, so that the same key with a different request is refused. */
  request: unknown;
}

export const readIdempotencyKey = (header: string | undefined): string | undefined => {
  if (header === undefined) return undefined;
  if (header.length === 0 || header.length > 200) throw badRequest('invalid_idempotency_key', 'Idempotency-Key must have 1 to 200 characters');
  return header;
};

const fingerprint = (request: unknown) => createHash('sha256').update(JSON.stringify(request) ?? '').digest('hex');

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * `Idempotency-Key` in the database, unique per clinic, route and key: the first request to insert
 * the key runs the handler and stores its answer; a retry gets that answer back; a retry racing the
 * first waits for it (up to `waitMs`, then 409 `idempotency_in_progress`); the same key with a
 * different request is a 422. A failed handler frees the key, so a retry runs again; a claim
 * abandoned by a dead attempt is taken over once stale.
 */
export class IdempotencyStore {
  constructor(
    private readonly db: Db,
    private readonly opts: { waitMs: number; staleMs?: number } = { waitMs: 10_000 },
  ) {}

  async run(scope: IdempotencyScope, handler: () => Promise<StoredAnswer>): Promise<StoredAnswer & { replayed: boolean }> {
    const print = fingerprint(scope.request);
    const data = new ClinicData(scope.clinicId, this.db);
    const deadline = Date.now() + this.opts.waitMs;
    for (;;) {
      const id = randomUUID();
      const [claimed] = await data
        .insert(idempotencyKeys, { id, route: scope.route, key: scope.key, fingerprint: print })
        .onConflictDoNothing()
        .returning({ id: idempotencyKeys.id })
        .catch(async (err: unknown) => {
          // The connection went away around the commit: the claim may be stored. Freed by its id
          // (only this attempt's), or the retry would meet a key held by nobody until it is stale.
          if (databaseUnreachable(err)) await this.free(data, id);
          throw err;
        });
      if (claimed) return { ...(await this.runClaimed(data, claimed.id, handler)), replayed: false };

      const [row] = await data.select(idempotencyKeys, eq(idempotencyKeys.route, scope.route), eq(idempotencyKeys.key, scope.key));
      // Freed by a failed first attempt in between: claim it again.
      if (!row) continue;
      if (row.fingerprint !== print) {
        throw new AppError(422, 'idempotency_key_reused', 'This Idempotency-Key was already used with a different request');
      }
      if (row.status === 'completed') return { status: row.responseStatus ?? 200, body: row.responseBody, replayed: true };
      // One retry wins the takeover (the update's condition), the others keep waiting for it.
      const staleBefore = new Date(Date.now() - (this.opts.staleMs ?? IDEMPOTENCY_STALE_MS));
      const [taken] = await data
        .update(idempotencyKeys, { createdAt: new Date() }, eq(idempotencyKeys.id, row.id), eq(idempotencyKeys.status, 'in_progress'), lt(idempotencyKeys.createdAt, staleBefore))
        .returning({ id: idempotencyKeys.id });
      if (taken) return { ...(await this.runClaimed(data, taken.id, handler)), replayed: false };
      if (Date.now() >= deadline) {
        throw new AppError(409, 'idempotency_in_progress', 'A request with this Idempotency-Key is still being processed; retry shortly', undefined, { 'Retry-After': '1' });
      }
      await sleep(POLL_MS);
    }
  }

  private async runClaimed(data: ClinicData, id: string, handler: () => Promise<StoredAnswer>): Promise<StoredAnswer> {
    let answer: StoredAnswer;
    try {
      answer = await handler();
    } catch (err) {
      await this.free(data, id);
      throw err;
    }
    // The handler's work is committed: it is answered, its answer stored once the database is back.
    // Dropped, the claim would go stale and a retry would run the handler a second time.
    await nowOrWhenBack(
      () => data.update(idempotencyKeys, { status: 'completed', responseStatus: answer.status, responseBody: answer.body ?? null, completedAt: new Date() }, eq(idempotencyKeys.id, id)),
      Date.now() + IDEMPOTENCY_STALE_MS - 60_000,
    );
    return answer;
  }

  /**
   * A failed attempt frees its key. When it failed because the database went away, the delete
   * fails too: it goes on in the background, so the client's retry runs as soon as the database is
   * back instead of meeting a key held by nobody (past the give-up time the stale takeover frees it).
   */
  private free(data: ClinicData, id: string) {
    return nowOrWhenBack(() => data.delete(idempotencyKeys, eq(idempotencyKeys.id, id)), Date.now() + IDEMPOTENCY_STALE_MS);
  }
}

/** A write tried at once; if the database is away, tried again in the background until `giveUpAt` (the caller does not wait). */
async function nowOrWhenBack(write: () => Promise<unknown>, giveUpAt: number) {
  try {
    await write();
  } catch (err) {
    if (!databaseUnreachable(err)) throw err;
    void retryWhileUnreachable(write, { waitMs: FREE_RETRY_MS, giveUpAt }).catch(() => {});
  }
}

/** Deletes every clinic's keys past their lifetime (the scheduled cleanup, through `systemDb`); safe to run twice. */
export async function pruneIdempotencyKeys(systemDb: Db, now = new Date()): Promise<number> {
  const removed = await systemDb
    .delete(idempotencyKeys)
    .where(lt(idempotencyKeys.createdAt, new Date(now.getTime() - IDEMPOTENCY_TTL_MS)))
    .returning({ id: idempotencyKeys.id });
  return removed.length;
}

