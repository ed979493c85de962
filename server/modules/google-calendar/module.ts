import type { Infra } from '../../infra/index.js';
import { defineJob } from '../../infra/queue.js';
import type { AuditService } from '../audit/service.js';
import type { Integrations } from '../integrations/module.js';
import { defineSubscriber, type Module } from '../module.js';
import type { Scheduling } from '../scheduling/module.js';
import { GoogleAccess } from './access.js';
import { GoogleCalendarLinks } from './links.js';
import { GoogleCalendarPush } from './push.js';
import { googleCalendarRoutes } from './routes.js';
import { OAuthState } from './state.js';
import { GoogleCalendarSync } from './sync.js';

declare module '../../infra/queue.js' {
  interface JobMap {
    /** Ids only: the job reads the appointment as it is when it runs. */
    'google_calendar.push': { appointmentId: string };
    'google_calendar.sync': { syncId: string };
    'google_calendar.maintain': Record<string, never>;
  }
}

export interface GoogleCalendar {
  links: GoogleCalendarLinks;
  sync: GoogleCalendarSync;
  push: GoogleCalendarPush;
  access: GoogleAccess;
}

/** Channel renewal and the safety sync run this often, once per cluster. */
const MAINTAIN_EVERY_MS = 15 * 60_000;

/** Two-way sync of each professional's Google Calendar (docs/google-calendar.md). */
export function googleCalendarModule(infra: Infra, deps: { audit: AuditService; integrations: Integrations; scheduling: Scheduling }): Module<{ googleCalendar: GoogleCalendar }> {
  const access = new GoogleAccess(infra, deps.integrations.connections, deps.audit);
  const sync = new GoogleCalendarSync(infra, access, deps.scheduling.calendars);
  const push = new GoogleCalendarPush(infra, access);
  const links = new GoogleCalendarLinks(infra, access, sync, deps.scheduling.calendars, new OAuthState(infra.secrets.deriveKey('google-oauth-state')));

  return {
    name: 'google-calendar',
    services: { googleCalendar: { links, sync, push, access } },
    routes: googleCalendarRoutes(links, sync),
    jobs: [
      defineJob({ name: 'google_calendar.push', queue: 'calendar', handler: (data, job) => push.runJob(data.appointmentId, job) }),
      defineJob({ name: 'google_calendar.sync', queue: 'calendar', handler: (data, job) => sync.runJob(data.syncId, job) }),
      defineJob({
        name: 'google_calendar.maintain',
        queue: 'calendar',
        everyMs: MAINTAIN_EVERY_MS,
        handler: async (_data, job) => {
          if (access.configured) await sync.maintain(job.log);
        },
      }),
    ],
    subscribers: [
      // One job per appointment event (its id names the job, so a redelivery adds nothing); the job does the Google call.
      defineSubscriber({
        name: 'google-calendar',
        events: ['appointment.created', 'appointment.updated', 'appointment.cancelled', 'appointment.deleted'],
        handle: async (event) => {
          if (!access.configured) return;
          await infra.queue.add('google_calendar.push', { appointmentId: event.payload.id }, { jobId: `gcal-push:${event.id}`, context: { clinicId: event.clinicId, requestId: event.requestId } });
        },
      }),
    ],
    provides: { busySources: [sync.busySource] },
  };
}
