import {
  calendarSettings,
  callbackQuery,
  conflictList,
  connectResponse,
  googleCalendarList,
  integrationList,
  integrationPatch,
  integrationView,
  pushResponse,
  syncResponse,
} from '../../../shared/api/calendar.js';
import { publicRoute, route, uuidParam, webhookRoute, type RouteDef } from '../../http/route.js';
import type { GoogleCalendarLinks } from './links.js';
import { verifyPush, type GoogleCalendarSync } from './sync.js';

const tag = 'Google Calendar';

const header = (value: string | string[] | undefined) => (Array.isArray(value) ? value[0] : value);

/**
 * A professional's Google Calendar link. The `:id` routes take `authenticated` and decide in the
 * service: the professional's own link (`calendar:connect`) or any link of the clinic for admins
 * (`calendar:manage`); anyone else is 403, another professional's link 404.
 */
export const googleCalendarRoutes = (links: GoogleCalendarLinks, sync: GoogleCalendarSync): RouteDef[] => [
  route({
    method: 'get',
    path: '/calendar/google/connect',
    summary: 'Google consent page for the signed-in professional (offline access, calendar scopes, signed state valid 10 minutes)',
    tag,
    access: 'calendar:connect',
    userOnly: true,
    response: connectResponse,
    handler: async ({ ctx }) => links.connectUrl(ctx),
  }),
  publicRoute({
    method: 'get',
    path: '/calendar/google/callback',
    summary: 'Google redirects here after consent: the state is checked, the refresh token stored sealed, then the browser goes back to the web app',
    tag,
    status: 302,
    schemas: { query: callbackQuery },
    handler: async ({ ctx, query, res }) => {
      res.redirect(302, await links.callback(ctx, query));
    },
  }),
  route({
    method: 'get',
    path: '/calendar/google/calendars',
    summary: 'The signed-in professional’s Google calendars, to choose the one receiving appointments and the busy ones',
    tag,
    access: 'calendar:connect',
    userOnly: true,
    response: googleCalendarList,
    handler: async ({ ctx }) => links.calendarsOf(ctx),
  }),
  route({
    method: 'get',
    path: '/calendar/integrations',
    summary: 'Google Calendar links: the caller’s own, or every one of the clinic for admins; status, error counts, last sync',
    tag,
    access: 'authenticated',
    userOnly: true,
    response: integrationList,
    handler: async ({ ctx }) => links.list(ctx),
  }),
  route({
    method: 'patch',
    path: '/calendar/integrations/:id',
    summary: 'Choose the calendar receiving appointments and the calendars counted as busy (each must be one of the professional’s)',
    tag,
    access: 'authenticated',
    userOnly: true,
    schemas: { params: uuidParam, body: integrationPatch },
    response: integrationView,
    handler: async ({ ctx, params, body }) => links.update(ctx, params.id, body),
  }),
  route({
    method: 'post',
    path: '/calendar/integrations/:id/sync',
    summary: 'Queue a sync of every calendar of the link now',
    tag,
    access: 'authenticated',
    userOnly: true,
    status: 202,
    schemas: { params: uuidParam },
    response: syncResponse,
    handler: async ({ ctx, params }) => links.syncNow(ctx, params.id),
  }),
  route({
    method: 'delete',
    path: '/calendar/integrations/:id',
    summary: 'Disconnect: stop the push channels, revoke the Google grant, remove the sync state',
    tag,
    access: 'authenticated',
    userOnly: true,
    schemas: { params: uuidParam },
    handler: async ({ ctx, params }) => links.remove(ctx, params.id),
  }),
  route({
    method: 'get',
    path: '/calendar/conflicts',
    summary: 'Appointments whose Google event a professional moved or deleted (the appointment was left unchanged)',
    tag,
    access: 'appointments:read',
    response: conflictList,
    handler: async ({ ctx }) => links.conflicts(ctx),
  }),
  route({
    method: 'get',
    path: '/calendar/settings',
    summary: 'What the clinic’s events show in Google Calendar',
    tag,
    access: 'calendar:manage',
    response: calendarSettings,
    handler: async ({ ctx }) => links.settings(ctx.clinicId),
  }),
  route({
    method: 'patch',
    path: '/calendar/settings',
    summary: 'Choose what events show in Google: first_name (default: "Consulta · Maria"), busy_only ("Consulta") or full_name; never notes',
    tag,
    access: 'calendar:manage',
    schemas: { body: calendarSettings },
    response: calendarSettings,
    handler: async ({ ctx, body }) => links.updateSettings(ctx.clinicId, body.eventDetail),
  }),
  webhookRoute({
    method: 'post',
    path: '/webhooks/google-calendar',
    summary: 'Google Calendar push notification (X-Goog-Channel-ID names the channel, X-Goog-Channel-Token proves it); queues a debounced sync',
    tag,
    provider: 'google_calendar',
    resolve: ({ headers }) => sync.resolveChannel(header(headers['x-goog-channel-id'])),
    // Google retries anything but 2xx: a channel we no longer know (stopped, removed) is answered and dropped.
    unknown: () => ({ received: false }),
    verify: verifyPush,
    response: pushResponse,
    handler: async ({ ctx, req }) => {
      const number = Number(header(req.headers['x-goog-message-number']));
      return sync.onPush(ctx.clinicId, {
        channelId: header(req.headers['x-goog-channel-id']) as string,
        state: header(req.headers['x-goog-resource-state']) ?? '',
        messageNumber: Number.isSafeInteger(number) && number > 0 ? number : undefined,
        requestId: ctx.requestId,
      });
    },
  }),
];
