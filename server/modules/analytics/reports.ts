import type { z } from 'zod';
import type { AnalyticsReport, analyticsQuery } from '../../../shared/api/analytics.js';
import { ClinicData } from '../../infra/clinic-data.js';
import type { Infra } from '../../infra/index.js';
import type { TenantContext } from '../../http/context.js';
import { notFound } from '../../lib/errors.js';
import { can } from '../../lib/permissions.js';
import type { ClinicService } from '../clinic/service.js';
import { scheduleOf } from '../scheduling/availability.js';
import type { Scheduling } from '../scheduling/module.js';
import type { TeamService } from '../team/service.js';
import { appointmentFacts, appointmentFigures, contactFigures, revenueFigures, type Fact } from './appointment-figures.js';
import type { AnalyticsCache } from './cache.js';
import { MEMBER_UNATTRIBUTED, messagingFigures } from './messaging-figures.js';
import { checkRange, periods, type Period, type Periods } from './periods.js';
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
  messaging: ['Transferência da IA: conversa que o assistente passou para a equipe no período (palavra-chave, emergência, limite ou falha), sobre as conversas em que ele escreveu.'],
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
    checkRange(q.from, q.to);
    if (q.professionalId) await this.member(ctx.clinicId, q.professionalId);
    return this.cached(ctx.clinicId, name, q);
  }

  /** Every report; revenue only for who may see financial figures. */
  async dashboard(ctx: TenantContext, q: Query) {
    checkRange(q.from, q.to);
    if (q.professionalId) await this.member(ctx.clinicId, q.professionalId);
    const financial = can(ctx.actor, 'analytics:financial');
    const [appointments, contacts, pipeline, messaging, revenue] = await Promise.all([
      this.cached(ctx.clinicId, 'appointments', q),
      this.cached(ctx.clinicId, 'contacts', q),
      this.cached(ctx.clinicId, 'pipeline', q),
      this.cached(ctx.clinicId, 'messaging', q),
      financial ? this.cached(ctx.clinicId, 'revenue', q) : undefined,
    ]);
    return { appointments, contacts, pipeline, messaging, ...(revenue ? { revenue } : {}) };
  }

  /** Any member, active or not (their past figures stay theirs); another clinic's is a 404. */
  private async member(clinicId: string, userId: string) {
    if (!(await this.team.list(clinicId)).some((m) => m.userId === userId)) throw notFound('Professional');
  }

  /** A hit reads nothing else: the zone is read only to compute. */
  private async cached(clinicId: string, name: AnalyticsReport, q: Query): Promise<Report> {
    const report = await this.cache.wrap(clinicId, `${name}:${q.from}:${q.to}`, async () => {
      const clinic = await this.clinicOnce(clinicId);
      return this.build(clinicId, name, periods(q.from, q.to, clinic.timezone));
    });
    return q.professionalId ? only(report, q.professionalId) : report;
  }

  private once<T>(key: string, run: () => Promise<T>): Promise<T> {
    const found = this.running.get(key) as Promise<T> | undefined;
    if (found) return found;
    const started = run().finally(() => this.running.delete(key));
    this.running.set(key, started);
    return started;
  }

  private clinicOnce(clinicId: string) {
    return this.once(`${clinicId}:clinic`, () => this.clinic.get(clinicId));
  }

  private members(clinicId: string) {
    return this.once(`${clinicId}:members`, () => this.team.list(clinicId));
  }

  private facts(clinicId: string, p: Periods): Promise<Fact[]> {
    return this.once(`${clinicId}:facts:${p.current.from}:${p.current.to}`, () => appointmentFacts(this.infra.db, new ClinicData(clinicId, this.infra.db), p));
  }

  /** Each active professional's working minutes in both periods (their hours, closed days, blocks). */
  private async working(clinicId: string, data: ClinicData, p: Periods) {
    const [members, clinic] = await Promise.all([this.members(clinicId), this.clinicOnce(clinicId)]);
    const schedules = members.filter(isProfessional).map((m) => scheduleOf(m.userId, m, clinic));
    return workingMinutes(data, p, schedules, (from, to) => this.scheduling.holidays.closedDates(clinicId, from, to));
  }

  private async figures(clinicId: string, name: AnalyticsReport, p: Periods): Promise<Pair<unknown>> {
    const db = this.infra.db;
    const data = new ClinicData(clinicId, db);
    switch (name) {
      case 'appointments': {
        // The scan runs while the working time is read and computed.
        const [facts, working] = await Promise.all([this.facts(clinicId, p), this.working(clinicId, data, p)]);
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
    const [pair, members] = await Promise.all([this.figures(clinicId, name, p), this.members(clinicId)]);
    const names = new Map(members.map((m) => [m.userId, m.name]));
    const ids = new Set([...members.filter(isProfessional).map((m) => m.userId), ...pair.current.byProfessional.keys(), ...pair.previous.byProfessional.keys()]);
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

/** Active professionals: the members with an agenda (scheduling's `TeamService.professionals`). */
const isProfessional = (m: { isProfessional: boolean; active: boolean }) => m.isProfessional && m.active;

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
