import { MemoryCache, type Cache } from '../../server/infra/cache.js';

/**
 * A cache that never hits, except (with `keepAccounts`) for the signed-in user's account: the
 * app's cold path on every request, all caches off or only the view's own (calendar) cache off.
 */
export class NoCache implements Cache {
  readonly stats = { hits: 0, misses: 0 };
  private readonly accounts?: MemoryCache;

  constructor(opts: { keepAccounts?: boolean } = {}) {
    if (opts.keepAccounts) this.accounts = new MemoryCache();
  }

  private kept(group: string | undefined) {
    return group?.startsWith('account:') ? this.accounts : undefined;
  }

  async get<T>(key: string, group?: string) {
    return this.kept(group)?.get<T>(key, group);
  }
  async set(key: string, value: unknown, ttlSeconds: number, group?: string) {
    await this.kept(group)?.set(key, value, ttlSeconds, group);
  }
  async del(key: string, group?: string) {
    await this.kept(group)?.del(key, group);
  }
  async invalidateGroup(group: string) {
    await this.kept(group)?.invalidateGroup(group);
  }
  async wrap<T>(key: string, ttlSeconds: number, load: () => Promise<T>, group?: string) {
    const kept = this.kept(group);
    if (kept) return kept.wrap(key, ttlSeconds, load, group);
    this.stats.misses++;
    return load();
  }
}
