import type { Infra } from '../../infra/index.js';
import type { AuditService } from '../audit/service.js';
import type { ClinicService } from '../clinic/service.js';
import type { ContactService } from '../contacts/service.js';
import type { Timeline } from '../contacts/timeline.js';
import type { TeamService } from '../team/service.js';
import { AvailabilityService } from './availability.js';
import { BlockService } from './blocks.js';
import { CalendarCache } from './calendar-cache.js';
import { HolidayService } from './holiday-service.js';
import { RecurrenceService } from './recurrence.js';
import { appointmentRoutes } from './routes.js';
import { AppointmentService } from './service.js';
import { scheduleSettingsRoutes } from './settings-routes.js';
import { TagService } from './tags.js';

export interface Scheduling {
  appointments: AppointmentService;
  availability: AvailabilityService;
  /** Google Calendar and other busy sources invalidate a professional's cached calendar through this. */
  calendars: CalendarCache;
  holidays: HolidayService;
}

const TYPE_LABELS: Record<string, string> = {
  first_visit: 'Primeira consulta',
  return: 'Retorno',
  evaluation: 'Avaliação',
  procedure: 'Procedimento',
  session: 'Sessão',
  exam: 'Exame',
  other: 'Atendimento',
};

/** Patients' calendar: appointments, series, tags, blocks, holidays, availability, and their hooks. */
export function createScheduling(
  infra: Infra,
  deps: { audit: AuditService; contacts: ContactService; team: TeamService; clinic: ClinicService; timeline: Timeline },
) {
  const calendars = new CalendarCache(infra.cache, deps.team);
  const tags = new TagService(infra, deps.audit, calendars);
  const blocks = new BlockService(infra, deps.audit, deps.team, calendars);
  const holidays = new HolidayService(infra, deps.audit, calendars);
  const availability = new AvailabilityService(infra, deps.team, deps.clinic, holidays, calendars);
  const appointments = new AppointmentService(infra, deps.audit, deps.contacts, deps.team, tags, calendars);
  const recurrences = new RecurrenceService(infra, deps.audit, deps.team, holidays, appointments);

  // Calendars show hours, zones and patient names: their changes drop the cached views.
  infra.events.subscribe({
    name: 'calendar-cache',
    events: ['member.changed', 'clinic.updated', 'contact.updated', 'contact.deleted'],
    handle: (event) =>
      event.name === 'member.changed' ? calendars.invalidate(event.clinicId, [event.payload.userId]) : calendars.invalidateClinic(event.clinicId),
  });
  deps.contacts.registerDependents((clinicId, contactId) => appointments.hasAppointments(clinicId, contactId));
  deps.timeline.register('appointment', async (ctx, contactId) =>
    (await appointments.forContact(ctx.clinicId, contactId)).map((a) => ({
      type: 'appointment',
      id: a.id,
      at: a.startsAt.toISOString(),
      title: TYPE_LABELS[a.type ?? 'other'] ?? 'Atendimento',
      data: { status: a.status, professionalId: a.professionalId, startsAt: a.startsAt.toISOString(), endsAt: a.endsAt.toISOString(), tagId: a.tagId },
    })),
  );

  const scheduling: Scheduling = { appointments, availability, calendars, holidays };
  return {
    scheduling,
    routes: [...appointmentRoutes(appointments, recurrences), ...scheduleSettingsRoutes({ availability, tags, blocks, holidays })],
  };
}
