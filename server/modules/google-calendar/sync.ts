import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { and, eq, gt, inArray, isNull, lt, or, sql } from 'drizzle-orm';
import { ACTIVE_APPOINTMENT_STATUSES, appointments, googleCalendarBusy, googleCalendarEvents, googleCalendarSyncs, integrationConnections, type GoogleConflict } from '../../../shared/schema/index.js';
import { ClinicData } from '../../infra/clinic-data.js';
import type { Infra } from '../../infra/index.js';
import type { CalendarSyncStats } from '../../infra/metrics.js';
import type { JobContext } from '../../infra/queue.js';
import { AppError } from '../../lib/errors.js';
import { addDays, zonedDate, zonedToUtc } from '../../lib/zoned-time.js';
import type { WebhookConnection } from '../../http/route.js';
import type { CalendarEvent, CalendarProvider } from '../integrations/providers.js';
import type { BusySource } from '../scheduling/availability.js';
import type { CalendarCache } from '../scheduling/calendar-cache.js';
import { PROVIDER, type GoogleAccess } from './access.js';
import { isProviderError } from './client.js';

export type SyncRow = typeof googleCalendarSyncs.$inferSelect;

/** The private properties our events carry in Google. */
export const APPOINTMENT_KEY = 'operabaseAppointmentId';
export const CLINIC_KEY = 'operabaseClinicId';

const DAY_MS = 86_400_000;
/** A full sync reads this window (today - 7 d to today + 180 d); older and later events do not block anything we offer. */
export const FULL_SYNC_PAST_DAYS = 7;
export const FULL_SYNC_FUTURE_DAYS = 180;
/** Cal.com's figures: 30-day channels, renewed when less than a day is left. */
const CHANNEL_TTL_SECONDS = 30 * 86_400;
const RENEW_BEFORE_MS = DAY_MS;
/** A calendar not synced for this long is synced by the maintenance job (missed notifications). */
export const SAFETY_SYNC_AFTER_MS = 3600_000;
/** Notifications of one calendar within this window start one sync. */
const DEBOUNCE_MS = 1000;
const CHUNK = 500;

const ACTIVE = new Set<string>(ACTIVE_APPOINTMENT_STATUSES);

const hash = (token: string) => createHash('sha256').update(token).digest('base64url');

interface Fetched {
  events: Map<string, CalendarEvent>;
  nextSyncToken?: string;
  timeZone?: string;
}

/** An event's interval; all-day events are whole days in the calendar's zone (end date exclusive). */
function interval(event: CalendarEvent, timeZone: string): { start: Date; end: Date; allDay: boolean } | undefined {
  if (event.start?.dateTime && event.end?.dateTime) {
    const start = new Date(event.start.dateTime);
    const end = new Date(event.end.dateTime);
    return Number.isNaN(start.getTime()) || Number.isNaN(end.getTime()) || end <= start ? undefined : { start, end, allDay: false };
  }
  if (event.start?.date && event.end?.date) {
    const start = zonedToUtc(event.start.date, 0, timeZone);
    const end = zonedToUtc(event.end.date, 0, timeZone);
    return Number.isNaN(start.getTime()) || end <= start ? undefined : { start, end, allDay: true };
  }
  return undefined;
}

/**
 * Google to ours: incremental sync with the stored sync token through every page (one full sync of
 * the window when there is none or Google answers 410), Google-only events kept as busy blocks,
 * our own events recognised by their private property and checked for moves and deletions, push
 * channels created and renewed, and the busy source availability reads.
 */
export class GoogleCalendarSync {
  constructor(
    private readonly infra: Pick<Infra, 'config' | 'db' | 'systemDb' | 'queue' | 'events' | 'log'>,
    private readonly access: GoogleAccess,
    private readonly calendars: CalendarCache,
  ) {}

  private data = (clinicId: string) => new ClinicData(clinicId, this.infra.db);

  readonly busySource: BusySource = {
    name: 'google-calendar',
    busy: (clinicId, professionalId, from, to) =>
      this.data(clinicId).pick(
        { start: googleCalendarBusy.startsAt, end: googleCalendarBusy.endsAt },
        googleCalendarBusy,
        eq(googleCalendarBusy.professionalId, professionalId),
        lt(googleCalendarBusy.startsAt, to),
        gt(googleCalendarBusy.endsAt, from),
      ),
  };

  /** Queues a sync of one calendar; `debounce` folds the notifications of one second into one run. */
  enqueue(clinicId: string, syncId: string, opts: { debounce?: boolean; requestId?: string | null } = {}) {
    const bucket = opts.debounce ? Math.floor(Date.now() / DEBOUNCE_MS) : randomUUID();
    return this.infra.queue.add('google_calendar.sync', { syncId }, { jobId: `gcal-sync:${syncId}:${bucket}`, delayMs: opts.debounce ? DEBOUNCE_MS : 0, context: { clinicId, requestId: opts.requestId ?? null } });
  }

  /** The `google_calendar.sync` job: a broken or removed link is skipped quietly, other failures counted and retried. */
  async runJob(syncId: string, job: JobContext) {
    if (!job.clinicId) throw new Error('calendar sync job without a clinic');
    const clinicId = job.clinicId;
    const [row] = await this.data(clinicId).select(googleCalendarSyncs, eq(googleCalendarSyncs.id, syncId));
    if (!row) return;
    const connection = await this.access.connections.get(clinicId, row.connectionId);
    if (connection.status === 'broken' || connection.status === 'disabled') return;
    try {
      const client = await this.access.calendar(clinicId, connection.id);
      const result = await this.syncCalendar(clinicId, row, client);
      job.log.info({ syncId, ...result }, 'google calendar synced');
    } catch (err) {
      if (await this.access.brokenBy(clinicId, connection, err)) return;
      await this.recordError(clinicId, syncId, err);
      throw err;
    }
  }

  async recordError(clinicId: string, syncId: string, err: unknown) {
    await this.data(clinicId).update(
      googleCalendarSyncs,
      { errorCount: sql`${googleCalendarSyncs.errorCount} + 1`, lastError: (err as Error).message.slice(0, 200), lastErrorAt: new Date(), updatedAt: new Date() },
      eq(googleCalendarSyncs.id, syncId),
    );
  }

  /** One sync of one calendar. A 410 drops the token and runs one full sync (not more: a second 410 fails the job). */
  async syncCalendar(clinicId: string, row: SyncRow, client: CalendarProvider) {
    let full = !row.syncToken;
    let fetched: Fetched;
    try {
      fetched = await this.fetch(client, row, full);
    } catch (err) {
      if (full || !isProviderError(err, 'sync_token_expired')) throw err;
      this.infra.log.info({ clinicId, syncId: row.id }, 'google sync token expired: full sync');
      full = true;
      fetched = await this.fetch(client, row, true);
    }
    return this.apply(clinicId, row, fetched, full);
  }

  private async fetch(client: CalendarProvider, row: SyncRow, full: boolean): Promise<Fetched> {
    const events = new Map<string, CalendarEvent>();
    const today = zonedDate(new Date(), row.timeZone ?? 'UTC');
    const window = { timeMin: zonedToUtc(addDays(today, -FULL_SYNC_PAST_DAYS), 0, row.timeZone ?? 'UTC'), timeMax: zonedToUtc(addDays(today, FULL_SYNC_FUTURE_DAYS), 0, row.timeZone ?? 'UTC') };
    let pageToken: string | undefined;
    let last;
    do {
      last = await client.listEvents(row.calendarId, full ? { ...window, pageToken } : { syncToken: row.syncToken as string, pageToken });
      // A later page's version of an event is the newer one.
      for (const event of last.events) events.set(event.id, event);
      pageToken = last.nextPageToken;
    } while (pageToken);
    return { events, nextSyncToken: last.nextSyncToken, timeZone: last.timeZone };
  }

  private async apply(clinicId: string, row: SyncRow, fetched: Fetched, full: boolean) {
    const timeZone = fetched.timeZone ?? row.timeZone ?? 'UTC';
    const busy: (typeof googleCalendarBusy.$inferInsert)[] = [];
    const free: string[] = [];
    const ours = new Map<string, CalendarEvent>();
    for (const event of fetched.events.values()) {
      const appointmentId = event.privateProperties?.[APPOINTMENT_KEY];
      // Ours in this clinic: the appointment is already busy time. Another clinic's are the professional's time elsewhere.
      if (appointmentId && event.privateProperties?.[CLINIC_KEY] === clinicId) {
        ours.set(appointmentId, event);
        continue;
      }
      const span = event.status === 'cancelled' || event.transparency === 'transparent' ? undefined : interval(event, timeZone);
      if (!span || !row.busy) {
        free.push(event.id);
        continue;
      }
      busy.push({ clinicId, syncId: row.id, professionalId: row.professionalId, googleEventId: event.id, startsAt: span.start, endsAt: span.end, allDay: span.allDay });
    }
    const conflicts = await this.conflicts(clinicId, row, ours, timeZone);
    await this.data(clinicId).transaction(async (data, tx) => {
      if (full) await data.delete(googleCalendarBusy, eq(googleCalendarBusy.syncId, row.id));
      else
        for (let i = 0; i < free.length; i += CHUNK) {
          await data.delete(googleCalendarBusy, eq(googleCalendarBusy.syncId, row.id), inArray(googleCalendarBusy.googleEventId, free.slice(i, i + CHUNK)));
        }
      for (let i = 0; i < busy.length; i += CHUNK) {
        await data
          .insert(googleCalendarBusy, busy.slice(i, i + CHUNK))
          .onConflictDoUpdate({
            target: [googleCalendarBusy.syncId, googleCalendarBusy.googleEventId],
            set: { startsAt: sql`excluded.starts_at`, endsAt: sql`excluded.ends_at`, allDay: sql`excluded.all_day` },
          });
      }
      for (const c of conflicts) {
        await data.update(googleCalendarEvents, { conflict: c.conflict, ...c.times, updatedAt: new Date() }, eq(googleCalendarEvents.id, c.linkId));
        if (c.conflict && c.announce) {
          await this.infra.events.publish(
            tx,
            'google_calendar.conflict',
            { appointmentId: c.appointmentId, professionalId: row.professionalId, kind: c.conflict.kind, startsAt: c.conflict.startsAt, endsAt: c.conflict.endsAt },
            { clinicId, actor: null },
          );
        }
      }
      const now = new Date();
      await data.update(
        googleCalendarSyncs,
        { syncToken: fetched.nextSyncToken ?? null, timeZone, lastSyncAt: now, ...(full ? { lastFullSyncAt: now } : {}), lastError: null, updatedAt: now },
        eq(googleCalendarSyncs.id, row.id),
      );
    });
    if (full || busy.length > 0 || free.length > 0) await this.calendars.invalidate(clinicId, [row.professionalId]);
    return { full, events: fetched.events.size, busy: busy.length, ours: ours.size, conflicts: conflicts.filter((c) => c.announce).length };
  }

  /**
   * Our events as Google shows them now. Moved (times differ from what we pushed and from the
   * appointment) or deleted in Google: flagged on the link, the appointment untouched. Back where
   * we put it: the flag is cleared. Times matching the appointment (our own patch echoing back) are
   * no conflict.
   */
  private async conflicts(clinicId: string, row: SyncRow, ours: Map<string, CalendarEvent>, timeZone: string) {
    if (ours.size === 0) return [];
    const ids = [...ours.keys()].filter((id) => /^[0-9a-f-]{36}$/i.test(id));
    if (ids.length === 0) return [];
    const data = this.data(clinicId);
    const [links, current] = await Promise.all([
      data.select(googleCalendarEvents, eq(googleCalendarEvents.connectionId, row.connectionId), inArray(googleCalendarEvents.appointmentId, ids)),
      data.pick({ id: appointments.id, startsAt: appointments.startsAt, endsAt: appointments.endsAt, status: appointments.status }, appointments, inArray(appointments.id, ids)),
    ]);
    const byId = new Map(current.map((a) => [a.id, a]));
    const out: { linkId: string; appointmentId: string; conflict: GoogleConflict | null; times?: { startsAt: Date; endsAt: Date }; announce: boolean }[] = [];
    const same = (a: Date, b: Date) => a.getTime() === b.getTime();
    for (const link of links) {
      const event = ours.get(link.appointmentId);
      if (!event || event.id !== link.googleEventId) continue;
      const detectedAt = new Date().toISOString();
      const appointment = byId.get(link.appointmentId);
      if (event.status === 'cancelled') {
        // Cancelled here too (our own delete echoing back before the link is gone): nothing to flag.
        if (!appointment || !ACTIVE.has(appointment.status)) continue;
        if (link.conflict?.kind !== 'deleted') out.push({ linkId: link.id, appointmentId: link.appointmentId, conflict: { kind: 'deleted', detectedAt }, announce: true });
        continue;
      }
      const span = interval(event, timeZone);
      if (!span) continue;
      if (same(span.start, link.startsAt) && same(span.end, link.endsAt)) {
        if (link.conflict) out.push({ linkId: link.id, appointmentId: link.appointmentId, conflict: null, announce: false });
      } else if (appointment && same(span.start, appointment.startsAt) && same(span.end, appointment.endsAt)) {
        out.push({ linkId: link.id, appointmentId: link.appointmentId, conflict: null, times: { startsAt: span.start, endsAt: span.end }, announce: false });
      } else if (link.conflict?.kind !== 'moved' || link.conflict.startsAt !== span.start.toISOString() || link.conflict.endsAt !== span.end.toISOString()) {
        out.push({ linkId: link.id, appointmentId: link.appointmentId, conflict: { kind: 'moved', startsAt: span.start.toISOString(), endsAt: span.end.toISOString(), detectedAt }, announce: true });
      }
    }
    return out;
  }

  // ---- Push channels ----

  /** The address Google posts to; without PUBLIC_API_URL there are no channels and the safety sync alone keeps calendars fresh. */
  private get address() {
    const base = this.infra.config.publicApiUrl;
    return base ? `${base.replace(/\/$/, '')}/api/webhooks/google-calendar` : undefined;
  }

  /** A new channel for the calendar, stored, then the old one stopped (channels are not renewable). */
  async watch(clinicId: string, row: SyncRow, client: CalendarProvider) {
    const address = this.address;
    if (!address) return;
    const token = randomBytes(24).toString('base64url');
    const channel = await client.watch(row.calendarId, { id: randomUUID(), address, token, ttlSeconds: CHANNEL_TTL_SECONDS });
    await this.data(clinicId).update(
      googleCalendarSyncs,
      { channelId: channel.id, channelResourceId: channel.resourceId, channelExpiresAt: channel.expiresAt, channelTokenHash: hash(token), lastMessageNumber: null, updatedAt: new Date() },
      eq(googleCalendarSyncs.id, row.id),
    );
    if (row.channelId && row.channelResourceId) await this.stopChannel(client, { id: row.channelId, resourceId: row.channelResourceId });
  }

  async stopChannel(client: CalendarProvider, channel: { id: string; resourceId: string }) {
    try {
      await client.stop(channel);
    } catch (err) {
      // An old channel left running expires by itself; its notifications no longer match a stored channel.
      this.infra.log.warn({ channelId: channel.id, err: { message: (err as Error).message } }, 'google channel stop failed');
    }
  }

  /**
   * The maintenance job (once per cluster): channels expiring within a day renewed, calendars not
   * synced for an hour queued. Reads across clinics on purpose (systemDb), then works per clinic.
   */
  async maintain(log: JobContext['log']) {
    const due = await this.infra.systemDb
      .select({ sync: googleCalendarSyncs, status: integrationConnections.status })
      .from(googleCalendarSyncs)
      .innerJoin(integrationConnections, eq(integrationConnections.id, googleCalendarSyncs.connectionId))
      .where(and(eq(integrationConnections.status, 'active'), or(eq(googleCalendarSyncs.busy, true), eq(googleCalendarSyncs.target, true))));
    let renewed = 0;
    let queued = 0;
    const renewBefore = Date.now() + RENEW_BEFORE_MS;
    for (const { sync: row } of due) {
      if (this.address && (!row.channelExpiresAt || row.channelExpiresAt.getTime() < renewBefore)) {
        const connection = await this.access.connections.get(row.clinicId, row.connectionId);
        try {
          await this.watch(row.clinicId, row, await this.access.calendar(row.clinicId, row.connectionId));
          renewed++;
        } catch (err) {
          if (!(await this.access.brokenBy(row.clinicId, connection, err))) await this.recordError(row.clinicId, row.id, err);
          continue;
        }
      }
      if (!row.lastSyncAt || row.lastSyncAt.getTime() < Date.now() - SAFETY_SYNC_AFTER_MS) {
        await this.enqueue(row.clinicId, row.id, { debounce: true });
        queued++;
      }
    }
    log.info({ renewed, queued }, 'google calendar channels and safety syncs');
    return { renewed, queued };
  }

  /** For /metrics, across clinics (systemDb): failed syncs and last sync per connection, links by status. */
  async stats(): Promise<CalendarSyncStats> {
    const [rows, links] = await Promise.all([
      this.infra.systemDb
        .select({ connection: googleCalendarSyncs.connectionId, errors: sql<number>`sum(${googleCalendarSyncs.errorCount})::int`, lastSyncAt: sql<Date | string | null>`max(${googleCalendarSyncs.lastSyncAt})` })
        .from(googleCalendarSyncs)
        .groupBy(googleCalendarSyncs.connectionId),
      this.infra.systemDb
        .select({ status: integrationConnections.status, n: sql<number>`count(*)::int` })
        .from(integrationConnections)
        .where(eq(integrationConnections.provider, PROVIDER))
        .groupBy(integrationConnections.status),
    ]);
    return {
      connections: rows.map((r) => ({ connection: r.connection, errors: Number(r.errors), lastSyncAt: r.lastSyncAt ? new Date(r.lastSyncAt) : null })),
      byStatus: Object.fromEntries(links.map((l) => [l.status, Number(l.n)])),
    };
  }

  // ---- Push notifications ----

  /**
   * The webhook route's lookup: the stored channel named by `X-Goog-Channel-ID`, its clinic and
   * connection, and the hash of its token for `verifyPush`. Unscoped on purpose: Google is the
   * caller and this is how the clinic is found. Unknown, or its link disabled: undefined.
   */
  async resolveChannel(channelId: string | undefined): Promise<WebhookConnection | undefined> {
    if (!channelId || channelId.length > 64) return undefined;
    const [found] = await this.infra.systemDb
      .select({ sync: googleCalendarSyncs, connection: integrationConnections })
      .from(googleCalendarSyncs)
      .innerJoin(integrationConnections, eq(integrationConnections.id, googleCalendarSyncs.connectionId))
      .where(eq(googleCalendarSyncs.channelId, channelId));
    if (!found || found.connection.status === 'disabled' || !found.sync.channelTokenHash) return undefined;
    return { id: found.connection.id, clinicId: found.sync.clinicId, provider: PROVIDER, ownerUserId: found.connection.ownerUserId, credentials: { channelTokenHash: found.sync.channelTokenHash } };
  }

  /** A notification: `sync` (the channel's first) acknowledged, a replayed or older message number ignored, otherwise a debounced sync. */
  async onPush(clinicId: string, push: { channelId: string; state: string; messageNumber?: number; requestId: string }): Promise<{ received: true; queued: boolean }> {
    const number = push.messageNumber ?? null;
    const [row] = await this.data(clinicId)
      .update(
        googleCalendarSyncs,
        { lastMessageNumber: number, updatedAt: new Date() },
        eq(googleCalendarSyncs.channelId, push.channelId),
        number === null ? sql`true` : or(isNull(googleCalendarSyncs.lastMessageNumber), lt(googleCalendarSyncs.lastMessageNumber, number)),
      )
      .returning({ id: googleCalendarSyncs.id, connectionId: googleCalendarSyncs.connectionId });
    if (!row || push.state === 'sync') return { received: true, queued: false };
    // A broken link waits for its professional to reconnect: nothing to queue that would only fail.
    if ((await this.access.connections.get(clinicId, row.connectionId)).status === 'broken') return { received: true, queued: false };
    await this.enqueue(clinicId, row.id, { debounce: true, requestId: push.requestId });
    return { received: true, queued: true };
  }
}

/** `X-Goog-Channel-Token` against the stored channel's hash, in constant time. */
export function verifyPush(input: { headers: Record<string, string | string[] | undefined>; credentials: Record<string, string> }) {
  const given = input.headers['x-goog-channel-token'];
  const token = Array.isArray(given) ? given[0] : given;
  const expected = Buffer.from(input.credentials.channelTokenHash ?? '');
  const actual = Buffer.from(token ? hash(token) : '');
  if (!token || expected.length === 0 || expected.length !== actual.length || !timingSafeEqual(expected, actual)) {
    throw new AppError(401, 'invalid_signature', 'The channel token does not match this channel');
  }
}
