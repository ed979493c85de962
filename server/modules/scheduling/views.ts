import { and, asc, eq, gt, inArray, lt, ne, notInArray, type SQL } from 'drizzle-orm';
import type { AppointmentEvent } from '../../../shared/api/events.js';
import { ACTIVE_APPOINTMENT_STATUSES, appointments, contacts } from '../../../shared/schema/index.js';
import type { Db, Tx } from '../../infra/db.js';

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

export async function selectViews(db: Db | Tx, where: SQL | undefined, limit?: number) {
  const query = viewQuery(db)
    .where(where)
    .orderBy(asc(appointments.startsAt), asc(appointments.id));
  const rows = limit === undefined ? await query : await query.limit(limit);
  return rows.map(withDuration);
}

const viewQuery = (db: Db | Tx) => db.select(appointmentColumns).from(appointments).innerJoin(contacts, eq(contacts.id, appointments.contactId));
type ViewRow = Awaited<ReturnType<typeof viewQuery>>[number];
export type AppointmentView = ViewRow & { durationMinutes: number };

function withDuration(row: ViewRow): AppointmentView {
  return { ...row, durationMinutes: Math.round((row.endsAt.getTime() - row.startsAt.getTime()) / 60_000) };
}

export async function viewsByIds(db: Db | Tx, clinicId: string, ids: string[]) {
  if (ids.length === 0) return [];
  return selectViews(db, and(eq(appointments.clinicId, clinicId), inArray(appointments.id, ids)));
}

export function toEvent(v: AppointmentView, previousProfessionalId?: string): AppointmentEvent {
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
  };
}

/** Ids of the professional's active appointments (encaixes included) overlapping [start, end). */
export async function overlapping(db: Db | Tx, clinicId: string, professionalId: string, start: Date, end: Date, exceptIds: string[] = []) {
  const rows = await db
    .select({ id: appointments.id, startsAt: appointments.startsAt, endsAt: appointments.endsAt })
    .from(appointments)
    .where(
      and(
        eq(appointments.clinicId, clinicId),
        eq(appointments.professionalId, professionalId),
        inArray(appointments.status, [...ACTIVE_APPOINTMENT_STATUSES]),
        lt(appointments.startsAt, end),
        gt(appointments.startsAt, startsAfterFor(start)),
        gt(appointments.endsAt, start),
        exceptIds.length === 1 ? ne(appointments.id, exceptIds[0] as string) : exceptIds.length > 1 ? notInArray(appointments.id, exceptIds) : undefined,
      ),
    );
  return rows;
}
