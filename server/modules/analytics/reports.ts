import type { z } from 'zod';
import type { AnalyticsReport, analyticsQuery } from '../../../shared/api/analytics.js';
import { ClinicData } from '../../infra/clinic-data.js';
import type { Infra } from '../../infra/index.js';
import type { TenantContext } from '../../http/context.js';
import { notFound } from '../../lib/errors.js';
import { can } from '../../lib/permissions.js';
import type { ClinicService } from '../clinic/service.js';
import type { Scheduling } from '../scheduling/module.js';
import type { TeamService } from '../team/service.js';
import { appointmentFacts, appointmentFigures, contactFigures, revenueFigures, type Fact } from './appointment-figures.js';
import type { AnalyticsCache } from './cache.js';
import { MEMBER_UNATTRIBUTED, messagingFigures } from './messaging-figures.js';
import { periods, type Period, type Periods } from './periods.js';
import { pipelineFigures } from './pipeline-figures.js';
import type { Pair, Side } from './sides.js';
import { workingMinutes } from './working-time.js';

type Query = z.infer<typeof analyticsQuery>;
type Row<F> = { professionalId: string; name: string } & F;
export interface Report<F = Record<string, unknown>> {
  timezone: string;
  period: Period;
  previousPeriod: Period;
  current: { total: F; byProfessional: Row<F>[] };
  previous: { total: F; byProfessional: Row<F>[] };
  notes: string[];
}

/** What a report says beside its figures (shown to staff: pt-BR). */
const NOTES: Record<AnalyticsReport, string[]> = {
  appointments: [`Bloqueios e feriados alterados aparecem nos números em até 5 minutos.`],
  contacts: ['Paciente novo: a primeira consulta (não cancelada, sem falta) na clínica está no período.'],
  revenue: ['Receita: consultas concluídas x preço; sem preço contam em "unpriced". Não há módulo de pagamentos: vale o status de pagamento da consulta.'],
  pipeline: ['Conversão: das oportunidades criadas no período, quantas passaram por cada etapa.'],
  messaging: ['Transferência da IA: conversa em que uma pessoa escreveu depois do assistente no mesmo período (o assistente ainda não marca transferências).'],
};

/** Figures a member's row cannot have (null there). */
const UNATTRIBUTED: Partial<Record<AnalyticsReport, readonly string[]>> = { messaging: MEMBER_UNATTRIBUTED };

/** The analytics reports: computed by SQL aggregates per clinic and range, cached until the clinic's data changes. */
export class AnalyticsService {
  /** Computations under way, shared by concurrent requests (the dashboard's appointments and revenue share one scan). */
  private readonly running = new Map<string, Promise<unknown>>();

  constructor(
    private readonly infra: Infra,
    private readonly team: TeamService,
    private readonly clinic: ClinicService,
    private readonly scheduling: Scheduling,
    private readonly cache: AnalyticsCache,
  ) {}

  async report(ctx: TenantContext, name: AnalyticsReport, q: Query): Promise<Report> {
    const { timezone } = await this.clinic.get(ctx.clinicId);
    const p = periods(q.from, q.to, timezone);
    const members = q.professionalId ? await this.team.list(ctx.clinicId) : [];
    if (q.professionalId && !members.some((m) => m.userId === q.professionalId)) throw notFound('Professional');
    const report = await this.cache.wrap(ctx.clinicId, `${name}:${q.from}:${q.to}`, () => this.build(ctx.clinicId, name, p));
    return q.professionalId ? only(report, q.professionalId) : report;
  }

  /** Every report; revenue only for who may see financial figures. */
  async dashboard(ctx: TenantContext, q: Query) {
    const financial = can(ctx.actor, 'analytics:financial');
    const [appointments, contacts, pipeline, messaging, revenue] = await Promise.all([
      this.report(ctx, 'appointments', q),
      this.report(ctx, 'contacts', q),
      this.report(ctx, 'pipeline', q),
      this.report(ctx, 'messaging', q),
      financial ? this.report(ctx, 'revenue', q) : undefined,
    ]);
    return { appointments, contacts, pipeline, messaging, ...(revenue ? { revenue } : {}) };
  }

  private once<T>(key: string, run: () => Promise<T>): Promise<T> {
    const found = this.running.get(key) as Promise<T> | undefined;
    if (found) return found;
    const started = run().finally(() => this.running.delete(key));
    this.running.set(key, started);
    return started;
  }

  private facts(clinicId: string, p: Periods): Promise<Fact[]> {
    return this.once(`${clinicId}:facts:${p.current.from}:${p.current.to}`, () => appointmentFacts(this.infra.db, new ClinicData(clinicId, this.infra.db), p));
  }

  private async figures(clinicId: string, name: AnalyticsReport, p: Periods): Promise<Pair<unknown>> {
    const db = this.infra.db;
    const data = new ClinicData(clinicId, db);
    switch (name) {
      case 'appointments': {
        const professionals = await this.team.professionals(clinicId);
        const [facts, schedules] = await Promise.all([this.facts(clinicId, p), Promise.all(professionals.map((m) => this.scheduling.availability.schedule(clinicId, m.userId)))]);
        const working = await workingMinutes(data, p, schedules, (from, to) => this.scheduling.holidays.closedDates(clinicId, from, to));
        return appointmentFigures(facts, working);
      }
      case 'revenue':
        return revenueFigures(await this.facts(clinicId, p));
      case 'contacts':
        return contactFigures(db, data, p);
      case 'pipeline':
        return pipelineFigures(db, data, p);
      case 'messaging':
        return messagingFigures(db, data, p);
    }
  }

  /** Figures with the members' names; every active professional has a row, with or without figures. */
  private async build(clinicId: string, name: AnalyticsReport, p: Periods): Promise<Report> {
    const [pair, members, professionals] = await Promise.all([this.figures(clinicId, name, p), this.team.list(clinicId), this.team.professionals(clinicId)]);
    const names = new Map(members.map((m) => [m.userId, m.name]));
    const ids = new Set([...professionals.map((m) => m.userId), ...pair.current.byProfessional.keys(), ...pair.previous.byProfessional.keys()]);
    const rows = (side: Side<unknown>, other: Side<unknown>) =>
      [...ids]
        .map((id) => {
          const figures = asObject(side.byProfessional.get(id)) ?? zeroLike(asObject(other.byProfessional.get(id)) ?? asObject(side.total));
          for (const key of UNATTRIBUTED[name] ?? []) figures[key] = null;
          return { professionalId: id, name: names.get(id) ?? 'Membro removido', ...figures };
        })
        .sort((a, b) => a.name.localeCompare(b.name, 'pt-BR'));
    return {
      timezone: p.timezone,
      period: p.current,
      previousPeriod: p.previous,
      current: { total: asObject(pair.current.total)!, byProfessional: rows(pair.current, pair.previous) },
      previous: { total: asObject(pair.previous.total)!, byProfessional: rows(pair.previous, pair.current) },
      notes: NOTES[name],
    };
  }
}

const asObject = (v: unknown) => v as Record<string, unknown> | undefined;

/** A row with no figures, shaped like another of the same kind: counts 0, rates and medians null (nested too). */
function zeroLike(like: Record<string, unknown> | undefined): Record<string, unknown> {
  const zero = (v: unknown, key: string): unknown => {
    if (Array.isArray(v)) return v.map((item: Record<string, unknown>) => Object.fromEntries(Object.entries(item).map(([k, x]) => [k, k === 'stageId' || k === 'name' ? x : zero(x, k)])));
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, zero(x, k)]));
    if (v === null || /Rate$|^occupancy$|^conversion$|^median/.test(key)) return null;
    return typeof v === 'number' ? 0 : v;
  };
  return Object.fromEntries(Object.entries(like ?? {}).map(([k, v]) => [k, zero(v, k)]));
}

/** One professional's figures as the report: their row is the total and the only row. */
function only(report: Report, professionalId: string): Report {
  const pick = (side: Report['current']) => {
    const row = side.byProfessional.find((r) => r.professionalId === professionalId);
    const { professionalId: _id, name: _name, ...figures } = row ?? { professionalId, name: '', ...zeroLike(side.total) };
    return { total: figures, byProfessional: row ? [row] : [] };
  };
  return { ...report, current: pick(report.current), previous: pick(report.previous) };
}
