/**
 * A small per-process cache with a time to live, for lookups on hot paths (a webhook's connection
 * and number). Concurrent loads of one key share one promise. Only found values are kept: a miss is
 * asked again next time, so something created a moment ago is never hidden. Invalidation is local;
 * other processes see a change when their entry expires (hence a short TTL).
 */
export class TtlCache<V> {
  private readonly entries = new Map<string, { value: V; expiresAt: number }>();
  private readonly loading = new Map<string, Promise<V | undefined>>();
  /** Bumped by every invalidation: a load that started before one does not store its (stale) answer. */
  private generation = 0;

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries = 10_000,
  ) {}

  async get(key: string, load: () => Promise<V | undefined>): Promise<V | undefined> {
    if (this.ttlMs <= 0) return load();
    const hit = this.entries.get(key);
    if (hit && hit.expiresAt > Date.now()) return hit.value;
    const pending = this.loading.get(key);
    if (pending) return pending;
    const generation = this.generation;
    const promise = load().then(
      (value) => {
        this.loading.delete(key);
        if (value !== undefined && generation === this.generation) this.set(key, value);
        return value;
      },
      (err: unknown) => {
        this.loading.delete(key);
        throw err;
      },
    );
    this.loading.set(key, promise);
    return promise;
  }

  /** Drops the entries the predicate picks (all without one). */
  invalidate(pick?: (key: string, value: V) => boolean): void {
    this.generation += 1;
    this.loading.clear();
    if (!pick) return this.entries.clear();
    for (const [key, entry] of this.entries) if (pick(key, entry.value)) this.entries.delete(key);
  }

  private set(key: string, value: V) {
    if (this.entries.size >= this.maxEntries) {
      // The oldest insertion goes first (Map keeps insertion order).
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    this.entries.delete(key);
    this.entries.set(key, { value, expiresAt: Date.now() + this.ttlMs });
  }
}
