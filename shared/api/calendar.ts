import { z } from 'zod';
import { GOOGLE_EVENT_DETAILS } from '../schema/google-calendar.js';

/** A Google calendar id (an address or `...@group.calendar.google.com`). */
const calendarId = z.string().min(1).max(1024).regex(/^[^\s]+$/, 'A calendar id has no spaces');

export const connectResponse = z.object({ url: z.url() });

/** Google's redirect; it also sends `scope`, `authuser`, `prompt`... which are ignored. */
export const callbackQuery = z.object({
  code: z.string().min(1).max(4096).optional(),
  state: z.string().min(1).max(2048).optional(),
  error: z.string().min(1).max(200).optional(),
});

export const googleCalendarList = z.object({
  items: z.array(
    z.object({
      id: z.string(),
      summary: z.string(),
      primary: z.boolean(),
      accessRole: z.string(),
      timeZone: z.string().nullable(),
      /** Writable: may receive the appointments. */
      canReceive: z.boolean(),
      target: z.boolean(),
      busy: z.boolean(),
    }),
  ),
});

export const integrationView = z.object({
  id: z.uuid(),
  ownerUserId: z.uuid().nullable(),
  status: z.enum(['connecting', 'active', 'broken', 'disabled']),
  lastError: z.string().nullable(),
  lastErrorAt: z.string().nullable(),
  calendarId: z.string().nullable(),
  busyCalendarIds: z.array(z.string()),
  lastSyncAt: z.string().nullable(),
  errorCount: z.number().int(),
  conflicts: z.number().int(),
  calendars: z.array(
    z.object({
      calendarId: z.string(),
      summary: z.string().nullable(),
      target: z.boolean(),
      busy: z.boolean(),
      lastSyncAt: z.string().nullable(),
      errorCount: z.number().int(),
      lastError: z.string().nullable(),
      channelExpiresAt: z.string().nullable(),
    }),
  ),
});

export const integrationList = z.object({ items: z.array(integrationView) });

/** The calendar that receives appointments (null: none) and the ones whose events block availability. */
export const integrationPatch = z
  .strictObject({
    calendarId: calendarId.nullable().optional(),
    busyCalendarIds: z.array(calendarId).max(50).optional(),
  })
  .refine((p) => p.calendarId !== undefined || p.busyCalendarIds !== undefined, 'Send calendarId, busyCalendarIds or both');

export const syncResponse = z.object({ queued: z.number().int() });

export const conflictList = z.object({
  items: z.array(
    z.object({
      appointmentId: z.uuid(),
      professionalId: z.uuid(),
      appointmentStartsAt: z.string(),
      appointmentEndsAt: z.string(),
      status: z.string(),
      kind: z.enum(['moved', 'deleted']),
      googleStartsAt: z.string().nullable(),
      googleEndsAt: z.string().nullable(),
      detectedAt: z.string().nullable(),
    }),
  ),
});

export const calendarSettings = z.strictObject({ eventDetail: z.enum(GOOGLE_EVENT_DETAILS) });

/** `received: false`: a channel we do not know (acknowledged so Google stops retrying). */
export const pushResponse = z.object({ received: z.boolean(), queued: z.boolean().optional() });
