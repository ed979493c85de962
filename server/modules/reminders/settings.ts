import { and, eq, inArray, isNull } from 'drizzle-orm';
import type { z } from 'zod';
import type { reminderSettingsPatch, ReminderSettingsView } from '../../../shared/api/reminders.js';
import { aiTemplates, reminderSettings, whatsappNumbers, type ReminderOffset } from '../../../shared/schema/index.js';
import { ClinicData } from '../../infra/clinic-data.js';
import type { Infra } from '../../infra/index.js';
import { actorUserId, type TenantContext } from '../../http/context.js';
import { AppError } from '../../lib/errors.js';
import type { AuditService } from '../audit/service.js';
import type { ClinicService } from '../clinic/service.js';
import type { QuietHours } from './timing.js';

type Patch = z.infer<typeof reminderSettingsPatch>;

/** A clinic that never saved its settings: off; the day before at 10:00 and 2 hours before; quiet 21:00-08:00. */
export const DEFAULT_OFFSETS: ReminderOffset[] = [
  { kind: 'day_before', daysBefore: 1, at: '10:00', templateId: null },
  { kind: 'hours_before', minutesBefore: 120, templateId: null },
];
export const DEFAULT_QUIET_HOURS: QuietHours = { start: '21:00', end: '08:00' };

const unknownId = (what: string, field: string, id: string) => new AppError(404, 'not_found', `${what} not found: ${id}`, { field, ids: [id] });

/** `GET|PUT /reminders/settings`; the scheduler and the send job read them through `get`. */
export class ReminderSettingsService {
  constructor(
    private readonly infra: Infra,
    private readonly audit: AuditService,
    private readonly clinic: ClinicService,
  ) {}

  private data(clinicId: string) {
    return new ClinicData(clinicId, this.infra.db);
  }

  async get(clinicId: string): Promise<ReminderSettingsView> {
    const [[row], clinic] = await Promise.all([this.data(clinicId).select(reminderSettings), this.clinic.get(clinicId)]);
    if (!row) return { enabled: false, offsets: DEFAULT_OFFSETS, numberId: null, quietHours: DEFAULT_QUIET_HOURS, timezone: clinic.timezone, updatedAt: null };
    return {
      enabled: row.enabled,
      offsets: row.offsets,
      numberId: row.numberId,
      quietHours: row.quietStart && row.quietEnd ? { start: row.quietStart, end: row.quietEnd } : null,
      timezone: clinic.timezone,
      updatedAt: row.updatedAt.toISOString(),
    };
  }

  /** Replaces the fields sent; a template or number that is not this clinic's is a 404 naming it. Audited (field names only). */
  async update(ctx: TenantContext, patch: Patch): Promise<ReminderSettingsView> {
    await this.checkReferences(ctx.clinicId, patch);
    const set: Partial<typeof reminderSettings.$inferInsert> = { updatedBy: actorUserId(ctx), updatedAt: new Date() };
    if (patch.enabled !== undefined) set.enabled = patch.enabled;
    if (patch.offsets !== undefined) set.offsets = patch.offsets;
    if (patch.numberId !== undefined) set.numberId = patch.numberId;
    if (patch.quietHours !== undefined) Object.assign(set, { quietStart: patch.quietHours?.start ?? null, quietEnd: patch.quietHours?.end ?? null });
    await this.data(ctx.clinicId).transaction(async (data, tx) => {
      // The defaults' row first, so every save is one update of the fields it sends (concurrent saves touch different fields safely).
      await data.insert(reminderSettings, { enabled: false, offsets: DEFAULT_OFFSETS, quietStart: DEFAULT_QUIET_HOURS.start, quietEnd: DEFAULT_QUIET_HOURS.end }).onConflictDoNothing();
      await data.update(reminderSettings, set);
      await this.audit.record(ctx, { action: 'reminder_settings.updated', entityType: 'reminder_settings', entityId: ctx.clinicId, details: { fields: Object.keys(patch) } }, tx);
    });
    return this.get(ctx.clinicId);
  }

  private async checkReferences(clinicId: string, patch: Patch) {
    const data = this.data(clinicId);
    if (patch.numberId) {
      const [number] = await data.pick({ id: whatsappNumbers.id }, whatsappNumbers, eq(whatsappNumbers.id, patch.numberId));
      if (!number) throw unknownId('WhatsApp number', 'numberId', patch.numberId);
    }
    const templateIds = [...new Set((patch.offsets ?? []).map((o) => o.templateId).filter((id): id is string => id !== null))];
    if (templateIds.length) {
      const found = new Set((await data.pick({ id: aiTemplates.id }, aiTemplates, and(inArray(aiTemplates.id, templateIds), isNull(aiTemplates.deletedAt)))).map((r) => r.id));
      const missing = templateIds.find((id) => !found.has(id));
      if (missing) throw unknownId('Template', 'offsets.templateId', missing);
    }
  }
}
