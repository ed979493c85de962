import { z } from 'zod';
import { APPOINTMENT_STATUSES } from '../schema/scheduling.js';
import { calendarDate } from './common.js';

/** Every report: local days (the clinic's zone), inclusive; `from` <= `to`, at most two years (checked by the service). */
export const analyticsQuery = z.strictObject({
  from: calendarDate,
  to: calendarDate,
  /** Keeps one professional: `total` becomes that member's figures and the breakdown their row. */
  professionalId: z.uuid().optional(),
  /** `csv` (or `Accept: text/csv`): UTF-8 with BOM, `;`-separated, pt-BR headers (docs/analytics.md). */
  format: z.enum(['json', 'csv']).optional(),
});

export const ANALYTICS_REPORTS = ['appointments', 'contacts', 'revenue', 'pipeline', 'messaging'] as const;
export type AnalyticsReport = (typeof ANALYTICS_REPORTS)[number];

const rate = z.number().min(0).nullable();
const count = z.number().int();

export const appointmentFigures = z.object({
  total: count,
  byStatus: z.record(z.enum(APPOINTMENT_STATUSES), count),
  /** no_show / (total - cancelled). */
  noShowRate: rate,
  /** (confirmed + arrived + in_progress + completed) / (total - cancelled). */
  confirmationRate: rate,
  /** Minutes of appointments holding their slot (cancelled and no-show excluded). */
  bookedMinutes: z.number(),
  /** Working hours minus blocks and closed holidays. */
  workingMinutes: z.number(),
  occupancy: rate,
});

export const contactFigures = z.object({
  /** Patients with an appointment (not cancelled, not no-show) in the period. */
  patients: count,
  /** Of those, the ones whose first such appointment at the clinic lies in the period. */
  newPatients: count,
  returningPatients: count,
});

/** Centavos. Financial: admins only. */
export const revenueFigures = z.object({
  completed: count,
  /** Completed without a price: counted, worth nothing here. */
  unpriced: count,
  /** paid + pending. */
  revenueCents: z.number().int(),
  paidCents: z.number().int(),
  pendingCents: z.number().int(),
  waivedCents: z.number().int(),
  refundedCents: z.number().int(),
});

export const pipelineFigures = z.object({
  /** Opportunities created in the period (the cohort). */
  created: count,
  won: count,
  lost: count,
  winRate: rate,
  stages: z.array(
    z.object({
      stageId: z.uuid(),
      name: z.string(),
      /** Cohort opportunities that were ever in this stage. */
      reached: count,
      conversion: rate,
      /** Median length of the stays in this stage that ended in the period, in seconds. */
      medianSecondsInStage: z.number().nullable(),
      stays: count,
    }),
  ),
});

export const messagingFigures = z.object({
  inbound: count.nullable(),
  outbound: count,
  outboundBySender: z.object({ user: count, phone: count, ai: count, system: count }),
  /** Median seconds from a patient's message to the first answer, people (app or phone) and assistant apart. */
  medianFirstResponseSecondsHuman: z.number().nullable(),
  medianFirstResponseSecondsAi: z.number().nullable(),
  humanResponses: count,
  aiResponses: count.nullable(),
  /** Conversations the assistant wrote in during the period. */
  aiConversations: count.nullable(),
  /** Of those, the ones it handed to a person (its handoff message, which records the reason, is in the period). */
  aiHandoffs: count.nullable(),
  aiHandoffRate: rate,
});

const period = z.object({ from: z.iso.date(), to: z.iso.date() });
const professional = z.object({ professionalId: z.uuid(), name: z.string() });

/** A report: the period and the one before it of the same length, each with the clinic's total and each professional's row. */
const reportOf = <T extends z.ZodObject>(figures: T) => {
  const side = z.object({ total: figures, byProfessional: z.array(professional.extend(figures.shape)) });
  return z.object({ timezone: z.string(), period, previousPeriod: period, current: side, previous: side, notes: z.array(z.string()) });
};

export const appointmentsReport = reportOf(appointmentFigures);
export const contactsReport = reportOf(contactFigures);
export const revenueReport = reportOf(revenueFigures);
export const pipelineReport = reportOf(pipelineFigures);
export const messagingReport = reportOf(messagingFigures);

export const dashboardResponse = z.object({
  appointments: appointmentsReport,
  contacts: contactsReport,
  pipeline: pipelineReport,
  messaging: messagingReport,
  /** Present for admins only. */
  revenue: revenueReport.optional(),
});

export type AppointmentFigures = z.infer<typeof appointmentFigures>;
export type ContactFigures = z.infer<typeof contactFigures>;
export type RevenueFigures = z.infer<typeof revenueFigures>;
export type PipelineFigures = z.infer<typeof pipelineFigures>;
export type MessagingFigures = z.infer<typeof messagingFigures>;
