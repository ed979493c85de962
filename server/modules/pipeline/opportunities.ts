import { asc, desc, eq, getTableColumns, gt, isNull, type SQL } from 'drizzle-orm';
import type { z } from 'zod';
import type { opportunityBody, opportunityListQuery, opportunityMove, opportunityPatch } from '../../../shared/api/pipeline.js';
import { contacts, opportunities } from '../../../shared/schema/index.js';
import { ClinicData } from '../../infra/clinic-data.js';
import type { Infra } from '../../infra/index.js';
import type { Tx } from '../../infra/db.js';
import type { TenantContext } from '../../http/context.js';
import { actorUserId } from '../../http/context.js';
import { AppError, conflict, notFound } from '../../lib/errors.js';
import { afterCursor, page } from '../../lib/cursor.js';
import { UNIQUE_VIOLATION, pgErrorCode } from '../../lib/pg-errors.js';
import type { AuditService } from '../audit/service.js';
import type { ContactService } from '../contacts/service.js';
import { keyAt, lockStage, moverOf, opportunityEvent, placeCard, recordHistory, type Mover, type OpportunityRow } from './board.js';
import type { Members } from './members.js';
import { isPositionKey } from './positions.js';
import type { StageService } from './stages.js';

type Body = z.infer<typeof opportunityBody>;
type Patch = z.infer<typeof opportunityPatch>;
type Move = z.infer<typeof opportunityMove>;
type ListQuery = z.infer<typeof opportunityListQuery>;

export type OpportunityView = OpportunityRow & { contactName: string };

export function presentOpportunity(o: OpportunityView) {
  const { clinicId: _c, createdBy: _b, ...rest } = o;
  return {
    ...rest,
    closedAt: o.closedAt?.toISOString() ?? null,
    stageEnteredAt: o.stageEnteredAt.toISOString(),
    createdAt: o.createdAt.toISOString(),
    updatedAt: o.updatedAt.toISOString(),
  };
}

/** A column's keyset cursor: the position of the last card of the page. */
const encodePosition = (position: string) => Buffer.from(position).toString('base64url');
function decodePosition(cursor: string): string {
  const key = Buffer.from(cursor, 'base64url').toString();
  if (!isPositionKey(key)) throw new AppError(400, 'invalid_cursor', 'Invalid cursor');
  return key;
}

/** Closing stamps `closedAt` (a loss keeps its reason); reopening clears both and restarts the stage clock. */
function statusFields(status: Patch['status'], lostReason: string | undefined, changes: boolean, at: Date) {
  if (!changes) return status === 'lost' ? { lostReason } : {};
  if (status === 'open') return { status, lostReason: null, closedAt: null, stageEnteredAt: at };
  return { status, lostReason: status === 'lost' ? lostReason : null, closedAt: at };
}

/** A place taken under the stage lock can only clash through a bug: answered as a retryable 409. */
const placeTaken = (err: unknown) => {
  throw pgErrorCode(err) === UNIQUE_VIOLATION ? conflict('position_conflict', 'Outra alteração ocupou esta posição; tente de novo') : err;
};

/** Opportunities (cards) of the board: placed by fractional keys, moved with history. */
export class OpportunityService {
  constructor(
    private readonly infra: Infra,
    private readonly audit: AuditService,
    private readonly contacts: ContactService,
    private readonly members: Members,
    private readonly stages: StageService,
  ) {}

  private data(clinicId: string) {
    return new ClinicData(clinicId, this.infra.db);
  }

  /** Cards with their patient's name; a hidden (deleted) patient's cards are hidden too. */
  private views(data: ClinicData, ...where: (SQL | undefined)[]) {
    return data
      .pick({ ...getTableColumns(opportunities), contactName: contacts.name }, opportunities, ...where)
      .innerJoin(contacts, data.owns(contacts, eq(contacts.id, opportunities.contactId), isNull(contacts.deletedAt)));
  }

  async view(clinicId: string, id: string): Promise<OpportunityView> {
    const [row] = await this.views(this.data(clinicId), eq(opportunities.id, id));
    if (!row) throw notFound('Oportunidade');
    return row;
  }

  async get(clinicId: string, id: string) {
    return presentOpportunity(await this.view(clinicId, id));
  }

  async list(clinicId: string, q: ListQuery) {
    const data = this.data(clinicId);
    const where: (SQL | undefined)[] = [
      q.stageId ? eq(opportunities.stageId, q.stageId) : undefined,
      q.status ? eq(opportunities.status, q.status) : undefined,
      q.contactId ? eq(opportunities.contactId, q.contactId) : undefined,
      q.ownerId ? eq(opportunities.ownerId, q.ownerId) : undefined,
    ];
    if (q.stageId) {
      if (q.cursor) where.push(gt(opportunities.position, decodePosition(q.cursor)));
      const rows = await this.views(data, ...where).orderBy(asc(opportunities.position)).limit(q.limit + 1);
      const items = rows.slice(0, q.limit);
      const last = items[items.length - 1];
      return { items: items.map(presentOpportunity), nextCursor: rows.length > q.limit && last ? encodePosition(last.position) : null };
    }
    where.push(afterCursor(opportunities.createdAt, opportunities.id, q.cursor));
    const rows = await this.views(data, ...where).orderBy(desc(opportunities.createdAt), desc(opportunities.id)).limit(q.limit + 1);
    const result = page(rows, q.limit);
    return { items: result.items.map(presentOpportunity), nextCursor: result.nextCursor };
  }

  async create(ctx: TenantContext, body: Body) {
    await this.stages.ensure(ctx.clinicId);
    const contact = await this.contacts.get(ctx.clinicId, body.contactId);
    if (body.ownerId) await this.members.active(ctx.clinicId, body.ownerId);
    const { position, stageId, ...fields } = body;
    const id = await this.data(ctx.clinicId)
      .transaction(async (data, tx) => {
        const stage = stageId ? await lockStage(data, stageId) : await lockStage(data, (await this.stages.first(data)).id);
        const at = new Date();
        const [row] = await data
          .insert(opportunities, { ...fields, stageId: stage.id, position: await keyAt(data, stage.id, position), stageEnteredAt: at, createdBy: actorUserId(ctx) })
          .returning();
        if (!row) throw new Error('insert returned nothing');
        await recordHistory(data, row, 'created', null, stage.id, moverOf(ctx), at);
        await this.audit.record(ctx, { action: 'opportunity.created', entityType: 'opportunity', entityId: row.id, contactId: contact.id, details: { stageId: stage.id } }, tx);
        await this.infra.events.publish(tx, 'opportunity.created', opportunityEvent(row), ctx);
        return row.id;
      })
      .catch(placeTaken);
    return this.get(ctx.clinicId, id);
  }

  async update(ctx: TenantContext, id: string, patch: Patch) {
    const current = await this.view(ctx.clinicId, id);
    if (patch.ownerId) await this.members.active(ctx.clinicId, patch.ownerId);
    const { status, lostReason, ...fields } = patch;
    const closing = status !== undefined && status !== current.status;
    await this.data(ctx.clinicId).transaction(async (data, tx) => {
      const at = new Date();
      const [row] = await data.update(opportunities, { ...fields, ...statusFields(status, lostReason, closing, at), updatedAt: at }, eq(opportunities.id, id)).returning();
      if (!row) throw notFound('Oportunidade');
      if (closing) await recordHistory(data, row, status === 'open' ? 'reopened' : status, row.stageId, row.stageId, moverOf(ctx), at);
      await this.audit.record(
        ctx,
        { action: closing ? `opportunity.${status === 'open' ? 'reopened' : status}` : 'opportunity.updated', entityType: 'opportunity', entityId: id, contactId: row.contactId, details: { fields: Object.keys(patch) } },
        tx,
      );
      const name = closing && status === 'won' ? 'opportunity.won' : closing && status === 'lost' ? 'opportunity.lost' : 'opportunity.updated';
      await this.infra.events.publish(tx, name, opportunityEvent(row), ctx);
    });
    return this.get(ctx.clinicId, id);
  }

  /**
   * Into `stageId` at `position` (0 = top; omitted: the end), counted without the card itself.
   * Writes the card alone: its new key lies between its new neighbours'.
   */
  async move(ctx: TenantContext, id: string, move: Move) {
    await this.view(ctx.clinicId, id);
    await this.data(ctx.clinicId)
      .transaction(async (data, tx) => {
        const stage = await lockStage(data, move.stageId);
        const [current] = await data.select(opportunities, eq(opportunities.id, id)).for('update');
        if (!current) throw notFound('Oportunidade');
        await this.placeLocked(data, tx, current, stage.id, move.position, moverOf(ctx));
      })
      .catch(placeTaken);
    return this.get(ctx.clinicId, id);
  }

  /** A locked card into a locked stage: its key, row, history, audit row and event. */
  async placeLocked(data: ClinicData, tx: Tx, current: OpportunityRow, stageId: string, position: number | undefined, mover: Mover) {
    const row = await placeCard(data, current, stageId, await keyAt(data, stageId, position, current.id), mover, new Date());
    await this.audit.record(mover.scope, { action: 'opportunity.moved', entityType: 'opportunity', entityId: row.id, contactId: row.contactId, details: { from: current.stageId, to: stageId, source: mover.source } }, tx);
    await this.infra.events.publish(tx, 'opportunity.moved', { ...opportunityEvent(row), fromStageId: current.stageId, toStageId: stageId, source: mover.source }, mover.scope);
    return row;
  }

  async remove(ctx: TenantContext, id: string) {
    const current = await this.view(ctx.clinicId, id);
    await this.data(ctx.clinicId).transaction(async (data, tx) => {
      const [row] = await data.delete(opportunities, eq(opportunities.id, id)).returning({ id: opportunities.id });
      if (!row) throw notFound('Oportunidade');
      await this.audit.record(ctx, { action: 'opportunity.deleted', entityType: 'opportunity', entityId: id, contactId: current.contactId, details: { stageId: current.stageId } }, tx);
      await this.infra.events.publish(tx, 'opportunity.deleted', { id, contactId: current.contactId, stageId: current.stageId }, ctx);
    });
  }

  forContact(clinicId: string, contactId: string) {
    return this.data(clinicId).select(opportunities, eq(opportunities.contactId, contactId)).orderBy(asc(opportunities.createdAt));
  }

  async hasAny(clinicId: string, contactId: string) {
    const [row] = await this.data(clinicId).pick({ id: opportunities.id }, opportunities, eq(opportunities.contactId, contactId)).limit(1);
    return Boolean(row);
  }
}
