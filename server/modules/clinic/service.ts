import { eq } from 'drizzle-orm';
import type { z } from 'zod';
import type { clinicPatch } from '../../../shared/api/team.js';
import { clinics } from '../../../shared/schema/index.js';
import type { Infra } from '../../infra/index.js';
import type { TenantContext } from '../../http/context.js';
import { notFound } from '../../lib/errors.js';
import type { AuditService } from '../audit/service.js';

const publicColumns = {
  id: clinics.id,
  name: clinics.name,
  timezone: clinics.timezone,
  workingHours: clinics.workingHours,
  phone: clinics.phone,
  email: clinics.email,
  address: clinics.address,
  document: clinics.document,
};

export class ClinicService {
  constructor(
    private readonly infra: Infra,
    private readonly audit: AuditService,
  ) {}

  async get(clinicId: string) {
    const [clinic] = await this.infra.db.select(publicColumns).from(clinics).where(eq(clinics.id, clinicId));
    if (!clinic) throw notFound('Clinic');
    return clinic;
  }

  async update(ctx: TenantContext, patch: z.infer<typeof clinicPatch>) {
    const clinic = await this.infra.db.transaction(async (tx) => {
      const [row] = await tx.update(clinics).set({ ...patch, updatedAt: new Date() }).where(eq(clinics.id, ctx.clinicId)).returning(publicColumns);
      if (!row) throw notFound('Clinic');
      await this.audit.record(ctx, { action: 'clinic.updated', entityType: 'clinic', entityId: ctx.clinicId, details: { fields: Object.keys(patch) } }, tx);
      await this.infra.events.publish(tx, 'clinic.updated', { id: row.id, name: row.name, timezone: row.timezone }, ctx);
      return row;
    });
    return clinic;
  }
}
