import type { Request } from 'express';
import type { Cache } from '../infra/cache.js';
import { badRequest } from '../http/errors.js';

const TTL_SECONDS = 24 * 3600;

/**
 * Runs a creation once per `Idempotency-Key` (per clinic and route): a retry with the same key gets
 * the first answer back instead of a second write. Without the header the write just runs.
 * Two retries racing each other both run; the database's own constraints settle those.
 */
export async function idempotent<T>(cache: Cache, req: Request, scope: string, run: () => Promise<T>): Promise<T> {
  const key = req.get('Idempotency-Key');
  if (key === undefined) return run();
  if (key.length === 0 || key.length > 200) throw badRequest('invalid_idempotency_key', 'Idempotency-Key must have 1 to 200 characters');
  const cacheKey = `idempotency:${scope}:${key}`;
  const previous = await cache.get<T>(cacheKey);
  if (previous !== undefined) return previous;
  const result = await run();
  await cache.set(cacheKey, result, TTL_SECONDS);
  return result;
}
