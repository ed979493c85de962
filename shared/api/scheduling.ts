import { z } from 'zod';
import { APPOINTMENT_STATUSES, APPOINTMENT_TYPES, PAYMENT_STATUSES } from '../schema/scheduling.js';
import { calendarDate, INSTANT_RANGE_MESSAGE, inInstantRange, isoTimestamp } from './common.js';
import { line, text } from './text.js';

export const appointmentStatus = z.enum(APPOINTMENT_STATUSES);
export const appointmentType = z.enum(APPOINTMENT_TYPES);
/** How staff and patients read each type (timeline titles, message templates). */
export const APPOINTMENT_TYPE_LABELS: Record<(typeof APPOINTMENT_TYPES)[number], string> = {
  first_visit: 'Primeira consulta',
  return: 'Retorno',
  evaluation: 'Avaliação',
  procedure: 'Procedimento',
  session: 'Sessão',
  exam: 'Exame',
  other: 'Atendimento',
};
export const paymentStatus = z.enum(PAYMENT_STATUSES);

/** An instant with an explicit offset ("Z" or "-03:00"): a time without one is refused, never taken as UTC. */
export const instant = z.iso
  .datetime({ offset: true })
  .transform((v) => new Date(v))
  .refine(inInstantRange, INSTANT_RANGE_MESSAGE);
// Object refinements also run when a field already failed (zod 4), so they check types first.
const isDate = (v: unknown): v is Date => v instanceof Date;
/** Whether from < to, when both parsed. */
const ordered = (from: unknown, to: unknown) => !isDate(from) || !isDate(to) || from < to;
const spanAtMost = (from: unknown, to: unknown, ms: number) => !isDate(from) || !isDate(to) || to.getTime() - from.getTime() <= ms;

export const durationMinutes = z.number().int().min(5).max(24 * 60);
const notes = text(10_000).nullable().optional();
const reason = line(500);
/** `this` acts on one occurrence; `following` on it and every later one of its series. */
export const seriesScope = z.enum(['this', 'following']);

export const recurrence = z
  .strictObject({
    everyWeeks: z.number().int().min(1).max(52).default(1),
    count: z.number().int().min(2).max(104).optional(),
    until: calendarDate.optional(),
    /** `all_or_nothing` (default) refuses the series when any occurrence conflicts; `skip_conflicts` books the free ones. */
    onConflict: z.enum(['all_or_nothing', 'skip_conflicts']).default('all_or_nothing'),
  })
  .refine((r) => (r.count === undefined) !== (r.until === undefined), 'Give either count or until');

export const appointmentBody = z
  .strictObject({
    contactId: z.uuid(),
    professionalId: z.uuid(),
    startsAt: instant,
    durationMinutes: durationMinutes.optional(),
    endsAt: instant.optional(),
    type: appointmentType.nullable().optional(),
    notes,
    priceCents: z.number().int().min(0).max(100_000_000).nullable().optional(),
    paymentStatus: paymentStatus.optional(),
    tagId: z.uuid().nullable().optional(),
    /** Encaixe: book over another appointment on purpose (admins only, audited). */
    overbook: z.boolean().optional(),
    recurrence: recurrence.optional(),
  })
  .refine((b) => (b.durationMinutes === undefined) !== (b.endsAt === undefined), 'Give either durationMinutes or endsAt');

export const appointmentPatch = z
  .strictObject({
    contactId: z.uuid().optional(),
    professionalId: z.uuid().optional(),
    startsAt: instant.optional(),
    durationMinutes: durationMinutes.optional(),
    endsAt: instant.optional(),
    type: appointmentType.nullable().optional(),
    notes,
    priceCents: z.number().int().min(0).max(100_000_000).nullable().optional(),
    paymentStatus: paymentStatus.optional(),
    tagId: z.uuid().nullable().optional(),
    overbook: z.boolean().optional(),
    scope: seriesScope.optional(),
  })
  .refine((b) => !(b.durationMinutes !== undefined && b.endsAt !== undefined), 'Give durationMinutes or endsAt, not both')
  .refine((b) => Object.keys(b).some((k) => k !== 'scope'), 'Nothing to change');

export const statusChange = z
  .strictObject({ status: appointmentStatus, reason: reason.optional(), scope: seriesScope.optional() })
  .refine((b) => b.status !== 'cancelled' || b.reason !== undefined, { message: 'A cancellation needs a reason', path: ['reason'] });

export const appointmentListQuery = z
  .strictObject({
    from: instant.optional(),
    to: instant.optional(),
    professionalId: z.uuid().optional(),
    contactId: z.uuid().optional(),
    status: appointmentStatus.optional(),
    tagId: z.uuid().optional(),
    limit: z.coerce.number().int().min(1).max(500).default(200),
    cursor: z.string().max(200).optional(),
  })
  .refine((q) => ordered(q.from, q.to), 'from must be before to');

export const appointmentResponse = z.object({
  id: z.uuid(),
  contactId: z.uuid(),
  contactName: z.string(),
  professionalId: z.uuid(),
  startsAt: isoTimestamp,
  endsAt: isoTimestamp,
  durationMinutes: z.number().int(),
  status: appointmentStatus,
  type: appointmentType.nullable(),
  notes: z.string().nullable(),
  priceCents: z.number().int().nullable(),
  paymentStatus,
  tagId: z.uuid().nullable(),
  cancellationReason: z.string().nullable(),
  overbooked: z.boolean(),
  seriesId: z.uuid().nullable(),
  seriesIndex: z.number().int().nullable(),
  createdAt: isoTimestamp,
  updatedAt: isoTimestamp,
});

export const occurrenceReport = z.object({
  startsAt: isoTimestamp,
  endsAt: isoTimestamp,
  status: z.enum(['free', 'created', 'conflict', 'holiday']),
  appointmentId: z.uuid().optional(),
  conflictingIds: z.array(z.uuid()).optional(),
});

export const hexColor = z.string().regex(/^#[0-9a-fA-F]{6}$/, 'Use a hex color like #1a2b3c').transform((c) => c.toLowerCase());
export const tagBody = z.strictObject({ name: line(60), color: hexColor });
export const tagPatch = z
  .strictObject({ name: line(60).optional(), color: hexColor.optional() })
  .refine((v) => Object.keys(v).length > 0, 'Nothing to change');
export const tagResponse = z.object({ id: z.uuid(), name: z.string(), color: z.string(), createdAt: isoTimestamp, updatedAt: isoTimestamp });

export const blockBody = z
  .strictObject({
    /** Omitted: the whole clinic is closed (e.g. a team meeting). */
    professionalId: z.uuid().nullable().optional(),
    startsAt: instant,
    endsAt: instant,
    reason: text(200).nullable().optional(),
  })
  .refine((b) => ordered(b.startsAt, b.endsAt), 'endsAt must be after startsAt')
  .refine((b) => spanAtMost(b.startsAt, b.endsAt, 366 * 24 * 3600_000), 'A block lasts at most a year');
export const blockResponse = z.object({
  id: z.uuid(),
  professionalId: z.uuid().nullable(),
  startsAt: isoTimestamp,
  endsAt: isoTimestamp,
  reason: z.string().nullable(),
  createdAt: isoTimestamp,
});
export const blockListQuery = z
  .strictObject({ from: instant, to: instant, professionalId: z.uuid().optional() })
  .refine((q) => ordered(q.from, q.to), 'from must be before to');

export const holidayBody = z.strictObject({
  date: calendarDate,
  name: line(120),
  /** true reopens a national holiday; false (default) closes the clinic on a local holiday. */
  open: z.boolean().default(false),
});
export const holidayResponse = z.object({
  date: z.string(),
  name: z.string(),
  kind: z.enum(['national', 'optional', 'local']),
  closed: z.boolean(),
  /** The clinic's own entry (a local holiday or a reopening), deletable. */
  overrideId: z.uuid().nullable(),
});
export const holidayListQuery = z.strictObject({ year: z.coerce.number().int().min(2000).max(2100) });

export const availabilityQuery = z
  .strictObject({
    professionalId: z.uuid(),
    from: instant,
    to: instant,
    durationMinutes: z.coerce.number().int().min(5).max(24 * 60).default(30),
    stepMinutes: z.coerce.number().int().min(5).max(24 * 60).optional(),
  })
  .refine((q) => ordered(q.from, q.to), 'from must be before to')
  .refine((q) => spanAtMost(q.from, q.to, 62 * 24 * 3600_000), 'At most 62 days at a time');
export const availabilityResponse = z.object({
  professionalId: z.uuid(),
  timezone: z.string(),
  slots: z.array(z.object({ startsAt: z.string(), endsAt: z.string() })),
});
