import { and, asc, eq, gt, inArray, lt, ne, notInArray, or, sql, type SQL } from 'drizzle-orm';
import type { AppointmentEvent } from '../../../shared/api/events.js';
import { ACTIVE_APPOINTMENT_STATUSES, appointments, contacts } from '../../../shared/schema/index.js';
import { placeholder, type ClinicData } from '../../infra/clinic-data.js';

/** Appointments last at most 24 h (a check constraint), which bounds the start of anything overlapping `from`. */
export const startsAfterFor = (from: Date) => new Date(from.getTime() - 24 * 3600_000);

export type AppointmentRow = typeof appointments.$inferSelect;

/** What the API answers for an appointment: the row plus the patient's name the calendar shows. */
export const appointmentColumns = {
  id: appointments.id,
  contactId: appointments.contactId,
  contactName: contacts.name,
  professionalId: appointments.professionalId,
  startsAt: appointments.startsAt,
  endsAt: appointments.endsAt,
  status: appointments.status,
  type: appointments.type,
  notes: appointments.notes,
  priceCents: appointments.priceCents,
  paymentStatus: appointments.paymentStatus,
  tagId: appointments.tagId,
  cancellationReason: appointments.cancellationReason,
  overbooked: appointments.overbooked,
  seriesId: appointments.seriesId,
  seriesIndex: appointments.seriesIndex,
  createdAt: appointments.createdAt,
  updatedAt: appointments.updatedAt,
};

/** The clinic's appointments matching `where`, with their patients' names, in calendar order. */
export async function selectViews(data: ClinicData, where: SQL | undefined) {
  const rows = await viewQuery(data, where).orderBy(asc(appointments.startsAt), asc(appointments.id));
  return rows.map(withDuration);
}

const viewQuery = (data: ClinicData, where: SQL | undefined) =>
  data.pick(appointmentColumns, appointments, where).innerJoin(contacts, data.owns(contacts, eq(contacts.id, appointments.contactId)));
export type ViewRow = Awaited<ReturnType<typeof viewQuery>>[number];
export type AppointmentView = ViewRow & { durationMinutes: number };

/** The row made a view in place: it is the query's own object, and a copy of 19 fields costs on a 200-row page. */
export function withDuration(row: ViewRow): AppointmentView {
  return Object.assign(row, { durationMinutes: Math.round((row.endsAt.getTime() - row.startsAt.getTime()) / 60_000) });
}

/** Which filters an appointment list has: the shape of its prepared query (`ClinicQueries`). */
export interface ListShape {
  from: boolean;
  to: boolean;
  professionalId: boolean;
  contactId: boolean;
  status: boolean;
  tagId: boolean;
  cursor: boolean;
}

/**
 * A list in calendar order, for `ClinicQueries`: the values are placeholders named as the
 * filters, plus `startsAfter` (see startsAfterFor), `cursorAt`, `cursorId` and `limit`.
 */
export function listQuery(data: ClinicData, s: ListShape) {
  const cursorAt = placeholder('cursorAt', appointments.startsAt);
  const where = and(
    s.from ? gt(appointments.endsAt, placeholder('from', appointments.endsAt)) : undefined,
    s.from ? gt(appointments.startsAt, placeholder('startsAfter', appointments.startsAt)) : undefined,
    s.to ? lt(appointments.startsAt, placeholder('to', appointments.startsAt)) : undefined,
    s.professionalId ? eq(appointments.professionalId, placeholder('professionalId', appointments.professionalId)) : undefined,
    s.contactId ? eq(appointments.contactId, placeholder('contactId', appointments.contactId)) : undefined,
    s.status ? eq(appointments.status, placeholder('status', appointments.status)) : undefined,
    s.tagId ? eq(appointments.tagId, placeholder('tagId', appointments.tagId)) : undefined,
    s.cursor ? or(gt(appointments.startsAt, cursorAt), and(eq(appointments.startsAt, cursorAt), gt(appointments.id, placeholder('cursorId', appointments.id)))) : undefined,
  );
  return viewQuery(data, where)
    .orderBy(asc(appointments.startsAt), asc(appointments.id))
    .limit(sql.placeholder('limit'));
}

export async function viewsByIds(data: ClinicData, ids: string[]) {
  if (ids.length === 0) return [];
  return selectViews(data, inArray(appointments.id, ids));
}

export function toEvent(v: AppointmentView, previousProfessionalId?: string, previousStatus?: string): AppointmentEvent {
  return {
    id: v.id,
    contactId: v.contactId,
    contactName: v.contactName,
    professionalId: v.professionalId,
    startsAt: v.startsAt.toISOString(),
    endsAt: v.endsAt.toISOString(),
    status: v.status,
    type: v.type,
    tagId: v.tagId,
    overbooked: v.overbooked,
    seriesId: v.seriesId,
    ...(previousProfessionalId && previousProfessionalId !== v.professionalId ? { previousProfessionalId } : {}),
    ...(previousStatus && previousStatus !== v.status ? { previousStatus } : {}),
  };
}

/** Ids of the professional's active appointments (encaixes included) overlapping [start, end). */
export function overlapping(data: ClinicData, professionalId: string, start: Date, end: Date, exceptIds: string[] = []) {
  return data.pick(
    { id: appointments.id, startsAt: appointments.startsAt, endsAt: appointments.endsAt },
    appointments,
    eq(appointments.professionalId, professionalId),
    inArray(appointments.status, [...ACTIVE_APPOINTMENT_STATUSES]),
    lt(appointments.startsAt, end),
    gt(appointments.startsAt, startsAfterFor(start)),
    gt(appointments.endsAt, start),
    exceptIds.length === 1 ? ne(appointments.id, exceptIds[0] as string) : exceptIds.length > 1 ? notInArray(appointments.id, exceptIds) : undefined,
  );
}
