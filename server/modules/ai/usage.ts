import { and, asc, eq, gte, inArray, lte, sql } from 'drizzle-orm';
import { Counter } from 'prom-client';
import type { z } from 'zod';
import { BUDGETED_FEATURES, MAX_USAGE_DAYS, type AiFeature, type usageQuery } from '../../../shared/api/ai.js';
import { aiUsageDaily } from '../../../shared/schema/index.js';
import { ClinicData } from '../../infra/clinic-data.js';
import type { Infra } from '../../infra/index.js';
import { badRequest } from '../../lib/errors.js';
import { addDays, zonedDate } from '../../lib/zoned-time.js';
import type { ClinicService } from '../clinic/service.js';
import type { AiConfigService } from './config.js';

export interface UsageEntry {
  feature: AiFeature;
  model: string;
  inputTokens: number;
  outputTokens: number;
  /** The call failed (after the SDK's retries): counted as a call and an error. */
  error?: boolean;
}

const tokens = (n: number) => (Number.isFinite(n) && n > 0 ? Math.round(n) : 0);
const sums = {
  inputTokens: sql<number>`coalesce(sum(${aiUsageDaily.inputTokens}), 0)::bigint`.mapWith(Number),
  outputTokens: sql<number>`coalesce(sum(${aiUsageDaily.outputTokens}), 0)::bigint`.mapWith(Number),
  calls: sql<number>`coalesce(sum(${aiUsageDaily.calls}), 0)::bigint`.mapWith(Number),
  errors: sql<number>`coalesce(sum(${aiUsageDaily.errors}), 0)::bigint`.mapWith(Number),
};

/**
 * The usage ledger: model calls and tokens per clinic and local day, the daily budget, and the
 * `/metrics` counters (no clinic label: one series per feature and model).
 */
export class AiUsageService {
  readonly metrics = {
    tokens: new Counter({ name: 'ai_tokens_total', help: 'Model tokens used, by feature, model and direction (input, output)', labelNames: ['feature', 'model', 'direction'], registers: [] }),
    calls: new Counter({ name: 'ai_calls_total', help: 'Model calls, by feature, model and outcome (ok, error)', labelNames: ['feature', 'model', 'outcome'], registers: [] }),
  };

  constructor(
    private readonly infra: Infra,
    private readonly clinic: ClinicService,
    private readonly config: AiConfigService,
  ) {}

  private data(clinicId: string) {
    return new ClinicData(clinicId, this.infra.db);
  }

  private async today(clinicId: string) {
    const { timezone } = await this.clinic.get(clinicId);
    return { timezone, date: zonedDate(new Date(), timezone) };
  }

  /** Adds one call to today's row (the clinic's local day) of its feature and model. */
  async record(clinicId: string, entry: UsageEntry): Promise<void> {
    const model = entry.model.trim().slice(0, 100) || 'unknown';
    const input = tokens(entry.inputTokens);
    const output = tokens(entry.outputTokens);
    const errors = entry.error ? 1 : 0;
    const { date } = await this.today(clinicId);
    await this.data(clinicId)
      .insert(aiUsageDaily, { day: date, feature: entry.feature, model, inputTokens: input, outputTokens: output, calls: 1, errors })
      .onConflictDoUpdate({
        target: [aiUsageDaily.clinicId, aiUsageDaily.day, aiUsageDaily.feature, aiUsageDaily.model],
        set: {
          inputTokens: sql`${aiUsageDaily.inputTokens} + excluded.input_tokens`,
          outputTokens: sql`${aiUsageDaily.outputTokens} + excluded.output_tokens`,
          calls: sql`${aiUsageDaily.calls} + 1`,
          errors: sql`${aiUsageDaily.errors} + excluded.errors`,
          updatedAt: new Date(),
        },
      });
    const labels = { feature: entry.feature, model };
    this.metrics.tokens.inc({ ...labels, direction: 'input' }, input);
    this.metrics.tokens.inc({ ...labels, direction: 'output' }, output);
    this.metrics.calls.inc({ ...labels, outcome: entry.error ? 'error' : 'ok' });
  }

  private async usedOn(clinicId: string, date: string) {
    const [row] = await this.data(clinicId).pick(sums, aiUsageDaily, eq(aiUsageDaily.day, date), inArray(aiUsageDaily.feature, [...BUDGETED_FEATURES]));
    return (row?.inputTokens ?? 0) + (row?.outputTokens ?? 0);
  }

  private async budgetToday(clinicId: string, date: string) {
    const [{ dailyTokenBudget: budget }, used] = await Promise.all([this.config.get(clinicId), this.usedOn(clinicId, date)]);
    return { date, budget, used, remaining: Math.max(0, budget - used) };
  }

  /** Tokens the chat features may still use today (0: over budget, hand off). Embeddings do not count. */
  async remainingBudget(clinicId: string): Promise<number> {
    const { date } = await this.today(clinicId);
    return (await this.budgetToday(clinicId, date)).remaining;
  }

  /** `GET /ai/usage`: the last 30 local days unless from/to say otherwise (at most 366 days). */
  async report(clinicId: string, q: z.infer<typeof usageQuery>) {
    const { timezone, date: today } = await this.today(clinicId);
    const to = q.to ?? (q.from && q.from > today ? q.from : today);
    const from = q.from ?? addDays(to, -29);
    if (addDays(from, MAX_USAGE_DAYS) <= to) throw badRequest('range_too_long', `Ask for at most ${MAX_USAGE_DAYS} days`);
    const data = this.data(clinicId);
    const range = and(gte(aiUsageDaily.day, from), lte(aiUsageDaily.day, to));
    const [byFeature, days, todayBudget] = await Promise.all([
      data
        .pick({ feature: aiUsageDaily.feature, model: aiUsageDaily.model, ...sums }, aiUsageDaily, range)
        .groupBy(aiUsageDaily.feature, aiUsageDaily.model)
        .orderBy(asc(aiUsageDaily.feature), asc(aiUsageDaily.model)),
      data.pick({ date: aiUsageDaily.day, ...sums }, aiUsageDaily, range).groupBy(aiUsageDaily.day).orderBy(asc(aiUsageDaily.day)),
      this.budgetToday(clinicId, today),
    ]);
    const totals = { inputTokens: 0, outputTokens: 0, calls: 0, errors: 0 };
    for (const d of days) for (const k of Object.keys(totals) as (keyof typeof totals)[]) totals[k] += d[k];
    return { from, to, timezone, totals, byFeature, days, today: todayBudget };
  }
}
