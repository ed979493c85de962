import { eq } from 'drizzle-orm';
import { ACTIVE_APPOINTMENT_STATUSES, appointments, clinics, contacts, googleCalendarEvents, googleCalendarSettings, googleCalendarSyncs, memberships, type GoogleEventDetail } from '../../../shared/schema/index.js';
import { ClinicData } from '../../infra/clinic-data.js';
import type { Infra } from '../../infra/index.js';
import type { JobContext } from '../../infra/queue.js';
import { formatInZone } from '../../lib/zoned-time.js';
import type { CalendarEvent, CalendarEventInput, CalendarProvider } from '../integrations/providers.js';
import type { GoogleAccess } from './access.js';
import { isProviderError } from './client.js';
import { APPOINTMENT_KEY, CLINIC_KEY } from './sync.js';

type Link = typeof googleCalendarEvents.$inferSelect;

const ACTIVE = new Set<string>(ACTIVE_APPOINTMENT_STATUSES);

/** Our Google event id for an appointment (base32hex: the uuid's hex digits): a repeated insert is a 409, never a second event. */
export const googleEventIdOf = (appointmentId: string) => `op${appointmentId.replace(/-/g, '').toLowerCase()}`;

/** What the event shows: "Consulta" and, unless the clinic chose otherwise, the patient's first name. Never notes. */
export function eventSummary(patientName: string, detail: GoogleEventDetail) {
  if (detail === 'busy_only') return 'Consulta';
  const name = detail === 'full_name' ? patientName.trim() : (patientName.trim().split(/\s+/)[0] ?? '');
  return name ? `Consulta · ${name}` : 'Consulta';
}

/**
 * Ours to Google: one event per appointment in the professional's target calendar, inserted,
 * patched or deleted to match the appointment as it is when the job runs (so a redelivered or
 * reordered job converges on the same result). A retry after a lost answer finds the event by its
 * private property, and our chosen event id makes even a racing second insert a 409.
 */
export class GoogleCalendarPush {
  constructor(
    private readonly infra: Pick<Infra, 'db' | 'log'>,
    private readonly access: GoogleAccess,
  ) {}

  async runJob(appointmentId: string, job: JobContext) {
    if (!job.clinicId) throw new Error('calendar push job without a clinic');
    const clinicId = job.clinicId;
    const data = new ClinicData(clinicId, this.infra.db);
    const [appointment] = await data
      .pick({ id: appointments.id, professionalId: appointments.professionalId, startsAt: appointments.startsAt, endsAt: appointments.endsAt, status: appointments.status, patientName: contacts.name }, appointments, eq(appointments.id, appointmentId))
      .innerJoin(contacts, data.owns(contacts, eq(contacts.id, appointments.contactId)));
    const [link] = await data.select(googleCalendarEvents, eq(googleCalendarEvents.appointmentId, appointmentId));
    const wanted = appointment && ACTIVE.has(appointment.status) ? appointment : undefined;
    const connection = wanted ? await this.access.connectionOf(clinicId, wanted.professionalId) : undefined;
    const [target] = connection ? await data.select(googleCalendarSyncs, eq(googleCalendarSyncs.connectionId, connection.id), eq(googleCalendarSyncs.target, true)) : [];

    // Cancelled, deleted, moved to another professional or calendar: our old event goes.
    if (link && (!wanted || !target || link.connectionId !== connection?.id || link.calendarId !== target.calendarId)) await this.remove(clinicId, link, job);
    if (!wanted || !connection || !target || connection.status === 'broken' || connection.status === 'disabled') return;

    const body = await this.body(clinicId, wanted);
    const current = link && link.connectionId === connection.id && link.calendarId === target.calendarId ? link : undefined;
    let event: CalendarEvent;
    try {
      const client = await this.access.calendar(clinicId, connection.id);
      event = current ? await this.patch(client, target.calendarId, current.googleEventId, body, current.etag ?? undefined, clinicId, wanted.id) : await this.insertOnce(client, target.calendarId, clinicId, wanted.id, body);
    } catch (err) {
      if (await this.access.brokenBy(clinicId, connection, err)) return;
      throw err;
    }
    const values = { connectionId: connection.id, professionalId: wanted.professionalId, calendarId: target.calendarId, googleEventId: event.id, etag: event.etag ?? null, startsAt: wanted.startsAt, endsAt: wanted.endsAt, conflict: null, updatedAt: new Date() };
    await data
      .insert(googleCalendarEvents, { appointmentId: wanted.id, ...values })
      .onConflictDoUpdate({ target: [googleCalendarEvents.clinicId, googleCalendarEvents.appointmentId], set: values });
    job.log.info({ appointmentId, op: current ? 'patch' : 'insert' }, 'appointment pushed to google calendar');
  }

  private async body(clinicId: string, a: { id: string; professionalId: string; startsAt: Date; endsAt: Date; patientName: string }): Promise<CalendarEventInput> {
    const data = new ClinicData(clinicId, this.infra.db);
    const [[zone], [settings]] = await Promise.all([
      data
        .pick({ own: memberships.timezone, clinic: clinics.timezone }, memberships, eq(memberships.userId, a.professionalId))
        .innerJoin(clinics, eq(clinics.id, memberships.clinicId)),
      data.select(googleCalendarSettings),
    ]);
    const timeZone = zone?.own ?? zone?.clinic ?? 'America/Sao_Paulo';
    return {
      summary: eventSummary(a.patientName, settings?.eventDetail ?? 'first_name'),
      start: { dateTime: formatInZone(a.startsAt, timeZone), timeZone },
      end: { dateTime: formatInZone(a.endsAt, timeZone), timeZone },
      status: 'confirmed',
      transparency: 'opaque',
      privateProperties: { [APPOINTMENT_KEY]: a.id, [CLINIC_KEY]: clinicId },
    };
  }

  /** The event our earlier attempt may have created (answer lost), else a new one with our own id. */
  private async insertOnce(client: CalendarProvider, calendarId: string, clinicId: string, appointmentId: string, body: CalendarEventInput): Promise<CalendarEvent> {
    const found = (await client.listEvents(calendarId, { privateProperty: `${APPOINTMENT_KEY}=${appointmentId}` })).events.find((e) => e.status !== 'cancelled');
    if (found) return this.patch(client, calendarId, found.id, body, found.etag, clinicId, appointmentId);
    try {
      return await client.insertEvent(calendarId, { id: googleEventIdOf(appointmentId), ...body });
    } catch (err) {
      // Our id exists: a racing insert, or the event we deleted when the appointment was cancelled (a patch revives it).
      if (!isProviderError(err, 'already_exists')) throw err;
      return client.patchEvent(calendarId, googleEventIdOf(appointmentId), body);
    }
  }

  /** 412 (changed in Google since): read it again and patch over its new etag, once. Gone: insert again. */
  private async patch(client: CalendarProvider, calendarId: string, eventId: string, body: CalendarEventInput, etag: string | undefined, clinicId: string, appointmentId: string): Promise<CalendarEvent> {
    try {
      return await client.patchEvent(calendarId, eventId, body, { etag });
    } catch (err) {
      if (isProviderError(err, 'precondition_failed')) {
        const fresh = await client.getEvent(calendarId, eventId);
        return client.patchEvent(calendarId, eventId, body, { etag: fresh.etag });
      }
      if (isProviderError(err, 'not_found')) return this.insertOnce(client, calendarId, clinicId, appointmentId, body);
      throw err;
    }
  }

  /** Deletes our event (404/410 count as done), then the link; a broken link only forgets it. */
  private async remove(clinicId: string, link: Link, job: JobContext) {
    const data = new ClinicData(clinicId, this.infra.db);
    const connection = await this.access.connections.get(clinicId, link.connectionId).catch(() => undefined);
    if (connection && connection.status !== 'broken' && connection.status !== 'disabled') {
      try {
        await (await this.access.calendar(clinicId, connection.id)).deleteEvent(link.calendarId, link.googleEventId);
      } catch (err) {
        if (!(await this.access.brokenBy(clinicId, connection, err))) throw err;
      }
    }
    await data.delete(googleCalendarEvents, eq(googleCalendarEvents.id, link.id));
    job.log.info({ appointmentId: link.appointmentId }, 'appointment removed from google calendar');
  }
}
