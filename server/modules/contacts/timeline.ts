import type { TenantContext } from '../../http/context.js';
import type { Providers } from '../module.js';

export interface TimelineItem {
  /** `appointment`, `message`, `medical_record`, `anamnesis`, `opportunity`, ... */
  type: string;
  id: string;
  /** ISO 8601; the timeline is sorted newest first on it. */
  at: string;
  title: string;
  data?: Record<string, unknown>;
}

/** Returns the items of one kind for a patient; returns [] for what the caller may not see. */
export type TimelineProvider = (ctx: TenantContext, contactId: string) => Promise<TimelineItem[]>;

/**
 * A patient's timeline is assembled from the items each feature provides in its module.ts
 * (`provides.timeline`), so a new feature adds its items without editing the contacts module.
 */
export class Timeline {
  constructor(private readonly providers: Pick<Providers, 'timeline'>) {}

  async for(ctx: TenantContext, contactId: string): Promise<TimelineItem[]> {
    const lists = await Promise.all([...this.providers.timeline.values()].map((p) => p(ctx, contactId)));
    return lists.flat().sort((a, b) => (a.at < b.at ? 1 : a.at > b.at ? -1 : 0));
  }
}
