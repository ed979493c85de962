import { asc, eq } from 'drizzle-orm';
import type { z } from 'zod';
import type { tagBody, tagPatch } from '../../../shared/api/scheduling.js';
import { appointmentTags } from '../../../shared/schema/index.js';
import { ClinicData } from '../../infra/clinic-data.js';
import type { Infra } from '../../infra/index.js';
import type { TenantContext } from '../../http/context.js';
import { conflict, notFound } from '../../lib/errors.js';
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

  private data(clinicId: string) {
    return new ClinicData(clinicId, this.infra.db);
  }

  list(clinicId: string) {
    return this.data(clinicId).select(appointmentTags).orderBy(asc(appointmentTags.name));
  }

  async get(clinicId: string, id: string) {
    const [row] = await this.data(clinicId).select(appointmentTags, eq(appointmentTags.id, id));
    if (!row) throw notFound('Tag');
    return row;
  }

  async create(ctx: TenantContext, input: z.infer<typeof tagBody>) {
    const tag = await this.data(ctx.clinicId)
      .transaction(async (data, tx) => {
        const [row] = await data.insert(appointmentTags, input).returning();
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
    const tag = await this.data(ctx.clinicId)
      .transaction(async (data, tx) => {
        const [row] = await data.update(appointmentTags, { ...patch, updatedAt: new Date() }, eq(appointmentTags.id, id)).returning();
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
    await this.data(ctx.clinicId).transaction(async (data, tx) => {
      const [row] = await data.delete(appointmentTags, eq(appointmentTags.id, id)).returning({ id: appointmentTags.id });
      if (!row) throw notFound('Tag');
      await this.audit.record(ctx, { action: 'appointment_tag.deleted', entityType: 'appointment_tag', entityId: id }, tx);
    });
    await this.calendars.invalidateClinic(ctx.clinicId);
  }
}
