import { stringify } from 'csv-stringify/sync';
import type { AnalyticsReport, AppointmentFigures, ContactFigures, MessagingFigures, PipelineFigures, RevenueFigures } from '../../../shared/api/analytics.js';
import type { Report } from './reports.js';

/**
 * Reports as CSV for Excel in pt-BR: `;` between fields (Excel's list separator there), decimal
 * comma, UTF-8 with BOM (so accents open right), pt-BR headers. One line per figure and scope
 * (the clinic, then each professional), the current and the previous period side by side.
 */
type Kind = 'count' | 'rate' | 'minutes' | 'cents' | 'seconds';
type Metric<F> = [label: string, value: (f: F) => number | null, kind: Kind];

const STATUS_LABELS: Record<keyof AppointmentFigures['byStatus'], string> = {
  scheduled: 'agendadas',
  confirmed: 'confirmadas',
  arrived: 'paciente chegou',
  in_progress: 'em atendimento',
  completed: 'concluídas',
  no_show: 'faltas',
  cancelled: 'canceladas',
};

const appointmentMetrics: Metric<AppointmentFigures>[] = [
  ['Consultas', (f) => f.total, 'count'],
  ...Object.entries(STATUS_LABELS).map(([s, label]): Metric<AppointmentFigures> => [`Consultas ${label}`, (f) => f.byStatus[s as keyof typeof STATUS_LABELS], 'count']),
  ['Taxa de faltas (%)', (f) => f.noShowRate, 'rate'],
  ['Taxa de confirmação (%)', (f) => f.confirmationRate, 'rate'],
  ['Minutos agendados', (f) => f.bookedMinutes, 'minutes'],
  ['Minutos de atendimento disponíveis', (f) => f.workingMinutes, 'minutes'],
  ['Ocupação (%)', (f) => f.occupancy, 'rate'],
];
const contactMetrics: Metric<ContactFigures>[] = [
  ['Pacientes atendidos ou agendados', (f) => f.patients, 'count'],
  ['Pacientes novos', (f) => f.newPatients, 'count'],
  ['Pacientes que retornaram', (f) => f.returningPatients, 'count'],
];
const revenueMetrics: Metric<RevenueFigures>[] = [
  ['Consultas concluídas', (f) => f.completed, 'count'],
  ['Concluídas sem preço', (f) => f.unpriced, 'count'],
  ['Receita (R$)', (f) => f.revenueCents, 'cents'],
  ['Recebido (R$)', (f) => f.paidCents, 'cents'],
  ['A receber (R$)', (f) => f.pendingCents, 'cents'],
  ['Isento (R$)', (f) => f.waivedCents, 'cents'],
  ['Estornado (R$)', (f) => f.refundedCents, 'cents'],
];
const messagingMetrics: Metric<MessagingFigures>[] = [
  ['Mensagens recebidas', (f) => f.inbound, 'count'],
  ['Mensagens enviadas', (f) => f.outbound, 'count'],
  ['Enviadas pela equipe no app', (f) => f.outboundBySender.user, 'count'],
  ['Enviadas pelo celular da clínica', (f) => f.outboundBySender.phone, 'count'],
  ['Enviadas pelo assistente (IA)', (f) => f.outboundBySender.ai, 'count'],
  ['Enviadas pelo sistema', (f) => f.outboundBySender.system, 'count'],
  ['Primeira resposta, mediana, equipe (min)', (f) => f.medianFirstResponseSecondsHuman, 'seconds'],
  ['Primeira resposta, mediana, IA (min)', (f) => f.medianFirstResponseSecondsAi, 'seconds'],
  ['Respostas da equipe', (f) => f.humanResponses, 'count'],
  ['Respostas da IA', (f) => f.aiResponses, 'count'],
  ['Conversas com a IA', (f) => f.aiConversations, 'count'],
  ['Transferências da IA para a equipe', (f) => f.aiHandoffs, 'count'],
  ['Taxa de transferência da IA (%)', (f) => f.aiHandoffRate, 'rate'],
];
/** Stages are the clinic's own: their lines are made from the report. */
function pipelineMetrics(report: Report): Metric<PipelineFigures>[] {
  const stages = (report.current.total as unknown as PipelineFigures).stages;
  const stage = (f: PipelineFigures, id: string) => f.stages.find((s) => s.stageId === id);
  return [
    ['Oportunidades criadas', (f) => f.created, 'count'],
    ['Ganhas', (f) => f.won, 'count'],
    ['Perdidas', (f) => f.lost, 'count'],
    ['Taxa de ganho (%)', (f) => f.winRate, 'rate'],
    ...stages.flatMap((s): Metric<PipelineFigures>[] => [
      [`Etapa ${s.name}: passaram`, (f) => stage(f, s.stageId)?.reached ?? null, 'count'],
      [`Etapa ${s.name}: conversão (%)`, (f) => stage(f, s.stageId)?.conversion ?? null, 'rate'],
      [`Etapa ${s.name}: tempo mediano (min)`, (f) => stage(f, s.stageId)?.medianSecondsInStage ?? null, 'seconds'],
    ]),
  ];
}

const metricsOf = (name: AnalyticsReport, report: Report) =>
  (name === 'pipeline' ? pipelineMetrics(report) : { appointments: appointmentMetrics, contacts: contactMetrics, revenue: revenueMetrics, messaging: messagingMetrics }[name]) as Metric<unknown>[];

const decimal = (n: number, digits: number) => n.toFixed(digits).replace('.', ',');
function format(value: number | null, kind: Kind): string {
  if (value === null) return '';
  switch (kind) {
    case 'rate':
      return decimal(value * 100, 1);
    case 'cents':
      return decimal(value / 100, 2);
    case 'seconds':
      return decimal(value / 60, 1);
    default:
      return String(Math.round(value));
  }
}

const day = (d: string) => d.split('-').reverse().join('/');
const change = (current: number | null, previous: number | null) => (current === null || previous === null || previous === 0 ? '' : decimal(((current - previous) / previous) * 100, 1));

export function reportCsv(name: AnalyticsReport, report: Report): string {
  return stringify(reportRows(metricsOf(name, report), report), { delimiter: ';', bom: true, record_delimiter: 'windows' });
}

/** The dashboard: every report's lines one after another, with the report's name in a first column. */
export function dashboardCsv(reports: Partial<Record<AnalyticsReport, Report>>): string {
  const titles: Record<AnalyticsReport, string> = { appointments: 'Agenda', contacts: 'Pacientes', revenue: 'Financeiro', pipeline: 'Funil', messaging: 'WhatsApp' };
  const lines: string[][] = [];
  for (const [name, report] of Object.entries(reports) as [AnalyticsReport, Report][]) {
    const [header, ...rows] = reportRows(metricsOf(name, report), report);
    if (lines.length === 0) lines.push(['Relatório', ...header!]);
    lines.push(...rows.map((r) => [titles[name], ...r]));
  }
  return stringify(lines, { delimiter: ';', bom: true, record_delimiter: 'windows' });
}

function reportRows(metrics: Metric<unknown>[], report: Report): string[][] {
  const header = [
    'Indicador',
    'Profissional',
    `Período atual (${day(report.period.from)} a ${day(report.period.to)})`,
    `Período anterior (${day(report.previousPeriod.from)} a ${day(report.previousPeriod.to)})`,
    'Variação (%)',
  ];
  const scopes: [string, unknown, unknown][] = [
    ['Clínica (total)', report.current.total, report.previous.total],
    ...report.current.byProfessional.map((row): [string, unknown, unknown] => [row.name, row, report.previous.byProfessional.find((r) => r.professionalId === row.professionalId)]),
  ];
  const rows: string[][] = [header];
  for (const [label, value, kind] of metrics) {
    for (const [scope, current, previous] of scopes) {
      const c = current ? value(current) : null;
      const p = previous ? value(previous) : null;
      rows.push([label, scope, format(c, kind), format(p, kind), change(c, p)]);
    }
  }
  return rows;
}
