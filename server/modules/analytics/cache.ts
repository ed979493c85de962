import type { Cache } from '../../infra/cache.js';

/** Blocks and holidays publish no event: a change to them shows within this time. */
export const TTL_SECONDS = 300;
/** A report computed from reads made before a write committed may be stored after its invalidation; a second bump drops it. */
const SECOND_INVALIDATION_MS = 750;

/** Reports per clinic and range, under one group per clinic: any change of the clinic's data bumps its version. */
export class AnalyticsCache {
  constructor(private readonly cache: Cache) {}

  private group(clinicId: string) {
    return `analytics:${clinicId}`;
  }

  wrap<T>(clinicId: string, key: string, load: () => Promise<T>): Promise<T> {
    return this.cache.wrap(`analytics:${clinicId}:${key}`, TTL_SECONDS, load, this.group(clinicId));
  }

  async invalidate(clinicId: string) {
    await this.cache.invalidateGroup(this.group(clinicId));
    setTimeout(() => void this.cache.invalidateGroup(this.group(clinicId)), SECOND_INVALIDATION_MS).unref();
  }
}
