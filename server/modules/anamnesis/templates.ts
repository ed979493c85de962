import { randomUUID } from 'node:crypto';
import { asc, eq, isNotNull, isNull } from 'drizzle-orm';
import type { z } from 'zod';
import type { Question, templateCreate, templatePatch } from '../../../shared/api/anamnesis.js';
import { anamnesisResponses, anamnesisTemplates } from '../../../shared/schema/index.js';
import { ClinicData } from '../../infra/clinic-data.js';
import type { Infra } from '../../infra/index.js';
import type { TenantContext } from '../../http/context.js';
import { actorUserId } from '../../http/context.js';
import { notFound } from '../../lib/errors.js';
import type { AuditService } from '../audit/service.js';
import { DEFAULT_TEMPLATES } from './defaults.js';

type Row = typeof anamnesisTemplates.$inferSelect;

export const presentTemplate = ({ clinicId: _c, archivedAt: _a, createdBy: _b, defaultKey, ...t }: Row) => ({
  ...t,
  questions: t.questions as Question[],
  isDefault: defaultKey !== null,
  createdAt: t.createdAt.toISOString(),
  updatedAt: t.updatedAt.toISOString(),
});

export class TemplateService {
  constructor(
    private readonly infra: Infra,
    private readonly audit: AuditService,
  ) {}

  private data(clinicId: string) {
    return new ClinicData(clinicId, this.infra.db);
  }

  /** Default templates are created on a clinic's first listing, once (a unique index settles races). */
  private async seedDefaults(data: ClinicData) {
    const [seeded] = await data.pick({ id: anamnesisTemplates.id }, anamnesisTemplates, isNotNull(anamnesisTemplates.defaultKey)).limit(1);
    if (seeded) return;
    await data
      .insert(
        anamnesisTemplates,
        DEFAULT_TEMPLATES.map((t) => ({ familyId: randomUUID(), name: t.name, description: t.description, questions: t.questions, defaultKey: t.key })),
      )
      .onConflictDoNothing();
  }

  async list(clinicId: string) {
    const data = this.data(clinicId);
    await this.seedDefaults(data);
    const rows = await data.select(anamnesisTemplates, isNull(anamnesisTemplates.archivedAt)).orderBy(asc(anamnesisTemplates.createdAt), asc(anamnesisTemplates.name));
    return { items: rows.map(presentTemplate), nextCursor: null };
  }

  /** Any version (answers point at old ones); `current` asks for the editable latest only. */
  async row(clinicId: string, id: string, opts: { current?: boolean } = {}): Promise<Row> {
    const [row] = await this.data(clinicId).select(anamnesisTemplates, eq(anamnesisTemplates.id, id), opts.current ? isNull(anamnesisTemplates.archivedAt) : undefined);
    if (!row) throw notFound('Template');
    return row;
  }

  async get(clinicId: string, id: string) {
    return presentTemplate(await this.row(clinicId, id));
  }

  async create(ctx: TenantContext, input: z.infer<typeof templateCreate>) {
    const row = await this.data(ctx.clinicId).transaction(async (data, tx) => {
      const [inserted] = await data
        .insert(anamnesisTemplates, { familyId: randomUUID(), name: input.name, description: input.description ?? null, questions: input.questions, createdBy: actorUserId(ctx) })
        .returning();
      if (!inserted) throw new Error('insert returned nothing');
      await this.audit.record(ctx, { action: 'anamnesis_template.created', entityType: 'anamnesis_template', entityId: inserted.id }, tx);
      return inserted;
    });
    return presentTemplate(row);
  }

  /** Edits in place while nobody answered; otherwise archives this version and creates the next. */
  async update(ctx: TenantContext, id: string, patch: z.infer<typeof templatePatch>) {
    const current = await this.row(ctx.clinicId, id, { current: true });
    const scoped = this.data(ctx.clinicId);
    const [answered] = await scoped.pick({ id: anamnesisResponses.id }, anamnesisResponses, eq(anamnesisResponses.templateId, id)).limit(1);
    const row = await scoped.transaction(async (data, tx) => {
      const now = new Date();
      let result: Row | undefined;
      if (!answered) {
        [result] = await data.update(anamnesisTemplates, { ...patch, updatedAt: now }, eq(anamnesisTemplates.id, id)).returning();
      } else {
        await data.update(anamnesisTemplates, { archivedAt: now }, eq(anamnesisTemplates.id, id));
        [result] = await data
          .insert(anamnesisTemplates, {
            familyId: current.familyId,
            version: current.version + 1,
            name: patch.name ?? current.name,
            description: patch.description === undefined ? current.description : patch.description,
            questions: patch.questions ?? current.questions,
            defaultKey: current.defaultKey,
            createdBy: actorUserId(ctx),
          })
          .returning();
      }
      if (!result) throw notFound('Template');
      await this.audit.record(ctx, { action: 'anamnesis_template.updated', entityType: 'anamnesis_template', entityId: result.id, details: { previousId: id, version: result.version, fields: Object.keys(patch) } }, tx);
      return result;
    });
    return presentTemplate(row);
  }

  /** Archives: answers already given keep pointing at it; it leaves the list. */
  async remove(ctx: TenantContext, id: string) {
    await this.row(ctx.clinicId, id, { current: true });
    await this.data(ctx.clinicId).transaction(async (data, tx) => {
      await data.update(anamnesisTemplates, { archivedAt: new Date() }, eq(anamnesisTemplates.id, id));
      await this.audit.record(ctx, { action: 'anamnesis_template.deleted', entityType: 'anamnesis_template', entityId: id }, tx);
    });
  }
}
