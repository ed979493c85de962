import { asc, desc, eq, sql } from 'drizzle-orm';
import type { z } from 'zod';
import type { stageBody, stagePatch } from '../../../shared/api/pipeline.js';
import { opportunities, pipelineSettings, pipelineStages } from '../../../shared/schema/index.js';
import { ClinicData } from '../../infra/clinic-data.js';
import type { Infra } from '../../infra/index.js';
import type { Tx } from '../../infra/db.js';
import type { TenantContext } from '../../http/context.js';
import { badRequest, conflict, notFound } from '../../lib/errors.js';
import { UNIQUE_VIOLATION, pgErrorCode } from '../../lib/pg-errors.js';
import type { AuditService } from '../audit/service.js';
import { lockStage, moverOf, opportunityEvent, placeCard, type StageRow } from './board.js';
import { DEFAULT_STAGES, MAX_STAGES, RULE_DEFAULT_STAGE } from './defaults.js';
import { keysAfter } from './positions.js';

const duplicate = () => conflict('stage_exists', 'Já existe uma etapa com este nome');

const present = (s: StageRow, openCount: number) => ({
  id: s.id,
  name: s.name,
  color: s.color,
  order: s.sortOrder,
  defaultKey: s.defaultKey,
  openCount,
  createdAt: s.createdAt.toISOString(),
  updatedAt: s.updatedAt.toISOString(),
});

/** The board's columns: per clinic, ordered, coloured; a clinic starts with DEFAULT_STAGES. */
export class StageService {
  /** Clinics whose defaults this process saw in place: the check is skipped for them. */
  private readonly seeded = new Set<string>();

  constructor(
    private readonly infra: Infra,
    private readonly audit: AuditService,
  ) {}

  private data(clinicId: string) {
    return new ClinicData(clinicId, this.infra.db);
  }

  /**
   * Creates the default stages on the clinic's first use of the pipeline, once: the settings row
   * is the marker, and its primary key settles two first requests at once. New and existing
   * clinics alike; a clinic that later deletes them does not get them back.
   */
  async ensure(clinicId: string): Promise<void> {
    if (this.seeded.has(clinicId)) return;
    await this.data(clinicId).transaction(async (data) => {
      const [created] = await data.insert(pipelineSettings, {}).onConflictDoNothing().returning({ clinicId: pipelineSettings.clinicId });
      if (!created) return;
      const stages = await data
        .insert(pipelineStages, DEFAULT_STAGES.map((s, i) => ({ name: s.name, color: s.color, sortOrder: i, defaultKey: s.key })))
        .returning({ id: pipelineStages.id, key: pipelineStages.defaultKey });
      const idOf = (key: string) => stages.find((s) => s.key === key)?.id ?? null;
      await data.update(pipelineSettings, { firstBookingStageId: idOf(RULE_DEFAULT_STAGE.firstBooking), firstCompletionStageId: idOf(RULE_DEFAULT_STAGE.firstCompletion) });
    });
    this.seeded.add(clinicId);
  }

  private rows(data: ClinicData) {
    return data.select(pipelineStages).orderBy(asc(pipelineStages.sortOrder), asc(pipelineStages.createdAt));
  }

  async list(clinicId: string) {
    await this.ensure(clinicId);
    const data = this.data(clinicId);
    const [stages, counts] = await Promise.all([
      this.rows(data),
      data.pick({ stageId: opportunities.stageId, n: sql<number>`count(*)::int` }, opportunities, eq(opportunities.status, 'open')).groupBy(opportunities.stageId),
    ]);
    const open = new Map(counts.map((c) => [c.stageId, c.n]));
    return { items: stages.map((s) => present(s, open.get(s.id) ?? 0)), nextCursor: null };
  }

  async get(clinicId: string, id: string) {
    await this.ensure(clinicId);
    const [row] = await this.data(clinicId).select(pipelineStages, eq(pipelineStages.id, id));
    if (!row) throw notFound('Etapa');
    return row;
  }

  /** The first column: where a new opportunity goes when no stage is given. */
  async first(data: ClinicData): Promise<StageRow> {
    const [first] = await this.rows(data).limit(1);
    if (!first) throw conflict('no_stages', 'O funil não tem etapas');
    return first;
  }

  /** Changes to the list of stages of a clinic run one at a time: they lock its settings row. */
  private async write<T>(ctx: TenantContext, run: (data: ClinicData, tx: Tx) => Promise<T>): Promise<T> {
    await this.ensure(ctx.clinicId);
    return this.data(ctx.clinicId)
      .transaction(async (data, tx) => {
        await data.select(pipelineSettings).for('update');
        const result = await run(data, tx);
        const stages = await this.rows(data);
        await this.infra.events.publish(tx, 'pipeline.stages_updated', { clinicId: ctx.clinicId, stages: stages.map((s) => ({ id: s.id, name: s.name, color: s.color, order: s.sortOrder })) }, ctx);
        return result;
      })
      .catch((err: unknown) => {
        throw pgErrorCode(err) === UNIQUE_VIOLATION ? duplicate() : err;
      });
  }

  /** Renumbers the list 0..n-1 in the given order (a handful of rows: stages are few). */
  private async renumber(data: ClinicData, ids: string[]) {
    for (const [i, id] of ids.entries()) await data.update(pipelineStages, { sortOrder: i, updatedAt: new Date() }, eq(pipelineStages.id, id));
  }

  async create(ctx: TenantContext, body: z.infer<typeof stageBody>) {
    const row = await this.write(ctx, async (data, tx) => {
      const stages = await this.rows(data);
      if (stages.length >= MAX_STAGES) throw conflict('too_many_stages', `O funil tem no máximo ${MAX_STAGES} etapas`);
      const at = Math.min(body.position ?? stages.length, stages.length);
      const [created] = await data.insert(pipelineStages, { name: body.name, color: body.color, sortOrder: at }).returning();
      if (!created) throw new Error('insert returned nothing');
      const order = stages.map((s) => s.id);
      order.splice(at, 0, created.id);
      await this.renumber(data, order);
      await this.audit.record(ctx, { action: 'pipeline_stage.created', entityType: 'pipeline_stage', entityId: created.id }, tx);
      return { ...created, sortOrder: at };
    });
    return present(row, 0);
  }

  async update(ctx: TenantContext, id: string, patch: z.infer<typeof stagePatch>) {
    await this.get(ctx.clinicId, id);
    await this.write(ctx, async (data, tx) => {
      const [row] = await data.update(pipelineStages, { ...patch, updatedAt: new Date() }, eq(pipelineStages.id, id)).returning({ id: pipelineStages.id });
      if (!row) throw notFound('Etapa');
      await this.audit.record(ctx, { action: 'pipeline_stage.updated', entityType: 'pipeline_stage', entityId: id, details: { fields: Object.keys(patch) } }, tx);
    });
    return (await this.list(ctx.clinicId)).items.find((s) => s.id === id);
  }

  /** `ids` must be every stage of the clinic, each once: anything else (another clinic's, a missing one) changes nothing. */
  async reorder(ctx: TenantContext, ids: string[]) {
    await this.write(ctx, async (data, tx) => {
      const current = await this.rows(data);
      const known = new Set(current.map((s) => s.id));
      if (ids.length !== current.length || !ids.every((id) => known.has(id))) {
        throw badRequest('invalid_stage_order', 'Informe todas as etapas do funil, cada uma uma vez', { expected: current.length });
      }
      await this.renumber(data, ids);
      await this.audit.record(ctx, { action: 'pipeline_stage.reordered', entityType: 'pipeline_stage', details: { ids } }, tx);
    });
    return this.list(ctx.clinicId);
  }

  /**
   * A stage with opportunities goes only with `moveTo`: its cards move, in their order, to the end
   * of that stage, each with its history entry and event. Without it: 409 stage_not_empty.
   */
  async remove(ctx: TenantContext, id: string, moveTo: string | undefined) {
    await this.get(ctx.clinicId, id);
    if (moveTo === id) throw badRequest('invalid_move_target', 'Escolha outra etapa para receber as oportunidades');
    await this.write(ctx, async (data, tx) => {
      const all = await this.rows(data);
      const stage = await lockStage(data, id);
      const target = moveTo ? await lockStage(data, moveTo) : undefined;
      if (all.length <= 1) throw conflict('last_stage', 'O funil precisa de pelo menos uma etapa');
      const cards = await data.select(opportunities, eq(opportunities.stageId, stage.id)).orderBy(asc(opportunities.position)).for('update');
      if (cards.length > 0 && !target) {
        throw conflict('stage_not_empty', 'Esta etapa tem oportunidades: escolha para qual etapa movê-las (moveTo)', { opportunities: cards.length });
      }
      if (target && cards.length > 0) {
        const mover = moverOf(ctx);
        const at = new Date();
        const keys = keysAfter(await this.lastKey(data, target.id), cards.length);
        for (const [i, card] of cards.entries()) {
          const moved = await placeCard(data, card, target.id, keys[i] as string, mover, at);
          await this.infra.events.publish(tx, 'opportunity.moved', { ...opportunityEvent(moved), fromStageId: stage.id, toStageId: target.id, source: mover.source }, ctx);
        }
      }
      await data.delete(pipelineStages, eq(pipelineStages.id, stage.id));
      await this.renumber(data, all.filter((s) => s.id !== stage.id).map((s) => s.id));
      await this.audit.record(ctx, { action: 'pipeline_stage.deleted', entityType: 'pipeline_stage', entityId: id, details: { movedTo: target?.id ?? null, opportunities: cards.map((c) => c.id) } }, tx);
    });
  }

  private async lastKey(data: ClinicData, stageId: string): Promise<string | null> {
    const [last] = await data.pick({ position: opportunities.position }, opportunities, eq(opportunities.stageId, stageId)).orderBy(desc(opportunities.position)).limit(1);
    return last?.position ?? null;
  }
}
