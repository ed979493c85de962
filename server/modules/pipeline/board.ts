import { asc, desc, eq, ne, sql, type SQL } from 'drizzle-orm';
import type { OpportunityEvent } from '../../../shared/api/events.js';
import { opportunities, opportunityHistory, pipelineStages, HISTORY_KINDS } from '../../../shared/schema/index.js';
import type { ClinicData } from '../../infra/clinic-data.js';
import type { TenantContext } from '../../http/context.js';
import type { AuditScope } from '../audit/service.js';
import { AppError, notFound } from '../../lib/errors.js';
import { keyBetween } from './positions.js';

export type OpportunityRow = typeof opportunities.$inferSelect;
export type StageRow = typeof pipelineStages.$inferSelect;

const countAll = sql<number>`count(*)::int`;

/** Who moves a card: a member, an API key, or a rule (no actor); `scope` is what audit and events record. */
export interface Mover {
  scope: AuditScope & { requestId?: string | null };
  actorId: string | null;
  source: string;
}

export const moverOf = (ctx: TenantContext): Mover => ({ scope: ctx, actorId: ctx.actor.type === 'user' ? ctx.actor.userId : null, source: ctx.actor.type });

/**
 * Locks a stage of the clinic for the rest of the transaction (404 for another clinic's or a
 * deleted one). Every write that places a card in a column takes this lock first, so places
 * computed from the column's neighbours never race: concurrent moves into one column queue here.
 */
export async function lockStage(data: ClinicData, stageId: string): Promise<StageRow> {
  const [stage] = await data.select(pipelineStages, eq(pipelineStages.id, stageId)).for('no key update');
  if (!stage) throw notFound('Etapa');
  return stage;
}

/** The key for the `index`-th place of a column (the end when omitted), not counting `exceptId`. */
export async function keyAt(data: ClinicData, stageId: string, index: number | undefined, exceptId?: string): Promise<string> {
  const inColumn: (SQL | undefined)[] = [eq(opportunities.stageId, stageId), exceptId ? ne(opportunities.id, exceptId) : undefined];
  if (index === undefined) {
    const [last] = await data.pick({ position: opportunities.position }, opportunities, ...inColumn).orderBy(desc(opportunities.position)).limit(1);
    return keyBetween(last?.position ?? null, null);
  }
  const neighbours = await data
    .pick({ position: opportunities.position }, opportunities, ...inColumn)
    .orderBy(asc(opportunities.position))
    .limit(index === 0 ? 1 : 2)
    .offset(Math.max(index - 1, 0));
  if (index === 0) return keyBetween(null, neighbours[0]?.position ?? null);
  const [before, after] = neighbours;
  if (!before) {
    const [{ n } = { n: 0 }] = await data.pick({ n: countAll }, opportunities, ...inColumn);
    throw new AppError(400, 'position_out_of_range', `A posição vai de 0 a ${n} nesta etapa`, { max: n });
  }
  return keyBetween(before.position, after?.position ?? null);
}

export async function recordHistory(
  data: ClinicData,
  row: Pick<OpportunityRow, 'id' | 'contactId'>,
  kind: (typeof HISTORY_KINDS)[number],
  from: string | null,
  to: string | null,
  mover: Mover,
  at: Date,
) {
  await data.insert(opportunityHistory, { opportunityId: row.id, contactId: row.contactId, kind, fromStageId: from, toStageId: to, actorId: mover.actorId, source: mover.source, at });
}

export function opportunityEvent(row: OpportunityRow): OpportunityEvent {
  return {
    id: row.id,
    contactId: row.contactId,
    stageId: row.stageId,
    position: row.position,
    title: row.title,
    status: row.status,
    valueCents: row.valueCents,
    probability: row.probability,
    ownerId: row.ownerId,
    expectedCloseDate: row.expectedCloseDate,
    stageEnteredAt: row.stageEnteredAt.toISOString(),
  };
}

/** Puts a locked card at `key` of a (locked) stage, with its history entry when the stage changes. */
export async function placeCard(data: ClinicData, current: OpportunityRow, stageId: string, key: string, mover: Mover, at: Date): Promise<OpportunityRow> {
  const changesStage = stageId !== current.stageId;
  const [moved] = await data
    .update(opportunities, { stageId, position: key, updatedAt: at, ...(changesStage ? { stageEnteredAt: at } : {}) }, eq(opportunities.id, current.id))
    .returning();
  if (!moved) throw notFound('Oportunidade');
  if (changesStage) await recordHistory(data, current, 'moved', current.stageId, stageId, mover, at);
  return moved;
}
