import { createHash } from 'node:crypto';
import { eq, lt } from 'drizzle-orm';
import { idempotencyKeys } from '../../shared/schema/index.js';
import { ClinicData } from '../infra/clinic-data.js';
import type { Db } from '../infra/db.js';
import { AppError, badRequest } from '../lib/errors.js';

/** Keys are kept this long; a scheduled job prunes older ones. */
export const IDEMPOTENCY_TTL_MS = 24 * 3600_000;
const POLL_MS = 25;

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
 * different request is a 422. A failed handler frees the key, so a retry runs again.
 */
export class IdempotencyStore {
  constructor(
    private readonly db: Db,
    private readonly opts: { waitMs: number } = { waitMs: 10_000 },
  ) {}

  async run(scope: IdempotencyScope, handler: () => Promise<StoredAnswer>): Promise<StoredAnswer & { replayed: boolean }> {
    const print = fingerprint(scope.request);
    const data = new ClinicData(scope.clinicId, this.db);
    const deadline = Date.now() + this.opts.waitMs;
    for (;;) {
      const [claimed] = await data
        .insert(idempotencyKeys, { route: scope.route, key: scope.key, fingerprint: print })
        .onConflictDoNothing()
        .returning({ id: idempotencyKeys.id });
      if (claimed) return { ...(await this.runClaimed(data, claimed.id, handler)), replayed: false };

      const [row] = await data.select(idempotencyKeys, eq(idempotencyKeys.route, scope.route), eq(idempotencyKeys.key, scope.key));
      // Freed by a failed first attempt in between: claim it again.
      if (!row) continue;
      if (row.fingerprint !== print) {
        throw new AppError(422, 'idempotency_key_reused', 'This Idempotency-Key was already used with a different request');
      }
      if (row.status === 'completed') return { status: row.responseStatus ?? 200, body: row.responseBody, replayed: true };
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
      await data.delete(idempotencyKeys, eq(idempotencyKeys.id, id));
      throw err;
    }
    await data.update(
      idempotencyKeys,
      { status: 'completed', responseStatus: answer.status, responseBody: answer.body ?? null, completedAt: new Date() },
      eq(idempotencyKeys.id, id),
    );
    return answer;
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

