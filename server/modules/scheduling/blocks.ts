import { and, asc, eq, gt, isNull, lt, or } from 'drizzle-orm';
import type { z } from 'zod';
import type { blockBody, blockListQuery } from '../../../shared/api/scheduling.js';
import { scheduleBlocks } from '../../../shared/schema/index.js';
import type { Infra } from '../../infra/index.js';
import type { TenantContext } from '../../http/context.js';
import { actorUserId } from '../../http/context.js';
import { notFound } from '../../http/errors.js';
import type { AuditService } from '../audit/service.js';
import type { TeamService } from '../team/service.js';
import type { CalendarCache } from './calendar-cache.js';

const columns = {
  id: scheduleBlocks.id,
  professionalId: scheduleBlocks.professionalId,
  startsAt: scheduleBlocks.startsAt,
  endsAt: scheduleBlocks.endsAt,
  reason: scheduleBlocks.reason,
  createdAt: scheduleBlocks.createdAt,
};

/** Blocked periods: vacation, meetings; a block without a professional closes the whole clinic. */
export class BlockService {
  constructor(
    private readonly infra: Infra,
    private readonly audit: AuditService,
    private readonly team: TeamService,
    private readonly calendars: CalendarCache,
  ) {}

  /** Blocks overlapping [from, to) of a professional (their own and the clinic-wide ones), or all. */
  list(clinicId: string, q: z.infer<typeof blockListQuery>) {
    return this.infra.db
      .select(columns)
      .from(scheduleBlocks)
      .where(
        and(
          eq(scheduleBlocks.clinicId, clinicId),
          lt(scheduleBlocks.startsAt, q.to),
          gt(scheduleBlocks.endsAt, q.from),
          q.professionalId ? or(eq(scheduleBlocks.professionalId, q.professionalId), isNull(scheduleBlocks.professionalId)) : undefined,
        ),
      )
      .orderBy(asc(scheduleBlocks.startsAt));
  }

  async create(ctx: TenantContext, input: z.infer<typeof blockBody>) {
    if (input.professionalId) await this.team.professional(ctx.clinicId, input.professionalId);
    const block = await this.infra.db.transaction(async (tx) => {
      const [row] = await tx
        .insert(scheduleBlocks)
        .values({ ...input, clinicId: ctx.clinicId, createdBy: actorUserId(ctx) })
        .returning(columns);
      if (!row) throw new Error('insert returned nothing');
      await this.audit.record(ctx, { action: 'schedule_block.created', entityType: 'schedule_block', entityId: row.id, details: { professionalId: row.professionalId } }, tx);
      return row;
    });
    await this.invalidateFor(ctx.clinicId, block.professionalId);
    return block;
  }

  async remove(ctx: TenantContext, id: string) {
    const block = await this.infra.db.transaction(async (tx) => {
      const [row] = await tx
        .delete(scheduleBlocks)
        .where(and(eq(scheduleBlocks.clinicId, ctx.clinicId), eq(scheduleBlocks.id, id)))
        .returning(columns);
      if (!row) throw notFound('Block');
      await this.audit.record(ctx, { action: 'schedule_block.deleted', entityType: 'schedule_block', entityId: id }, tx);
      return row;
    });
    await this.invalidateFor(ctx.clinicId, block.professionalId);
  }

  private invalidateFor(clinicId: string, professionalId: string | null) {
    return professionalId ? this.calendars.invalidate(clinicId, [professionalId]) : this.calendars.invalidateClinic(clinicId);
  }
}
