import { and, eq, isNotNull, isNull, lt, or, sql, type SQL } from 'drizzle-orm';
import type { z } from 'zod';
import type { activityBody, activityListQuery, activityPatch, contactActivityBody } from '../../../shared/api/pipeline.js';
import { pipelineActivities } from '../../../shared/schema/index.js';
import { ClinicData } from '../../infra/clinic-data.js';
import type { Infra } from '../../infra/index.js';
import { actorUserId, type TenantContext } from '../../http/context.js';
import { notFound } from '../../lib/errors.js';
import { afterCursor, page } from '../../lib/cursor.js';
import { can } from '../../lib/permissions.js';
import { zonedDate, zonedParts } from '../../lib/zoned-time.js';
import type { AuditService } from '../audit/service.js';
import type { ClinicService } from '../clinic/service.js';
import type { ContactService } from '../contacts/service.js';
import type { TimelineItem } from '../contacts/timeline.js';
import type { Members } from './members.js';
import type { OpportunityService } from './opportunities.js';

type Row = typeof pipelineActivities.$inferSelect;
type Fields = z.infer<typeof activityBody>;

/** The clinic's local day and time now: what "overdue" is measured against. */
export function localNow(now: Date, timeZone: string) {
  const p = zonedParts(now, timeZone);
  return { date: zonedDate(now, timeZone), time: `${String(p.hour).padStart(2, '0')}:${String(p.minute).padStart(2, '0')}:${String(p.second).padStart(2, '0')}` };
}

/** Open, with a due day before today, or due today at a time already past (clinic's zone). */
function overdueCondition(local: { date: string; time: string }): SQL {
  const a = pipelineActivities;
  return and(isNull(a.completedAt), isNotNull(a.dueDate), or(lt(a.dueDate, local.date), and(eq(a.dueDate, local.date), isNotNull(a.dueTime), sql`${a.dueTime} < ${local.time}::time`))) as SQL;
}

function isOverdue(r: Row, local: { date: string; time: string }) {
  if (r.completedAt || !r.dueDate) return false;
  return r.dueDate < local.date || (r.dueDate === local.date && r.dueTime !== null && r.dueTime < local.time);
}

const present = (r: Row, local: { date: string; time: string }) => ({
  id: r.id,
  contactId: r.contactId,
  opportunityId: r.opportunityId,
  type: r.type,
  title: r.title,
  notes: r.notes,
  dueDate: r.dueDate,
  dueTime: r.dueTime?.slice(0, 5) ?? null,
  assigneeId: r.assigneeId,
  completedAt: r.completedAt?.toISOString() ?? null,
  completedBy: r.completedBy,
  overdue: isOverdue(r, local),
  createdAt: r.createdAt.toISOString(),
  updatedAt: r.updatedAt.toISOString(),
});

/** Calls, messages, meetings and notes about a patient (on an opportunity or not); with a due date, tasks. */
export class ActivityService {
  constructor(
    private readonly infra: Infra,
    private readonly audit: AuditService,
    private readonly contacts: ContactService,
    private readonly clinic: ClinicService,
    private readonly members: Members,
    private readonly opportunities: OpportunityService,
  ) {}

  private data(clinicId: string) {
    return new ClinicData(clinicId, this.infra.db);
  }

  private async local(clinicId: string, now = new Date()) {
    return localNow(now, (await this.clinic.get(clinicId)).timezone);
  }

  private async row(clinicId: string, id: string): Promise<Row> {
    const [row] = await this.data(clinicId).select(pipelineActivities, eq(pipelineActivities.id, id));
    if (!row) throw notFound('Atividade');
    return row;
  }

  async get(clinicId: string, id: string) {
    return present(await this.row(clinicId, id), await this.local(clinicId));
  }

  async list(clinicId: string, q: z.infer<typeof activityListQuery> & { opportunityId?: string }, now = new Date()) {
    const local = await this.local(clinicId, now);
    const a = pipelineActivities;
    const where: (SQL | undefined)[] = [
      q.opportunityId ? eq(a.opportunityId, q.opportunityId) : undefined,
      q.contactId ? eq(a.contactId, q.contactId) : undefined,
      q.assigneeId ? eq(a.assigneeId, q.assigneeId) : undefined,
      q.completed === 'true' ? isNotNull(a.completedAt) : q.completed === 'false' ? isNull(a.completedAt) : undefined,
      q.overdue === 'true' ? overdueCondition(local) : q.overdue === 'false' ? sql`not (${overdueCondition(local)})` : undefined,
      afterCursor(a.createdAt, a.id, q.cursor),
    ];
    const rows = await this.data(clinicId)
      .select(a, ...where)
      .orderBy(sql`${a.createdAt} desc, ${a.id} desc`)
      .limit(q.limit + 1);
    const result = page(rows, q.limit);
    return { items: result.items.map((r) => present(r, local)), nextCursor: result.nextCursor };
  }

  async forOpportunity(clinicId: string, opportunityId: string, q: z.infer<typeof activityListQuery>) {
    await this.opportunities.view(clinicId, opportunityId);
    return this.list(clinicId, { ...q, opportunityId });
  }

  async createOnOpportunity(ctx: TenantContext, opportunityId: string, body: Fields) {
    const opportunity = await this.opportunities.view(ctx.clinicId, opportunityId);
    return this.create(ctx, opportunity.contactId, opportunityId, body);
  }

  async createOnContact(ctx: TenantContext, body: z.infer<typeof contactActivityBody>) {
    const { contactId, ...fields } = body;
    await this.contacts.get(ctx.clinicId, contactId);
    return this.create(ctx, contactId, null, fields);
  }

  private async create(ctx: TenantContext, contactId: string, opportunityId: string | null, body: Fields) {
    if (body.assigneeId) await this.members.active(ctx.clinicId, body.assigneeId);
    const row = await this.data(ctx.clinicId).transaction(async (data, tx) => {
      const [created] = await data.insert(pipelineActivities, { ...body, contactId, opportunityId, createdBy: actorUserId(ctx) }).returning();
      if (!created) throw new Error('insert returned nothing');
      await this.audit.record(ctx, { action: 'pipeline_activity.created', entityType: 'pipeline_activity', entityId: created.id, contactId, details: { type: body.type, opportunityId } }, tx);
      return created;
    });
    return present(row, await this.local(ctx.clinicId));
  }

  async update(ctx: TenantContext, id: string, patch: z.infer<typeof activityPatch>) {
    const current = await this.row(ctx.clinicId, id);
    if (patch.assigneeId) await this.members.active(ctx.clinicId, patch.assigneeId);
    const dueDate = patch.dueDate === undefined ? current.dueDate : patch.dueDate;
    // A time without a day means nothing: clearing the day clears the time.
    const dueTime = dueDate === null ? null : patch.dueTime === undefined ? current.dueTime : patch.dueTime;
    const row = await this.data(ctx.clinicId).transaction(async (data, tx) => {
      const [updated] = await data.update(pipelineActivities, { ...patch, dueDate, dueTime, updatedAt: new Date() }, eq(pipelineActivities.id, id)).returning();
      if (!updated) throw notFound('Atividade');
      await this.audit.record(ctx, { action: 'pipeline_activity.updated', entityType: 'pipeline_activity', entityId: id, contactId: updated.contactId, details: { fields: Object.keys(patch) } }, tx);
      return updated;
    });
    return present(row, await this.local(ctx.clinicId));
  }

  /** Completing twice keeps the first completion (a retried request changes nothing). */
  async complete(ctx: TenantContext, id: string) {
    await this.row(ctx.clinicId, id);
    await this.data(ctx.clinicId).transaction(async (data, tx) => {
      const [done] = await data
        .update(pipelineActivities, { completedAt: new Date(), completedBy: actorUserId(ctx), updatedAt: new Date() }, eq(pipelineActivities.id, id), isNull(pipelineActivities.completedAt))
        .returning();
      if (done) await this.audit.record(ctx, { action: 'pipeline_activity.completed', entityType: 'pipeline_activity', entityId: id, contactId: done.contactId }, tx);
    });
    return this.get(ctx.clinicId, id);
  }

  async remove(ctx: TenantContext, id: string) {
    await this.data(ctx.clinicId).transaction(async (data, tx) => {
      const [row] = await data.delete(pipelineActivities, eq(pipelineActivities.id, id)).returning();
      if (!row) throw notFound('Atividade');
      await this.audit.record(ctx, { action: 'pipeline_activity.deleted', entityType: 'pipeline_activity', entityId: id, contactId: row.contactId }, tx);
    });
  }

  async timeline(ctx: TenantContext, contactId: string): Promise<TimelineItem[]> {
    if (!can(ctx.actor, 'pipeline:read')) return [];
    const rows = await this.data(ctx.clinicId).select(pipelineActivities, eq(pipelineActivities.contactId, contactId));
    return rows.map((r) => ({
      type: 'pipeline_activity',
      id: r.id,
      at: (r.completedAt ?? r.createdAt).toISOString(),
      title: r.title,
      data: { type: r.type, opportunityId: r.opportunityId, dueDate: r.dueDate, dueTime: r.dueTime?.slice(0, 5) ?? null, assigneeId: r.assigneeId, completedAt: r.completedAt?.toISOString() ?? null },
    }));
  }

  forContact(clinicId: string, contactId: string) {
    return this.data(clinicId).select(pipelineActivities, eq(pipelineActivities.contactId, contactId));
  }

  async hasAny(clinicId: string, contactId: string) {
    const [row] = await this.data(clinicId).pick({ id: pipelineActivities.id }, pipelineActivities, eq(pipelineActivities.contactId, contactId)).limit(1);
    return Boolean(row);
  }
}
