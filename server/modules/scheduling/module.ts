import { APPOINTMENT_TYPE_LABELS } from '../../../shared/api/scheduling.js';
import type { Infra } from '../../infra/index.js';
import type { AuditService } from '../audit/service.js';
import type { ClinicService } from '../clinic/service.js';
import type { ContactService } from '../contacts/service.js';
import { defineSubscriber, type Module, type Providers } from '../module.js';
import type { TeamService } from '../team/service.js';
import { appointmentAnonymizer } from './anonymize.js';
import { AppointmentService } from './appointments.js';
import { AvailabilityService } from './availability.js';
import { calendarRoutes } from './calendar-routes.js';
import { BlockService } from './blocks.js';
import { CalendarCache } from './calendar-cache.js';
import { HolidayService } from './holiday-service.js';
import { RecurrenceService } from './recurrence.js';
import { appointmentRoutes } from './routes.js';
import { TagService } from './tags.js';

export interface Scheduling {
  appointments: AppointmentService;
  availability: AvailabilityService;
  /** Google Calendar and other busy sources invalidate a professional's cached calendar through this. */
  calendars: CalendarCache;
  holidays: HolidayService;
}

/** Patients' calendar: appointments, series, tags, blocks, holidays and availability. */
export function schedulingModule(
  infra: Infra,
  deps: { audit: AuditService; contacts: ContactService; team: TeamService; clinic: ClinicService; providers: Providers },
): Module<{ scheduling: Scheduling }> {
  const calendars = new CalendarCache(infra.cache, deps.team);
  const tags = new TagService(infra, deps.audit, calendars);
  const blocks = new BlockService(infra, deps.audit, deps.team, calendars);
  const holidays = new HolidayService(infra, deps.audit, calendars);
  const availability = new AvailabilityService(infra, deps.team, deps.clinic, holidays, calendars, deps.providers);
  const appointments = new AppointmentService(infra, deps.audit, deps.contacts, deps.team, tags, calendars);
  const recurrences = new RecurrenceService(infra, deps.audit, deps.team, holidays, appointments);

  return {
    name: 'scheduling',
    services: { scheduling: { appointments, availability, calendars, holidays } },
    routes: [...appointmentRoutes(appointments, recurrences), ...calendarRoutes({ availability, tags, blocks, holidays })],
    subscribers: [
      // Calendars show hours, zones and patient names: their changes drop the cached views.
      defineSubscriber({
        name: 'calendar-cache',
        events: ['member.changed', 'clinic.updated', 'contact.updated', 'contact.deleted'],
        handle: (event) =>
          event.name === 'member.changed' ? calendars.invalidate(event.clinicId, [event.payload.userId]) : calendars.invalidateClinic(event.clinicId),
      }),
    ],
    provides: {
      timeline: {
        appointment: async (ctx, contactId) =>
          (await appointments.forContact(ctx.clinicId, contactId)).map((a) => ({
            type: 'appointment',
            id: a.id,
            at: a.startsAt.toISOString(),
            title: APPOINTMENT_TYPE_LABELS[a.type ?? 'other'],
            data: { status: a.status, professionalId: a.professionalId, startsAt: a.startsAt.toISOString(), endsAt: a.endsAt.toISOString(), tagId: a.tagId },
          })),
      },
      exportSections: { appointments: (ctx, contactId) => appointments.forContact(ctx.clinicId, contactId) },
      anonymizers: [appointmentAnonymizer(calendars)],
      dependents: [(clinicId, contactId) => appointments.hasAppointments(clinicId, contactId)],
    },
  };
}
