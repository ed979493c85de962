import { asc, sql } from 'drizzle-orm';
import type { PipelineFigures } from '../../../shared/api/analytics.js';
import { opportunities, opportunityHistory, pipelineStages, type HISTORY_KINDS } from '../../../shared/schema/index.js';
import type { ClinicData } from '../../infra/clinic-data.js';
import { rowsOf, type Db } from '../../infra/db.js';
import { stintsOf } from '../pipeline/history.js';
import { ratio, type Periods } from './periods.js';
import { pairOf, type Pair } from './sides.js';

interface CohortRow {
  current: boolean;
  owner_id: string | null;
  /** 1 on the rows of the clinic's total. */
  is_total: number;
  stage_id: string | null;
  created: number;
  won: number;
  lost: number;
}

interface EntryRow {
  opportunity_id: string;
  owner_id: string | null;
  kind: (typeof HISTORY_KINDS)[number];
  to_stage_id: string | null;
  at: string | Date;
}

const median = (values: number[]) => {
  if (values.length === 0) return null;
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

/**
 * Conversion: of the opportunities created in a period (by owner), how many were ever in each
 * stage, and how many are won or lost now. Time in stage: the pipeline's own stints (history.ts),
 * those that ended in the period, median per stage.
 */
export async function pipelineFigures(db: Db, data: ClinicData, p: Periods): Promise<Pair<PipelineFigures>> {
  const { previousStart, currentStart, end } = p.sql;
  const [stages, cohort, entries] = await Promise.all([
    data.pick({ id: pipelineStages.id, name: pipelineStages.name }, pipelineStages).orderBy(asc(pipelineStages.sortOrder)),
    db.execute(sql`
      with cohort as (
        select id, owner_id, status, created_at >= ${currentStart} as current
        from ${opportunities}
        where ${data.owns(opportunities, sql`created_at >= ${previousStart} and created_at < ${end}`)}
      ), reached as (
        select distinct opportunity_id, to_stage_id from ${opportunityHistory}
        where ${data.owns(opportunityHistory, sql`to_stage_id is not null and opportunity_id in (select id from cohort)`)}
      )
      select current, owner_id, grouping(owner_id) as is_total, null::uuid as stage_id,
        count(*)::int as created, count(*) filter (where status = 'won')::int as won, count(*) filter (where status = 'lost')::int as lost
      from cohort group by grouping sets ((current, owner_id), (current))
      union all
      select cohort.current, cohort.owner_id, grouping(cohort.owner_id), reached.to_stage_id, count(*)::int, 0, 0
      from cohort join reached on reached.opportunity_id = cohort.id
      group by grouping sets ((cohort.current, cohort.owner_id, reached.to_stage_id), (cohort.current, reached.to_stage_id))`),
    db.execute(sql`
      select ${opportunityHistory.opportunityId} as opportunity_id, ${opportunities.ownerId} as owner_id, kind, to_stage_id, at
      from ${opportunityHistory} join ${opportunities} on ${data.owns(opportunities, sql`${opportunities.id} = ${opportunityHistory.opportunityId}`)}
      where ${data.owns(
        opportunityHistory,
        sql`${opportunityHistory.opportunityId} in (select opportunity_id from ${opportunityHistory} where ${data.owns(opportunityHistory, sql`at >= ${previousStart} and at < ${end}`)})`,
      )}
      order by ${opportunityHistory.opportunityId}, at, ${opportunityHistory.id}`),
  ]);

  const stays = new Map<string, number[]>();
  const stayKey = (current: boolean, owner: string | null, stageId: string) => `${current}|${owner ?? ''}|${stageId}`;
  const byOpportunity = new Map<string, EntryRow[]>();
  for (const e of rowsOf<EntryRow>(entries)) {
    const list = byOpportunity.get(e.opportunity_id);
    if (list) list.push(e);
    else byOpportunity.set(e.opportunity_id, [e]);
  }
  const [prevStart, curStart, endAt] = [p.instants.previousStart.getTime(), p.instants.currentStart.getTime(), p.instants.end.getTime()];
  for (const list of byOpportunity.values()) {
    const owner = list[0]?.owner_id ?? null;
    for (const s of stintsOf(list.map((e) => ({ kind: e.kind, toStageId: e.to_stage_id, at: new Date(e.at) })))) {
      const left = s.leftAt?.getTime();
      if (left === undefined || left < prevStart || left >= endAt) continue;
      const seconds = (left - s.enteredAt.getTime()) / 1000;
      for (const who of owner ? [null, owner] : [null]) {
        const key = stayKey(left >= curStart, who, s.stageId);
        const list = stays.get(key);
        if (list) list.push(seconds);
        else stays.set(key, [seconds]);
      }
    }
  }

  const empty = (): PipelineFigures => ({
    created: 0,
    won: 0,
    lost: 0,
    winRate: null,
    stages: stages.map((s) => ({ stageId: s.id, name: s.name, reached: 0, conversion: null, medianSecondsInStage: null, stays: 0 })),
  });
  const { pair, at, each } = pairOf(empty);
  for (const r of rowsOf<CohortRow>(cohort)) {
    // Opportunities without an owner count in the total only.
    if (r.is_total === 0 && r.owner_id === null) continue;
    const target = at(r.current, r.is_total === 1 ? null : r.owner_id);
    if (r.stage_id === null) Object.assign(target, { created: r.created, won: r.won, lost: r.lost });
    else {
      const stage = target.stages.find((s) => s.stageId === r.stage_id);
      if (stage) stage.reached = r.created;
    }
  }
  // An owner who only ended stays in a period still gets a row there.
  for (const key of stays.keys()) {
    const [current, owner] = key.split('|');
    if (owner) at(current === 'true', owner);
  }
  each((f, current, owner) => {
    f.winRate = ratio(f.won, f.created);
    for (const s of f.stages) {
      const values = stays.get(stayKey(current, owner, s.stageId)) ?? [];
      s.conversion = ratio(s.reached, f.created);
      s.medianSecondsInStage = median(values);
      s.stays = values.length;
    }
  });
  return pair;
}
