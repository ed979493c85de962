import { asc, eq, isNotNull, isNull } from 'drizzle-orm';
import type { z } from 'zod';
import type { renderInput, templateCreate, templatePatch } from '../../../shared/api/ai.js';
import { parseTemplate, variablesOf } from '../../../shared/api/template-syntax.js';
import { aiTemplates, users } from '../../../shared/schema/index.js';
import { ClinicData } from '../../infra/clinic-data.js';
import type { Infra } from '../../infra/index.js';
import { actorUserId, type TenantContext } from '../../http/context.js';
import { badRequest, forbidden, notFound } from '../../lib/errors.js';
import { can } from '../../lib/permissions.js';
import type { AuditService } from '../audit/service.js';
import type { ClinicService } from '../clinic/service.js';
import type { ContactService } from '../contacts/service.js';
import type { Scheduling } from '../scheduling/module.js';
import { DEFAULT_TEMPLATES } from './defaults.js';
import { renderParts, type RenderData } from './render.js';

type Row = typeof aiTemplates.$inferSelect;
type RenderInput = z.infer<typeof renderInput>;

const present = ({ clinicId: _c, createdBy: _b, deletedAt: _d, ...t }: Row) => ({
  ...t,
  variables: variablesOf(parseTemplate(t.body).parts),
  createdAt: t.createdAt.toISOString(),
  updatedAt: t.updatedAt.toISOString(),
});
export type AiTemplateView = ReturnType<typeof present>;

/** 400 `invalid_template` naming every unknown variable, filter and unbalanced brace. */
function checkedBody(body: string) {
  const { problems } = parseTemplate(body);
  if (problems.length) throw badRequest('invalid_template', problems.map((p) => p.message).join('; '), { problems });
  return body;
}

/** Message templates with variables: CRUD, the default ones, and rendering with a patient's real data. */
export class AiTemplateService {
  constructor(
    private readonly infra: Infra,
    private readonly audit: AuditService,
    private readonly clinic: ClinicService,
    private readonly contacts: ContactService,
    private readonly scheduling: Scheduling,
  ) {}

  private data(clinicId: string) {
    return new ClinicData(clinicId, this.infra.db);
  }

  /**
   * Adds the default templates a clinic lacks (new clinics, and clinics from before a default was
   * added); a deleted default keeps its row, so it is not added back. The unique key settles races.
   */
  private async seedDefaults(data: ClinicData) {
    const keys = new Set((await data.pick({ key: aiTemplates.key }, aiTemplates, isNotNull(aiTemplates.key))).map((r) => r.key));
    const missing = DEFAULT_TEMPLATES.filter((t) => !keys.has(t.key));
    if (missing.length === 0) return;
    await data.insert(aiTemplates, missing.map((t) => ({ key: t.key, name: t.name, category: t.category, body: t.body }))).onConflictDoNothing();
  }

  async list(clinicId: string, filter: { category?: Row['category'] }) {
    const data = this.data(clinicId);
    await this.seedDefaults(data);
    const rows = await data
      .select(aiTemplates, isNull(aiTemplates.deletedAt), filter.category ? eq(aiTemplates.category, filter.category) : undefined)
      .orderBy(asc(aiTemplates.createdAt), asc(aiTemplates.name));
    return { items: rows.map(present), nextCursor: null };
  }

  private async row(clinicId: string, id: string): Promise<Row> {
    const [row] = await this.data(clinicId).select(aiTemplates, eq(aiTemplates.id, id), isNull(aiTemplates.deletedAt));
    if (!row) throw notFound('Template');
    return row;
  }

  async get(clinicId: string, id: string) {
    return present(await this.row(clinicId, id));
  }

  /** A default template by its stable key (reminders), as the clinic edited it; undefined once deleted. */
  async byKey(clinicId: string, key: string): Promise<AiTemplateView | undefined> {
    const data = this.data(clinicId);
    await this.seedDefaults(data);
    const [row] = await data.select(aiTemplates, eq(aiTemplates.key, key), isNull(aiTemplates.deletedAt));
    return row && present(row);
  }

  async create(ctx: TenantContext, input: z.infer<typeof templateCreate>) {
    const body = checkedBody(input.body);
    const row = await this.data(ctx.clinicId).transaction(async (data, tx) => {
      const [inserted] = await data.insert(aiTemplates, { name: input.name, category: input.category, body, createdBy: actorUserId(ctx) }).returning();
      if (!inserted) throw new Error('insert returned nothing');
      await this.audit.record(ctx, { action: 'ai_template.created', entityType: 'ai_template', entityId: inserted.id }, tx);
      return inserted;
    });
    return present(row);
  }

  async update(ctx: TenantContext, id: string, patch: z.infer<typeof templatePatch>) {
    if (patch.body !== undefined) checkedBody(patch.body);
    const row = await this.data(ctx.clinicId).transaction(async (data, tx) => {
      const [updated] = await data.update(aiTemplates, { ...patch, updatedAt: new Date() }, eq(aiTemplates.id, id), isNull(aiTemplates.deletedAt)).returning();
      if (!updated) throw notFound('Template');
      await this.audit.record(ctx, { action: 'ai_template.updated', entityType: 'ai_template', entityId: id, details: { fields: Object.keys(patch) } }, tx);
      return updated;
    });
    return present(row);
  }

  async remove(ctx: TenantContext, id: string) {
    await this.data(ctx.clinicId).transaction(async (data, tx) => {
      const [deleted] = await data.update(aiTemplates, { deletedAt: new Date() }, eq(aiTemplates.id, id), isNull(aiTemplates.deletedAt)).returning({ id: aiTemplates.id });
      if (!deleted) throw notFound('Template');
      await this.audit.record(ctx, { action: 'ai_template.deleted', entityType: 'ai_template', entityId: id }, tx);
    });
  }

  /** `POST /ai-templates/:id/render`: the caller must also be allowed to read the patient and the appointment named. */
  async renderFor(ctx: TenantContext, id: string, input: RenderInput) {
    if (input.contactId && !can(ctx.actor, 'contacts:read')) throw forbidden();
    if (input.appointmentId && !can(ctx.actor, 'appointments:read')) throw forbidden();
    return this.render(ctx.clinicId, (await this.row(ctx.clinicId, id)).body, input);
  }

  /**
   * A body rendered with real data of this clinic (another clinic's patient or appointment: 404).
   * The appointment's patient is the patient when no contactId is given; both given must match.
   */
  async render(clinicId: string, body: string, input: RenderInput) {
    const { parts } = parseTemplate(checkedBody(body));
    const [clinic, contact, appointment] = await Promise.all([
      this.clinic.get(clinicId),
      input.contactId ? this.contacts.get(clinicId, input.contactId) : undefined,
      input.appointmentId ? this.scheduling.appointments.get(clinicId, input.appointmentId) : undefined,
    ]);
    if (contact && appointment && appointment.contactId !== contact.id) {
      throw badRequest('appointment_contact_mismatch', 'The appointment belongs to another patient');
    }
    const data: RenderData = { timezone: clinic.timezone, clinic };
    if (contact) data.contact = { name: contact.name };
    else if (appointment) data.contact = { name: appointment.contactName };
    if (appointment) {
      const [professional] = await this.infra.db.select({ name: users.name }).from(users).where(eq(users.id, appointment.professionalId));
      data.appointment = { startsAt: appointment.startsAt, endsAt: appointment.endsAt, type: appointment.type, professionalName: professional?.name ?? '' };
    }
    return renderParts(parts, data);
  }
}
