import { and, asc, eq } from 'drizzle-orm';
import type { z } from 'zod';
import type { tagBody, tagPatch } from '../../../shared/api/scheduling.js';
import { appointmentTags } from '../../../shared/schema/index.js';
import type { Infra } from '../../infra/index.js';
import type { TenantContext } from '../../http/context.js';
import { conflict, notFound } from '../../http/errors.js';
import { UNIQUE_VIOLATION, pgErrorCode } from '../../lib/pg-errors.js';
import type { AuditService } from '../audit/service.js';
import type { CalendarCache } from './calendar-cache.js';

const duplicate = () => conflict('tag_exists', 'A tag with this name already exists');

/** Appointment tags (name + color) per clinic. */
export class TagService {
  constructor(
    private readonly infra: Infra,
    private readonly audit: AuditService,
    private readonly calendars: CalendarCache,
  ) {}

  list(clinicId: string) {
    return this.infra.db.select().from(appointmentTags).where(eq(appointmentTags.clinicId, clinicId)).orderBy(asc(appointmentTags.name));
  }

  async get(clinicId: string, id: string) {
    const [row] = await this.infra.db.select().from(appointmentTags).where(and(eq(appointmentTags.clinicId, clinicId), eq(appointmentTags.id, id)));
    if (!row) throw notFound('Tag');
    return row;
  }

  async create(ctx: TenantContext, input: z.infer<typeof tagBody>) {
    const tag = await this.infra.db
      .transaction(async (tx) => {
        const [row] = await tx.insert(appointmentTags).values({ ...input, clinicId: ctx.clinicId }).returning();
        if (!row) throw new Error('insert returned nothing');
        await this.audit.record(ctx, { action: 'appointment_tag.created', entityType: 'appointment_tag', entityId: row.id }, tx);
        return row;
      })
      .catch((err: unknown) => {
        throw pgErrorCode(err) === UNIQUE_VIOLATION ? duplicate() : err;
      });
    return tag;
  }

  async update(ctx: TenantContext, id: string, patch: z.infer<typeof tagPatch>) {
    const tag = await this.infra.db
      .transaction(async (tx) => {
        const [row] = await tx
          .update(appointmentTags)
          .set({ ...patch, updatedAt: new Date() })
          .where(and(eq(appointmentTags.clinicId, ctx.clinicId), eq(appointmentTags.id, id)))
          .returning();
        if (!row) throw notFound('Tag');
        await this.audit.record(ctx, { action: 'appointment_tag.updated', entityType: 'appointment_tag', entityId: id, details: { fields: Object.keys(patch) } }, tx);
        return row;
      })
      .catch((err: unknown) => {
        throw pgErrorCode(err) === UNIQUE_VIOLATION ? duplicate() : err;
      });
    await this.calendars.invalidateClinic(ctx.clinicId);
    return tag;
  }

  /** Appointments keep existing; they lose the tag. */
  async remove(ctx: TenantContext, id: string) {
    await this.infra.db.transaction(async (tx) => {
      const [row] = await tx
        .delete(appointmentTags)
        .where(and(eq(appointmentTags.clinicId, ctx.clinicId), eq(appointmentTags.id, id)))
        .returning({ id: appointmentTags.id });
      if (!row) throw notFound('Tag');
      await this.audit.record(ctx, { action: 'appointment_tag.deleted', entityType: 'appointment_tag', entityId: id }, tx);
    });
    await this.calendars.invalidateClinic(ctx.clinicId);
  }
}
