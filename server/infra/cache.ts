import type { Redis } from './redis.js';
import type { Logger } from './logger.js';

export interface CacheStats {
  hits: number;
  misses: number;
}

/**
 * The one cache. Entries belong to groups (e.g. `calendar:<professionalId>`); invalidating a
 * group bumps its version, so every key written under the old version stops matching without
 * scanning keys. Failures are misses: the caller always falls through to the database.
 */
export interface Cache {
  get<T>(key: string, group?: string): Promise<T | undefined>;
  set(key: string, value: unknown, ttlSeconds: number, group?: string): Promise<void>;
  del(key: string, group?: string): Promise<void>;
  invalidateGroup(group: string): Promise<void>;
  /** get, or compute with `load` and store. */
  wrap<T>(key: string, ttlSeconds: number, load: () => Promise<T>, group?: string): Promise<T>;
  readonly stats: CacheStats;
}

abstract class BaseCache implements Cache {
  readonly stats: CacheStats = { hits: 0, misses: 0 };
  abstract get<T>(key: string, group?: string): Promise<T | undefined>;
  abstract set(key: string, value: unknown, ttlSeconds: number, group?: string): Promise<void>;
  abstract del(key: string, group?: string): Promise<void>;
  abstract invalidateGroup(group: string): Promise<void>;

  protected count(hit: boolean) {
    if (hit) this.stats.hits++;
    else this.stats.misses++;
  }

  async wrap<T>(key: string, ttlSeconds: number, load: () => Promise<T>, group?: string): Promise<T> {
    const cached = await this.get<T>(key, group);
    if (cached !== undefined) return cached;
    const value = await load();
    await this.set(key, value, ttlSeconds, group);
    return value;
  }
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

export class MemoryCache extends BaseCache {
  private readonly entries = new Map<string, { value: unknown; expiresAt: number }>();
  private readonly versions = new Map<string, number>();

  constructor(private readonly maxEntries = 10_000) {
    super();
  }

  private fullKey(key: string, group?: string) {
    return group ? `${group}@${this.versions.get(group) ?? 0}:${key}` : key;
  }

  async get<T>(key: string, group?: string): Promise<T | undefined> {
    const k = this.fullKey(key, group);
    const entry = this.entries.get(k);
    const hit = entry !== undefined && entry.expiresAt > Date.now();
    if (entry && !hit) this.entries.delete(k);
    this.count(hit);
    return hit ? (entry.value as T) : undefined;
  }

  async set(key: string, value: unknown, ttlSeconds: number, group?: string) {
    if (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    // Through JSON, as Redis would store it (a Date comes back a string in both modes), then frozen:
    // readers share one object and none can change it for the others.
    const stored = value === undefined ? undefined : deepFreeze(JSON.parse(JSON.stringify(value)));
    this.entries.set(this.fullKey(key, group), { value: stored, expiresAt: Date.now() + ttlSeconds * 1000 });
  }

  async del(key: string, group?: string) {
    this.entries.delete(this.fullKey(key, group));
  }

  async invalidateGroup(group: string) {
    this.versions.set(group, (this.versions.get(group) ?? 0) + 1);
  }
}

export class RedisCache extends BaseCache {
  // Set when an invalidation could not reach Redis: before trusting the cache again, the global
  // epoch is bumped, which drops every entry at once (no stale calendar survives an outage).
  private epochBumpPending = false;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly log: Logger,
  ) {
    super();
  }

  // Epoch and group version last read per group, to guess the key of the next read (see get).
  private readonly lastVersions = new Map<string, { epoch: string; version: string }>();

  private async bumpEpochIfPending() {
    if (this.epochBumpPending) {
      await this.redis.incr(`${this.prefix}c:epoch`);
      this.epochBumpPending = false;
    }
  }

  private versionKeys(group?: string) {
    return [`${this.prefix}c:epoch`, group ? `${this.prefix}cg:${group}` : `${this.prefix}c:none`] as const;
  }

  private composeKey(key: string, group: string | undefined, epoch: string | null, version: string | null) {
    return `${this.prefix}c:${epoch ?? 0}:${group ? `${group}@${version ?? 0}:` : ''}${key}`;
  }

  private async fullKey(key: string, group?: string) {
    await this.bumpEpochIfPending();
    const [epoch, version] = await this.redis.mget(...this.versionKeys(group));
    return this.composeKey(key, group, epoch ?? null, version ?? null);
  }

  /**
   * One round trip in the usual case: the versions and the value under the last-seen versions are
   * read in one atomic MGET; only when a version moved since is the value read again under the new
   * key. Every read still checks the versions in Redis, so invalidations by other instances hold.
   */
  private async read(key: string, group?: string): Promise<string | null> {
    await this.bumpEpochIfPending();
    const memo = group ?? '';
    const guess = this.lastVersions.get(memo);
    const keys = [...this.versionKeys(group), ...(guess ? [this.composeKey(key, group, guess.epoch, guess.version)] : [])];
    const [epoch = null, version = null, guessed = null] = await this.redis.mget(...keys);
    const current = { epoch: epoch ?? '0', version: version ?? '0' };
    if (this.lastVersions.size >= 10_000) this.lastVersions.clear();
    this.lastVersions.set(memo, current);
    if (guess && guess.epoch === current.epoch && guess.version === current.version) return guessed;
    return this.redis.get(this.composeKey(key, group, current.epoch, current.version));
  }

  private fail(op: string, err: unknown) {
    this.log.warn({ err: { message: (err as Error).message }, op }, 'cache unavailable, falling through');
  }

  async get<T>(key: string, group?: string): Promise<T | undefined> {
    try {
      const raw = await this.read(key, group);
      this.count(raw !== null);
      return raw === null ? undefined : (JSON.parse(raw) as T);
    } catch (err) {
      this.count(false);
      this.fail('get', err);
      return undefined;
    }
  }

  async set(key: string, value: unknown, ttlSeconds: number, group?: string) {
    try {
      await this.redis.set(await this.fullKey(key, group), JSON.stringify(value), 'EX', ttlSeconds);
    } catch (err) {
      this.fail('set', err);
    }
  }

  async del(key: string, group?: string) {
    try {
      await this.redis.del(await this.fullKey(key, group));
    } catch (err) {
      this.epochBumpPending = true;
      this.fail('del', err);
    }
  }

  async invalidateGroup(group: string) {
    try {
      await this.redis.incr(`${this.prefix}cg:${group}`);
    } catch (err) {
      this.epochBumpPending = true;
      this.fail('invalidate', err);
    }
  }
}
