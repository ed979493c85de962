import { afterEach, describe, expect, it, vi } from 'vitest';
import { TtlCache } from '../../server/lib/ttl-cache.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('TtlCache', () => {
  it('keeps a found value until it expires, and loads again after', async () => {
    vi.useFakeTimers();
    const cache = new TtlCache<string>(1000);
    let loads = 0;
    const load = async () => `v${++loads}`;
    expect(await cache.get('k', load)).toBe('v1');
    expect(await cache.get('k', load)).toBe('v1');
    vi.advanceTimersByTime(1001);
    expect(await cache.get('k', load)).toBe('v2');
  });

  it('never keeps a miss, so something created a moment ago is found', async () => {
    const cache = new TtlCache<string>(60_000);
    const table = new Map<string, string>();
    expect(await cache.get('k', async () => table.get('k'))).toBeUndefined();
    table.set('k', 'now there');
    expect(await cache.get('k', async () => table.get('k'))).toBe('now there');
  });

  it('shares one load between concurrent callers', async () => {
    const cache = new TtlCache<number>(60_000);
    let loads = 0;
    const load = async () => {
      loads++;
      await new Promise((r) => setTimeout(r, 5));
      return 1;
    };
    await Promise.all([cache.get('k', load), cache.get('k', load), cache.get('k', load)]);
    expect(loads).toBe(1);
  });

  it('drops what the predicate picks, and a load that raced an invalidation does not store its old answer', async () => {
    const cache = new TtlCache<{ id: string }>(60_000);
    await cache.get('a', async () => ({ id: '1' }));
    await cache.get('b', async () => ({ id: '2' }));
    cache.invalidate((_key, v) => v.id === '1');
    expect(await cache.get('a', async () => ({ id: 'fresh' }))).toEqual({ id: 'fresh' });
    expect(await cache.get('b', async () => ({ id: 'not asked' }))).toEqual({ id: '2' });

    let release!: () => void;
    const slow = cache.get('c', () => new Promise((resolve) => (release = () => resolve({ id: 'old' }))));
    cache.invalidate();
    release();
    expect(await slow).toEqual({ id: 'old' });
    expect(await cache.get('c', async () => ({ id: 'new' }))).toEqual({ id: 'new' });
  });

  it('with a TTL of 0 asks every time', async () => {
    const cache = new TtlCache<number>(0);
    let loads = 0;
    await cache.get('k', async () => ++loads);
    await cache.get('k', async () => ++loads);
    expect(loads).toBe(2);
  });
});
