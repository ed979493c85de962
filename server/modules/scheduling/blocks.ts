import { asc, eq, gt, isNull, lt, or } from 'drizzle-orm';
import type { z } from 'zod';
import type { blockBody, blockListQuery } from '../../../shared/api/scheduling.js';
import { scheduleBlocks } from '../../../shared/schema/index.js';
import { ClinicData } from '../../infra/clinic-data.js';
import type { Infra } from '../../infra/index.js';
import type { TenantContext } from '../../http/context.js';
import { actorUserId } from '../../http/context.js';
import { notFound } from '../../lib/errors.js';
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

  private data(clinicId: string) {
    return new ClinicData(clinicId, this.infra.db);
  }

  /** Blocks overlapping [from, to) of a professional (their own and the clinic-wide ones), or all. */
  list(clinicId: string, q: z.infer<typeof blockListQuery>) {
    return this.data(clinicId)
      .pick(
        columns,
        scheduleBlocks,
        lt(scheduleBlocks.startsAt, q.to),
        gt(scheduleBlocks.endsAt, q.from),
        q.professionalId ? or(eq(scheduleBlocks.professionalId, q.professionalId), isNull(scheduleBlocks.professionalId)) : undefined,
      )
      .orderBy(asc(scheduleBlocks.startsAt));
  }

  async create(ctx: TenantContext, input: z.infer<typeof blockBody>) {
    if (input.professionalId) await this.team.professional(ctx.clinicId, input.professionalId);
    const block = await this.data(ctx.clinicId).transaction(async (data, tx) => {
      const [row] = await data.insert(scheduleBlocks, { ...input, createdBy: actorUserId(ctx) }).returning(columns);
      if (!row) throw new Error('insert returned nothing');
      await this.audit.record(ctx, { action: 'schedule_block.created', entityType: 'schedule_block', entityId: row.id, details: { professionalId: row.professionalId } }, tx);
      return row;
    });
    await this.invalidateFor(ctx.clinicId, block.professionalId);
    return block;
  }

  async remove(ctx: TenantContext, id: string) {
    const block = await this.data(ctx.clinicId).transaction(async (data, tx) => {
      const [row] = await data.delete(scheduleBlocks, eq(scheduleBlocks.id, id)).returning(columns);
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
