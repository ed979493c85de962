import { inArray } from 'drizzle-orm';
import type { z } from 'zod';
import type { aiConfigPatch, AiConfigView } from '../../../shared/api/ai.js';
import { aiConfigs, knowledgeBases, whatsappNumbers, type WorkingHours } from '../../../shared/schema/index.js';
import { ClinicData } from '../../infra/clinic-data.js';
import type { Infra } from '../../infra/index.js';
import { actorUserId, type TenantContext } from '../../http/context.js';
import { AppError, badRequest } from '../../lib/errors.js';
import { minutesOf, weekday, zonedDate, zonedParts } from '../../lib/zoned-time.js';
import type { AuditService } from '../audit/service.js';
import type { ClinicService } from '../clinic/service.js';
import type { TeamService } from '../team/service.js';
import { CLINICAL_AI_STATEMENT, CLINICAL_AI_STATEMENT_VERSION, DEFAULT_CONFIG, DEFAULT_SYSTEM_PROMPT } from './defaults.js';

type Patch = z.infer<typeof aiConfigPatch>;
type Row = typeof aiConfigs.$inferSelect;

/** Ids a body names that are not this clinic's: answered like ids that do not exist (404), naming them. */
const unknownIds = (what: string, field: string, ids: string[]) =>
  new AppError(404, 'not_found', `${what} not found: ${ids.join(', ')}`, { field, ids });

/** Whether `at` falls inside the hours (weekday -> local intervals) in `timezone`; null hours: always. */
export function withinHours(hours: WorkingHours | null, timezone: string, at: Date): boolean {
  if (!hours) return true;
  const local = zonedParts(at, timezone);
  const minutes = local.hour * 60 + local.minute;
  const day = String(weekday(zonedDate(at, timezone))) as keyof WorkingHours;
  return (hours[day] ?? []).some((i) => minutes >= minutesOf(i.start) && minutes < minutesOf(i.end));
}

/** The assistant's settings per clinic (`GET|PUT /ai/config`); the auto-reply reads them through `get`. */
export class AiConfigService {
  constructor(
    private readonly infra: Infra,
    private readonly audit: AuditService,
    private readonly clinic: ClinicService,
    private readonly team: TeamService,
  ) {}

  private data(clinicId: string) {
    return new ClinicData(clinicId, this.infra.db);
  }

  /** The effective settings: the saved ones, or the defaults; ids of numbers or professionals gone since are left out. */
  async get(clinicId: string): Promise<AiConfigView> {
    const [[row], clinic] = await Promise.all([this.data(clinicId).select(aiConfigs), this.clinic.get(clinicId)]);
    const saved = row ?? { ...DEFAULT_CONFIG, clinicalAiStatementVersion: null, clinicalAiEnabledAt: null, clinicalAiEnabledBy: null, updatedAt: null };
    const [numbers, professionals] = await Promise.all([this.existingNumbers(clinicId, saved.numberIds), this.activeProfessionals(clinicId)]);
    return {
      enabled: saved.enabled,
      numberIds: saved.numberIds.filter((id) => numbers.has(id)),
      hours: saved.hours,
      systemPrompt: saved.systemPrompt ?? DEFAULT_SYSTEM_PROMPT,
      systemPromptIsDefault: saved.systemPrompt === null,
      knowledgeBaseIds: saved.knowledgeBaseIds,
      bookingProfessionalIds: saved.bookingProfessionalIds?.filter((id) => professionals.has(id)) ?? null,
      bookingAppointmentTypes: saved.bookingAppointmentTypes,
      pauseAfterHumanMinutes: saved.pauseAfterHumanMinutes,
      debounceSeconds: saved.debounceSeconds,
      maxRepliesPerHour: saved.maxRepliesPerHour,
      handoffKeywords: saved.handoffKeywords,
      dailyTokenBudget: saved.dailyTokenBudget,
      clinicalAi: {
        // Accepted under an older statement: off until an admin accepts the current text.
        enabled: saved.clinicalAiEnabled && saved.clinicalAiStatementVersion === CLINICAL_AI_STATEMENT_VERSION,
        statement: CLINICAL_AI_STATEMENT,
        statementVersion: CLINICAL_AI_STATEMENT_VERSION,
        enabledAt: saved.clinicalAiEnabledAt?.toISOString() ?? null,
        enabledBy: saved.clinicalAiEnabledBy,
      },
      timezone: clinic.timezone,
      updatedAt: saved.updatedAt?.toISOString() ?? null,
    };
  }

  /** Replaces the fields sent; checks every id names a row of this clinic first. Audited (field names only). */
  async update(ctx: TenantContext, patch: Patch): Promise<AiConfigView> {
    await this.checkReferences(ctx.clinicId, patch);
    const { clinicalAi, ...fields } = patch;
    const set: Partial<typeof aiConfigs.$inferInsert> = { ...fields, updatedBy: actorUserId(ctx), updatedAt: new Date() };
    await this.data(ctx.clinicId).transaction(async (data, tx) => {
      await data.insert(aiConfigs, DEFAULT_CONFIG).onConflictDoNothing();
      // The row lock orders concurrent saves: each sees what the previous one committed.
      const [current] = await data.select(aiConfigs).for('update');
      if (!current) throw new Error('ai config row missing after insert');
      if (clinicalAi) Object.assign(set, this.clinicalAiChange(ctx, current, clinicalAi));
      const enabled = set.enabled ?? current.enabled;
      const numberIds = set.numberIds ?? current.numberIds;
      if (enabled && numberIds.length === 0) throw badRequest('no_numbers', 'Choose at least one WhatsApp number for the assistant before switching it on');
      await data.update(aiConfigs, set);
      const clinicalAiChanged =
        set.clinicalAiEnabled !== undefined && (set.clinicalAiEnabled !== current.clinicalAiEnabled || set.clinicalAiStatementVersion !== current.clinicalAiStatementVersion);
      await this.audit.record(
        ctx,
        {
          action: 'ai_config.updated',
          entityType: 'ai_config',
          entityId: ctx.clinicId,
          details: { fields: Object.keys(patch), ...(clinicalAiChanged ? { clinicalAi: set.clinicalAiEnabled ? 'enabled' : 'disabled', statementVersion: set.clinicalAiStatementVersion ?? null } : {}) },
        },
        tx,
      );
    });
    return this.get(ctx.clinicId);
  }

  /** Switching clinical AI on is the clinic's LGPD decision: the admin must send the version of the statement they read. */
  private clinicalAiChange(ctx: TenantContext, current: Row, change: NonNullable<Patch['clinicalAi']>): Partial<Row> {
    if (!change.enabled) return { clinicalAiEnabled: false, clinicalAiStatementVersion: null, clinicalAiEnabledAt: null, clinicalAiEnabledBy: null };
    if (current.clinicalAiEnabled && current.clinicalAiStatementVersion === CLINICAL_AI_STATEMENT_VERSION && change.acceptedStatementVersion === undefined) return {};
    if (change.acceptedStatementVersion !== CLINICAL_AI_STATEMENT_VERSION) {
      throw badRequest('statement_not_accepted', `Switching clinical AI on requires accepting the statement version ${CLINICAL_AI_STATEMENT_VERSION}`, {
        statementVersion: CLINICAL_AI_STATEMENT_VERSION,
      });
    }
    return { clinicalAiEnabled: true, clinicalAiStatementVersion: CLINICAL_AI_STATEMENT_VERSION, clinicalAiEnabledAt: new Date(), clinicalAiEnabledBy: actorUserId(ctx) };
  }

  private async checkReferences(clinicId: string, patch: Patch) {
    if (patch.numberIds?.length) {
      const found = await this.existingNumbers(clinicId, patch.numberIds);
      const missing = patch.numberIds.filter((id) => !found.has(id));
      if (missing.length) throw unknownIds('WhatsApp number', 'numberIds', missing);
    }
    if (patch.knowledgeBaseIds?.length) {
      const rows = await this.data(clinicId).pick({ id: knowledgeBases.id }, knowledgeBases, inArray(knowledgeBases.id, patch.knowledgeBaseIds));
      const found = new Set(rows.map((r) => r.id));
      const missing = patch.knowledgeBaseIds.filter((id) => !found.has(id));
      if (missing.length) throw unknownIds('Knowledge base', 'knowledgeBaseIds', missing);
    }
    if (patch.bookingProfessionalIds?.length) {
      const active = await this.activeProfessionals(clinicId);
      const missing = patch.bookingProfessionalIds.filter((id) => !active.has(id));
      if (missing.length) throw unknownIds('Professional', 'bookingProfessionalIds', missing);
    }
  }

  // One read of the numbers' table by this clinic: an existence check needs no dependency on the whatsapp module.
  private async existingNumbers(clinicId: string, ids: string[]) {
    if (ids.length === 0) return new Set<string>();
    const rows = await this.data(clinicId).pick({ id: whatsappNumbers.id }, whatsappNumbers, inArray(whatsappNumbers.id, ids));
    return new Set(rows.map((r) => r.id));
  }

  private async activeProfessionals(clinicId: string) {
    return new Set((await this.team.professionals(clinicId)).map((p) => p.userId));
  }
}
