import { inject } from 'vitest';

/**
 * Whether a block that needs something optional can run; when it cannot, says so on the console
 * (vitest alone would only count it as skipped).
 */
export function canRun(what: string, available: unknown, missing: string): boolean {
  if (!available) console.warn(`skipped "${what}": ${missing}`);
  return Boolean(available);
}

/** For blocks that need the run's Redis (TEST_REDIS_URL). */
export const withRedis = (what: string) => canRun(what, inject('redisUrl'), 'needs Redis: set TEST_REDIS_URL=redis://127.0.0.1:6379');
