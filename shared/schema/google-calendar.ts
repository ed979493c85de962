import { sql } from 'drizzle-orm';
import { bigint, boolean, index, integer, jsonb, pgTable, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { clinics, users } from './core.js';
import { integrationConnections } from './integrations.js';

const id = () => uuid('id').primaryKey().default(sql`gen_random_uuid()`);
const createdAt = () => timestamp('created_at', { withTimezone: true }).notNull().defaultNow();
const updatedAt = () => timestamp('updated_at', { withTimezone: true }).notNull().defaultNow();

/** What our events show in Google (LGPD: minimal by default). */
export const GOOGLE_EVENT_DETAILS = ['first_name', 'busy_only', 'full_name'] as const;
export type GoogleEventDetail = (typeof GOOGLE_EVENT_DETAILS)[number];

/**
 * One Google calendar of a professional's connection: whether it receives our appointments
 * (`target`, at most one per connection) and whether its events block availability (`busy`), with
 * its incremental sync token, its push channel and its error counts.
 */
export const googleCalendarSyncs = pgTable(
  'google_calendar_syncs',
  {
    id: id(),
    clinicId: uuid('clinic_id').notNull().references(() => clinics.id, { onDelete: 'cascade' }),
    connectionId: uuid('connection_id')
      .notNull()
      .references(() => integrationConnections.id, { onDelete: 'cascade' }),
    professionalId: uuid('professional_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    calendarId: text('calendar_id').notNull(),
    summary: text('summary'),
    timeZone: text('time_zone'),
    target: boolean('target').notNull().default(false),
    busy: boolean('busy').notNull().default(false),
    syncToken: text('sync_token'),
    channelId: text('channel_id'),
    channelResourceId: text('channel_resource_id'),
    channelExpiresAt: timestamp('channel_expires_at', { withTimezone: true }),
    /** SHA-256 of the channel's random token: the push's `X-Goog-Channel-Token` is compared with it. */
    channelTokenHash: text('channel_token_hash'),
    /** Highest `X-Goog-Message-Number` seen on the channel: replays and older ones are ignored. */
    lastMessageNumber: bigint('last_message_number', { mode: 'number' }),
    lastSyncAt: timestamp('last_sync_at', { withTimezone: true }),
    lastFullSyncAt: timestamp('last_full_sync_at', { withTimezone: true }),
    lastError: text('last_error'),
    lastErrorAt: timestamp('last_error_at', { withTimezone: true }),
    errorCount: integer('error_count').notNull().default(0),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    uniqueIndex('google_calendar_syncs_calendar_unique').on(t.connectionId, t.calendarId),
    uniqueIndex('google_calendar_syncs_channel_unique').on(t.channelId),
    index('google_calendar_syncs_clinic_idx').on(t.clinicId, t.professionalId),
  ],
);

/** What a professional changed in Google on one of our events; the appointment itself is untouched. */
export interface GoogleConflict {
  kind: 'moved' | 'deleted';
  /** The event's times in Google when it was moved. */
  startsAt?: string;
  endsAt?: string;
  detectedAt: string;
}

/** Our appointment <-> the Google event we created for it (our event id, its etag, the times we pushed). */
export const googleCalendarEvents = pgTable(
  'google_calendar_events',
  {
    id: id(),
    clinicId: uuid('clinic_id').notNull().references(() => clinics.id, { onDelete: 'cascade' }),
    connectionId: uuid('connection_id')
      .notNull()
      .references(() => integrationConnections.id, { onDelete: 'cascade' }),
    /** No foreign key: a deleted appointment's event must still be found to be removed from Google. */
    appointmentId: uuid('appointment_id').notNull(),
    professionalId: uuid('professional_id').notNull(),
    calendarId: text('calendar_id').notNull(),
    googleEventId: text('google_event_id').notNull(),
    etag: text('etag'),
    startsAt: timestamp('starts_at', { withTimezone: true }).notNull(),
    endsAt: timestamp('ends_at', { withTimezone: true }).notNull(),
    conflict: jsonb('conflict').$type<GoogleConflict>(),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    uniqueIndex('google_calendar_events_appointment_unique').on(t.clinicId, t.appointmentId),
    index('google_calendar_events_google_idx').on(t.connectionId, t.googleEventId),
  ],
);

/** A Google-only event that makes the professional busy (opaque, not cancelled), from a busy calendar. */
export const googleCalendarBusy = pgTable(
  'google_calendar_busy',
  {
    id: id(),
    clinicId: uuid('clinic_id').notNull().references(() => clinics.id, { onDelete: 'cascade' }),
    syncId: uuid('sync_id')
      .notNull()
      .references(() => googleCalendarSyncs.id, { onDelete: 'cascade' }),
    professionalId: uuid('professional_id').notNull(),
    googleEventId: text('google_event_id').notNull(),
    startsAt: timestamp('starts_at', { withTimezone: true }).notNull(),
    endsAt: timestamp('ends_at', { withTimezone: true }).notNull(),
    allDay: boolean('all_day').notNull().default(false),
  },
  (t) => [uniqueIndex('google_calendar_busy_event_unique').on(t.syncId, t.googleEventId), index('google_calendar_busy_time_idx').on(t.clinicId, t.professionalId, t.startsAt)],
);

/** Per clinic: what our events show in Google. No row: `first_name`. */
export const googleCalendarSettings = pgTable('google_calendar_settings', {
  clinicId: uuid('clinic_id')
    .primaryKey()
    .references(() => clinics.id, { onDelete: 'cascade' }),
  eventDetail: text('event_detail').$type<GoogleEventDetail>().notNull().default('first_name'),
  updatedAt: updatedAt(),
});
