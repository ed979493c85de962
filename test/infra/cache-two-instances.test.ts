import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { RedisCache } from '../../server/infra/cache.js';
import { createLogger } from '../../server/infra/logger.js';
import { connectRedis, createRedis, type Redis } from '../../server/infra/redis.js';
import { withRedis } from '../helpers/skip.js';

// Two instances of the API share one Redis: what one invalidates, the other must stop serving,
// even though each remembers the versions it last read to save a round trip.
describe.runIf(withRedis('Redis cache shared by two instances'))('Redis cache shared by two instances', () => {
  const log = createLogger({ level: 'silent' });
  let connections: Redis[];
  let first: RedisCache;
  let second: RedisCache;

  beforeAll(async () => {
    connections = [0, 1].map((i) => createRedis(inject('redisUrl') as string, log, `cache-test-${i}`));
    await Promise.all(connections.map(connectRedis));
    const prefix = `${inject('redisPrefix')}cache-${randomUUID().slice(0, 8)}:`;
    first = new RedisCache(connections[0] as Redis, prefix, log);
    second = new RedisCache(connections[1] as Redis, prefix, log);
  });
  afterAll(() => connections.forEach((c) => c.disconnect()));

  it('serves a value to both, then neither serves it once the other instance invalidates its group', async () => {
    await first.set('profile', { name: 'Ana' }, 60, 'user:1');
    expect(await first.get('profile', 'user:1')).toEqual({ name: 'Ana' });
    expect(await first.get('profile', 'user:1')).toEqual({ name: 'Ana' });
    expect(await second.get('profile', 'user:1')).toEqual({ name: 'Ana' });

    await second.invalidateGroup('user:1');
    expect(await first.get('profile', 'user:1')).toBeUndefined();
    expect(await second.get('profile', 'user:1')).toBeUndefined();

    await first.set('profile', { name: 'Ana Maria' }, 60, 'user:1');
    expect(await second.get('profile', 'user:1')).toEqual({ name: 'Ana Maria' });
    expect(await first.get('profile', 'user:1')).toEqual({ name: 'Ana Maria' });
  });

  it('keeps groups apart and serves keys without a group', async () => {
    await first.set('k', 'a', 60, 'g:a');
    await first.set('k', 'b', 60, 'g:b');
    await first.set('plain', 42, 60);
    await second.invalidateGroup('g:a');
    expect(await first.get('k', 'g:a')).toBeUndefined();
    expect(await first.get('k', 'g:b')).toBe('b');
    expect(await first.get('plain')).toBe(42);
    await first.del('plain');
    expect(await second.get('plain')).toBeUndefined();
  });
});
