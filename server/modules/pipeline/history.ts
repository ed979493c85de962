import { asc, eq } from 'drizzle-orm';
import { opportunities, opportunityHistory, pipelineStages } from '../../../shared/schema/index.js';
import { ClinicData } from '../../infra/clinic-data.js';
import type { Infra } from '../../infra/index.js';
import type { TenantContext } from '../../http/context.js';
import { can } from '../../lib/permissions.js';
import type { TimelineItem } from '../contacts/timeline.js';
import type { OpportunityService } from './opportunities.js';

type Entry = typeof opportunityHistory.$inferSelect;

export interface Stint {
  stageId: string;
  enteredAt: Date;
  leftAt: Date | null;
}

/**
 * The stretches spent in each stage, from the history: a creation, move or reopening starts one;
 * the next move, or winning or losing, ends it. A closed card that is moved starts none until it
 * is reopened: time in stage counts while the opportunity is open.
 */
export function stintsOf(entries: Pick<Entry, 'kind' | 'toStageId' | 'at'>[]): Stint[] {
  const stints: Stint[] = [];
  let current: Stint | undefined;
  let closed = false;
  const close = (at: Date) => {
    if (current) current.leftAt = at;
    current = undefined;
  };
  for (const e of entries) {
    if (e.kind === 'won' || e.kind === 'lost') {
      close(e.at);
      closed = true;
    } else if (e.toStageId && (e.kind === 'reopened' || !closed)) {
      close(e.at);
      closed = false;
      current = { stageId: e.toStageId, enteredAt: e.at, leftAt: null };
      stints.push(current);
    }
  }
  return stints;
}

const seconds = (s: Stint, now: Date) => Math.max(0, Math.round(((s.leftAt ?? now).getTime() - s.enteredAt.getTime()) / 1000));

const TITLES: Record<Entry['kind'], (from: string, to: string) => string> = {
  created: (_f, to) => `Oportunidade criada em ${to}`,
  moved: (from, to) => `Oportunidade movida de ${from} para ${to}`,
  won: () => 'Oportunidade ganha',
  lost: () => 'Oportunidade perdida',
  reopened: () => 'Oportunidade reaberta',
};
const REMOVED_STAGE = 'etapa removida';

/** An opportunity's history with its time in stage, and the moves shown on the patient's timeline. */
export class HistoryService {
  constructor(
    private readonly infra: Infra,
    private readonly opportunities: OpportunityService,
  ) {}

  private data(clinicId: string) {
    return new ClinicData(clinicId, this.infra.db);
  }

  private entries(data: ClinicData, ...where: Parameters<ClinicData['select']>[1][]) {
    return data.select(opportunityHistory, ...where).orderBy(asc(opportunityHistory.at), asc(opportunityHistory.id));
  }

  async list(clinicId: string, opportunityId: string, now = new Date()) {
    await this.opportunities.view(clinicId, opportunityId);
    const entries = await this.entries(this.data(clinicId), eq(opportunityHistory.opportunityId, opportunityId));
    const stints = stintsOf(entries);
    const totals = new Map<string, number>();
    for (const s of stints) totals.set(s.stageId, (totals.get(s.stageId) ?? 0) + seconds(s, now));
    return {
      items: entries.map((e) => ({ id: e.id, kind: e.kind, fromStageId: e.fromStageId, toStageId: e.toStageId, actorId: e.actorId, source: e.source, at: e.at.toISOString() })),
      stints: stints.map((s) => ({ stageId: s.stageId, enteredAt: s.enteredAt.toISOString(), leftAt: s.leftAt?.toISOString() ?? null, seconds: seconds(s, now) })),
      timeInStage: [...totals].map(([stageId, total]) => ({ stageId, seconds: total })),
    };
  }

  /** Every history entry of the patient's opportunities, titled with the stage names. */
  async timeline(ctx: TenantContext, contactId: string): Promise<TimelineItem[]> {
    if (!can(ctx.actor, 'pipeline:read')) return [];
    const data = this.data(ctx.clinicId);
    const [entries, stages, cards] = await Promise.all([
      this.entries(data, eq(opportunityHistory.contactId, contactId)),
      data.pick({ id: pipelineStages.id, name: pipelineStages.name }, pipelineStages),
      data.pick({ id: opportunities.id, title: opportunities.title }, opportunities, eq(opportunities.contactId, contactId)),
    ]);
    const stageName = (id: string | null) => stages.find((s) => s.id === id)?.name ?? REMOVED_STAGE;
    const titleOf = new Map(cards.map((c) => [c.id, c.title]));
    return entries.map((e) => ({
      type: 'pipeline_move',
      id: e.id,
      at: e.at.toISOString(),
      title: TITLES[e.kind](stageName(e.fromStageId), stageName(e.toStageId)),
      data: { opportunityId: e.opportunityId, opportunityTitle: titleOf.get(e.opportunityId) ?? null, kind: e.kind, fromStageId: e.fromStageId, toStageId: e.toStageId, actorId: e.actorId, source: e.source },
    }));
  }

  exportFor(clinicId: string, contactId: string) {
    return this.entries(this.data(clinicId), eq(opportunityHistory.contactId, contactId));
  }
}
