import { Redis } from 'ioredis';
import type { Logger } from './logger.js';

export type { Redis };

/**
 * One connection for commands. Offline commands fail fast instead of queueing, so a Redis outage
 * turns into cache misses and 503s rather than hung requests; ioredis reconnects by itself.
 */
export function createRedis(url: string, log: Logger, name: string): Redis {
  const redis = new Redis(url, {
    connectionName: `operabase-${name}`,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    retryStrategy: (times) => Math.min(times * 200, 2000),
    lazyConnect: true,
    // Commands issued in the same tick by concurrent requests share one socket write.
    enableAutoPipelining: true,
  });
  let down = false;
  redis.on('error', (err: Error) => {
    if (!down) log.warn({ err: { message: err.message }, redis: name }, 'redis connection error');
    down = true;
  });
  redis.on('ready', () => {
    if (down) log.info({ redis: name }, 'redis reconnected');
    down = false;
  });
  return redis;
}

/**
 * BullMQ needs connections that retry forever. Workers wait for Redis; producers (`failFast`)
 * refuse at once while it is down, so a request that enqueues a job is not held until it returns.
 */
export function createBullConnection(url: string, name: string, opts: { failFast?: boolean } = {}): Redis {
  return new Redis(url, {
    connectionName: `operabase-${name}`,
    maxRetriesPerRequest: null,
    enableOfflineQueue: !opts.failFast,
    retryStrategy: (times) => Math.min(times * 200, 2000),
  });
}

export async function connectRedis(redis: Redis): Promise<void> {
  await redis.connect();
  await redis.ping();
}

export async function pingRedis(redis: Redis): Promise<number> {
  const t0 = performance.now();
  await redis.ping();
  return Math.round((performance.now() - t0) * 100) / 100;
}
