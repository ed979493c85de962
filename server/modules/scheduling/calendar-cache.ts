import type { Cache } from '../../infra/cache.js';
import type { TeamService } from '../team/service.js';

const TTL_SECONDS = 300;
/**
 * A read that started before a write committed may store its (old) result after the write's
 * invalidation; a second invalidation a moment later drops such an entry.
 */
const SECOND_INVALIDATION_MS = 750;

/**
 * Week views and availability, cached per professional. Every change to what a calendar shows
 * (appointment, block, hours, zone, holiday, tag, patient name) invalidates the groups it touches.
 */
export class CalendarCache {
  constructor(
    private readonly cache: Cache,
    private readonly team: TeamService,
  ) {}

  private group(clinicId: string, professionalId: string) {
    return `calendar:${clinicId}:${professionalId}`;
  }

  wrap<T>(clinicId: string, professionalId: string, key: string, load: () => Promise<T>): Promise<T> {
    return this.cache.wrap(`${clinicId}:${key}`, TTL_SECONDS, load, this.group(clinicId, professionalId));
  }

  async invalidate(clinicId: string, professionalIds: Iterable<string>) {
    const groups = [...new Set(professionalIds)].map((id) => this.group(clinicId, id));
    const run = () => Promise.all(groups.map((g) => this.cache.invalidateGroup(g)));
    await run();
    setTimeout(() => void run(), SECOND_INVALIDATION_MS).unref();
  }

  /** Clinic-wide changes (clinic hours, holidays, tags, patient names): every member's calendar. */
  async invalidateClinic(clinicId: string) {
    const members = await this.team.list(clinicId);
    await this.invalidate(
      clinicId,
      members.map((m) => m.userId),
    );
  }
}
