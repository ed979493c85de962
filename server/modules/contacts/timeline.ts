import type { TenantContext } from '../../http/context.js';

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
 * A patient's timeline is assembled from providers that each feature registers, so a new feature
 * adds its items without editing the contacts module.
 */
export class Timeline {
  private readonly providers = new Map<string, TimelineProvider>();

  register(type: string, provider: TimelineProvider) {
    if (this.providers.has(type)) throw new Error(`Timeline provider "${type}" registered twice`);
    this.providers.set(type, provider);
  }

  async for(ctx: TenantContext, contactId: string): Promise<TimelineItem[]> {
    const lists = await Promise.all([...this.providers.values()].map((p) => p(ctx, contactId)));
    return lists.flat().sort((a, b) => (a.at < b.at ? 1 : a.at > b.at ? -1 : 0));
  }
}
