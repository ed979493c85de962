import { eq } from 'drizzle-orm';
import type { z } from 'zod';
import type { AnyDeliveredEvent } from '../../../shared/api/domain-events.js';
import type { rulesBody } from '../../../shared/api/pipeline.js';
import { opportunities, pipelineRuleRuns, pipelineSettings, pipelineStages } from '../../../shared/schema/index.js';
import { ClinicData } from '../../infra/clinic-data.js';
import type { Infra } from '../../infra/index.js';
import type { TenantContext } from '../../http/context.js';
import { AppError } from '../../lib/errors.js';
import type { AuditService } from '../audit/service.js';
import type { AppointmentService } from '../scheduling/appointments.js';
import type { Mover } from './board.js';
import type { OpportunityService } from './opportunities.js';
import type { StageService } from './stages.js';

type Settings = typeof pipelineSettings.$inferSelect;
export type RuleName = 'first_booking' | 'first_completion';
export type AppointmentEventName = 'appointment.created' | 'appointment.updated';

const present = (s: Settings) => ({
  firstBooking: { enabled: s.firstBookingEnabled, stageId: s.firstBookingStageId },
  firstCompletion: { enabled: s.firstCompletionEnabled, stageId: s.firstCompletionStageId },
});

/**
 * Per-clinic automations, off by default: a patient's first booking moves their open
 * opportunities to "Agendado", their first completed appointment to "Em tratamento" (or the stages
 * an admin chose). They run in the `pipeline-rules` subscriber on the appointment events, never
 * inside scheduling; each applies to an opportunity once (a unique run row), so a redelivered
 * event changes nothing. They only move forward: a card already at or past the target stays.
 */
export class RuleService {
  constructor(
    private readonly infra: Infra,
    private readonly audit: AuditService,
    private readonly stages: StageService,
    private readonly opportunities: OpportunityService,
    private readonly appointments: AppointmentService,
  ) {}

  private data(clinicId: string) {
    return new ClinicData(clinicId, this.infra.db);
  }

  private async settings(data: ClinicData): Promise<Settings | undefined> {
    const [row] = await data.select(pipelineSettings);
    return row;
  }

  async get(clinicId: string) {
    await this.stages.ensure(clinicId);
    const row = await this.settings(this.data(clinicId));
    if (!row) throw new Error('pipeline settings missing after ensure');
    return present(row);
  }

  async update(ctx: TenantContext, body: z.infer<typeof rulesBody>) {
    await this.stages.ensure(ctx.clinicId);
    for (const rule of [body.firstBooking, body.firstCompletion]) if (rule?.stageId) await this.stages.get(ctx.clinicId, rule.stageId);
    const row = await this.data(ctx.clinicId).transaction(async (data, tx) => {
      const current = await this.settings(data);
      if (!current) throw new Error('pipeline settings missing after ensure');
      const next = {
        firstBookingEnabled: body.firstBooking?.enabled ?? current.firstBookingEnabled,
        firstBookingStageId: body.firstBooking?.stageId === undefined ? current.firstBookingStageId : body.firstBooking.stageId,
        firstCompletionEnabled: body.firstCompletion?.enabled ?? current.firstCompletionEnabled,
        firstCompletionStageId: body.firstCompletion?.stageId === undefined ? current.firstCompletionStageId : body.firstCompletion.stageId,
      };
      if ((next.firstBookingEnabled && !next.firstBookingStageId) || (next.firstCompletionEnabled && !next.firstCompletionStageId)) {
        throw new AppError(422, 'rule_stage_required', 'Escolha a etapa para onde a regra move a oportunidade');
      }
      const [updated] = await data.update(pipelineSettings, { ...next, updatedAt: new Date() }).returning();
      await this.audit.record(ctx, { action: 'pipeline_rules.updated', entityType: 'pipeline_settings', entityId: ctx.clinicId, details: next }, tx);
      return updated as Settings;
    });
    return present(row);
  }

  /** Which rule an appointment event may trigger, if its clinic has it on. */
  async handle(event: AnyDeliveredEvent<AppointmentEventName>) {
    const rule: RuleName | undefined = event.name === 'appointment.created' ? 'first_booking' : event.payload.status === 'completed' ? 'first_completion' : undefined;
    if (!rule) return;
    const settings = await this.settings(this.data(event.clinicId));
    const stageId = rule === 'first_booking' ? settings?.firstBookingEnabled && settings.firstBookingStageId : settings?.firstCompletionEnabled && settings.firstCompletionStageId;
    if (!stageId) return;
    if (!(await this.isFirst(event.clinicId, event.payload.contactId, event.payload.id, rule))) return;
    await this.apply(event, rule, stageId);
  }

  /**
   * First booking: no appointment of the patient was created before this one. First completion:
   * no earlier appointment of the patient (by start) is completed. Asked of scheduling's service.
   */
  private async isFirst(clinicId: string, contactId: string, appointmentId: string, rule: RuleName) {
    const all = await this.appointments.forContact(clinicId, contactId);
    const self = all.find((a) => a.id === appointmentId);
    if (!self) return false;
    if (rule === 'first_booking') return !all.some((a) => a.id !== self.id && a.createdAt < self.createdAt);
    if (self.status !== 'completed') return false;
    return !all.some((a) => a.id !== self.id && a.status === 'completed' && a.startsAt < self.startsAt);
  }

  private async apply(event: AnyDeliveredEvent<AppointmentEventName>, rule: RuleName, stageId: string) {
    const mover: Mover = { scope: { clinicId: event.clinicId, actor: null, requestId: event.requestId }, actorId: null, source: `rule:${rule}` };
    await this.data(event.clinicId).transaction(async (data, tx) => {
      // The target may have been deleted since the settings were read: then the rule has none.
      const [target] = await data.select(pipelineStages, eq(pipelineStages.id, stageId)).for('no key update');
      if (!target) return;
      const open = await data.select(opportunities, eq(opportunities.contactId, event.payload.contactId), eq(opportunities.status, 'open')).for('update');
      const orders = new Map((await data.pick({ id: pipelineStages.id, sortOrder: pipelineStages.sortOrder }, pipelineStages)).map((s) => [s.id, s.sortOrder]));
      const behind = open.filter((o) => (orders.get(o.stageId) ?? Infinity) < target.sortOrder);
      if (behind.length === 0) return;
      const runs = await data
        .insert(pipelineRuleRuns, behind.map((o) => ({ opportunityId: o.id, rule, appointmentId: event.payload.id })))
        .onConflictDoNothing()
        .returning({ opportunityId: pipelineRuleRuns.opportunityId });
      const fresh = new Set(runs.map((r) => r.opportunityId));
      for (const card of behind.filter((o) => fresh.has(o.id))) await this.opportunities.placeLocked(data, tx, card, target.id, undefined, mover);
    });
  }
}
