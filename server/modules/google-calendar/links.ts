import { eq, inArray, isNotNull, notInArray } from 'drizzle-orm';
import type { z } from 'zod';
import type { integrationPatch } from '../../../shared/api/calendar.js';
import { appointments, googleCalendarEvents, googleCalendarSettings, googleCalendarSyncs, memberships, type GoogleEventDetail } from '../../../shared/schema/index.js';
import { ClinicData } from '../../infra/clinic-data.js';
import type { Infra } from '../../infra/index.js';
import { actorUserId, type BaseContext, type TenantContext } from '../../http/context.js';
import { AppError, badRequest, forbidden, notConfigured, notFound } from '../../lib/errors.js';
import { can } from '../../lib/permissions.js';
import { googleOAuthClient } from '../integrations/google-oauth.js';
import type { CalendarListEntry, CalendarProvider } from '../integrations/providers.js';
import type { ConnectionView } from '../integrations/service.js';
import type { CalendarCache } from '../scheduling/calendar-cache.js';
import { PROVIDER, type GoogleAccess } from './access.js';
import type { OAuthState } from './state.js';
import type { GoogleCalendarSync, SyncRow } from './sync.js';

/** Calendar scopes only: events of the calendars, and the list of them (to choose). */
export const GOOGLE_CALENDAR_SCOPES = ['https://www.googleapis.com/auth/calendar.events', 'https://www.googleapis.com/auth/calendar.readonly'];
/** Calendars that may receive our events. */
const WRITABLE = new Set(['owner', 'writer']);

/**
 * A professional's link to their Google Calendar: consent, callback, the calendars they choose,
 * manual sync and removal. The professional acts on their own link (`calendar:connect`); admins
 * (`calendar:manage`) see and change every link of the clinic.
 */
export class GoogleCalendarLinks {
  constructor(
    private readonly infra: Pick<Infra, 'config' | 'db' | 'log'>,
    private readonly access: GoogleAccess,
    private readonly sync: GoogleCalendarSync,
    private readonly calendars: CalendarCache,
    private readonly state: OAuthState,
  ) {}

  private data = (clinicId: string) => new ClinicData(clinicId, this.infra.db);

  private requireConfigured() {
    if (!this.access.configured) throw notConfigured('Google Calendar');
  }

  /** The consent page for the signed-in professional: offline access (a refresh token), consent shown, calendar scopes only. */
  connectUrl(ctx: TenantContext): { url: string } {
    this.requireConfigured();
    const userId = actorUserId(ctx);
    if (!userId) throw forbidden();
    const url = googleOAuthClient(this.infra.config).generateAuthUrl({
      access_type: 'offline',
      prompt: 'consent',
      scope: GOOGLE_CALENDAR_SCOPES,
      include_granted_scopes: false,
      state: this.state.sign(userId, ctx.clinicId),
    });
    return { url };
  }

  /** Where the browser goes back to in the web app. */
  private appUrl(result: string) {
    return `${this.infra.config.publicAppUrl.replace(/\/$/, '')}/configuracoes/integracoes?google_calendar=${result}`;
  }

  /**
   * Google's redirect: the state proves who asked (checked before anything else), the code is
   * exchanged for a refresh token sealed into the professional's connection (a reconnection replaces
   * the token and resumes sync), the calendars are set up. Answers the web app's address to go to.
   */
  async callback(ctx: BaseContext, query: { code?: string; state?: string; error?: string }): Promise<string> {
    if (!query.state) throw badRequest('invalid_state', 'The authorisation link is invalid or has expired; start the connection again');
    const { userId, clinicId } = this.state.verify(query.state);
    this.requireConfigured();
    if (query.error) return this.appUrl('denied');
    if (!query.code) throw badRequest('missing_code', 'Google did not send an authorisation code');
    const oauth = googleOAuthClient(this.infra.config);
    let refreshToken: string | undefined;
    try {
      refreshToken = (await oauth.getToken(query.code)).tokens.refresh_token ?? undefined;
    } catch (err) {
      this.infra.log.warn({ clinicId, err: { message: (err as Error).message } }, 'google code exchange failed');
      throw badRequest('invalid_code', 'Google refused the authorisation code; start the connection again');
    }
    if (!refreshToken) throw badRequest('no_refresh_token', 'Google gave no offline access; start the connection again');

    const existing = await this.access.connectionOf(clinicId, userId);
    let connection: ConnectionView;
    if (existing) {
      await this.access.connections.rotateCredentials(clinicId, existing.id, { refreshToken });
      connection = await this.access.connections.setStatus(clinicId, existing.id, 'active');
    } else {
      const created = await this.access.connections.create(clinicId, { provider: PROVIDER, ownerUserId: userId, label: 'Google Calendar', credentials: { refreshToken } });
      connection = await this.access.connections.setStatus(clinicId, created.id, 'active');
    }
    this.access.forget(connection.id);
    const [member] = await this.data(clinicId).pick({ role: memberships.role, isProfessional: memberships.isProfessional }, memberships, eq(memberships.userId, userId));
    const actor = { type: 'user' as const, userId, role: member?.role ?? 'professional', isProfessional: member?.isProfessional ?? true };
    await this.access.announce(clinicId, actor, { id: connection.id, ownerUserId: userId, status: 'active' }, existing ? 'google_calendar.reconnected' : 'google_calendar.connected', ctx.requestId);

    const rows = await this.data(clinicId).select(googleCalendarSyncs, eq(googleCalendarSyncs.connectionId, connection.id));
    if (rows.length === 0) {
      // First link: the primary calendar receives appointments and counts as busy, until the professional chooses.
      const primary = (await this.listRemote(clinicId, connection)).find((c) => c.primary);
      if (primary) await this.choose(clinicId, connection, { calendarId: primary.id, busyCalendarIds: [primary.id] }, [primary]);
    } else await this.resume(clinicId, connection.id, rows);
    return this.appUrl('connected');
  }

  /** After a reconnection: fresh channels and one sync per calendar. */
  private async resume(clinicId: string, connectionId: string, rows: SyncRow[]) {
    const client = await this.access.calendar(clinicId, connectionId);
    for (const row of rows) {
      await this.watch(clinicId, row, client);
      await this.sync.enqueue(clinicId, row.id);
    }
  }

  /** A channel for the calendar; a failure is counted on it and left to the maintenance job (no channel yet = renew due). */
  private async watch(clinicId: string, row: SyncRow, client: CalendarProvider) {
    try {
      await this.sync.watch(clinicId, row, client);
    } catch (err) {
      this.infra.log.warn({ clinicId, syncId: row.id, err: { message: (err as Error).message } }, 'google channel creation failed');
      await this.sync.recordError(clinicId, row.id, err);
    }
  }

  /** The link a caller may act on: their own with `calendar:connect`, any of the clinic with `calendar:manage`. */
  async linkFor(ctx: TenantContext, id: string): Promise<ConnectionView> {
    const manage = can(ctx.actor, 'calendar:manage');
    if (!manage && !can(ctx.actor, 'calendar:connect')) throw forbidden();
    const link = await this.access.connections.get(ctx.clinicId, id).catch(() => undefined);
    if (!link || link.provider !== PROVIDER || (!manage && link.ownerUserId !== actorUserId(ctx))) throw notFound('Calendar integration');
    return link;
  }

  private async ownLink(ctx: TenantContext): Promise<ConnectionView> {
    const userId = actorUserId(ctx);
    const link = userId ? await this.access.connectionOf(ctx.clinicId, userId) : undefined;
    if (!link) throw notFound('Calendar integration');
    return link;
  }

  /** The professional's calendars, to choose from, with what each is used for now. */
  async calendarsOf(ctx: TenantContext) {
    this.requireConfigured();
    const link = await this.ownLink(ctx);
    const rows = await this.data(ctx.clinicId).select(googleCalendarSyncs, eq(googleCalendarSyncs.connectionId, link.id));
    const used = new Map(rows.map((r) => [r.calendarId, r]));
    const list = await this.listRemote(ctx.clinicId, link);
    return {
      items: list.map((c) => ({ id: c.id, summary: c.summary, primary: c.primary, accessRole: c.accessRole, timeZone: c.timeZone ?? null, canReceive: WRITABLE.has(c.accessRole), target: used.get(c.id)?.target ?? false, busy: used.get(c.id)?.busy ?? false })),
    };
  }

  private async listRemote(clinicId: string, link: ConnectionView): Promise<CalendarListEntry[]> {
    if (link.status === 'broken') throw new AppError(409, 'integration_broken', 'Google access was revoked or expired: connect the calendar again');
    try {
      return await (await this.access.calendar(clinicId, link.id)).listCalendars();
    } catch (err) {
      if (await this.access.brokenBy(clinicId, link, err)) throw new AppError(409, 'integration_broken', 'Google access was revoked or expired: connect the calendar again');
      throw new AppError(502, 'google_unavailable', 'Google Calendar did not answer; try again in a moment');
    }
  }

  /** Every link the caller may see: their own, or the clinic's for admins. */
  async list(ctx: TenantContext) {
    const manage = can(ctx.actor, 'calendar:manage');
    if (!manage && !can(ctx.actor, 'calendar:connect')) throw forbidden();
    this.requireConfigured();
    const all = await this.access.connections.list(ctx.clinicId, { provider: PROVIDER, ...(manage ? {} : { ownerUserId: actorUserId(ctx) ?? '' }) });
    if (all.length === 0) return { items: [] };
    const data = this.data(ctx.clinicId);
    const ids = all.map((c) => c.id);
    const [rows, conflicts] = await Promise.all([
      data.select(googleCalendarSyncs, inArray(googleCalendarSyncs.connectionId, ids)),
      data.pick({ connectionId: googleCalendarEvents.connectionId }, googleCalendarEvents, inArray(googleCalendarEvents.connectionId, ids), isNotNull(googleCalendarEvents.conflict)),
    ]);
    return { items: all.map((c) => this.view(c, rows.filter((r) => r.connectionId === c.id), conflicts.filter((x) => x.connectionId === c.id).length)) };
  }

  view(c: ConnectionView, rows: SyncRow[], conflicts: number) {
    const times = rows.map((r) => r.lastSyncAt?.getTime() ?? 0).filter((t) => t > 0);
    return {
      id: c.id,
      ownerUserId: c.ownerUserId,
      status: c.status,
      lastError: c.lastError,
      lastErrorAt: c.lastErrorAt?.toISOString() ?? null,
      calendarId: rows.find((r) => r.target)?.calendarId ?? null,
      busyCalendarIds: rows.filter((r) => r.busy).map((r) => r.calendarId),
      lastSyncAt: times.length ? new Date(Math.max(...times)).toISOString() : null,
      errorCount: rows.reduce((n, r) => n + r.errorCount, 0),
      conflicts,
      calendars: rows.map((r) => ({
        calendarId: r.calendarId,
        summary: r.summary,
        target: r.target,
        busy: r.busy,
        lastSyncAt: r.lastSyncAt?.toISOString() ?? null,
        errorCount: r.errorCount,
        lastError: r.lastError,
        channelExpiresAt: r.channelExpiresAt?.toISOString() ?? null,
      })),
    };
  }

  /** Chooses the target calendar and the busy ones; each must be one of the professional's (and the target writable). */
  async update(ctx: TenantContext, id: string, patch: z.infer<typeof integrationPatch>) {
    const link = await this.linkFor(ctx, id);
    this.requireConfigured();
    const rows = await this.data(ctx.clinicId).select(googleCalendarSyncs, eq(googleCalendarSyncs.connectionId, link.id));
    const choice = {
      calendarId: patch.calendarId === undefined ? (rows.find((r) => r.target)?.calendarId ?? null) : patch.calendarId,
      busyCalendarIds: patch.busyCalendarIds ?? rows.filter((r) => r.busy).map((r) => r.calendarId),
    };
    const list = await this.listRemote(ctx.clinicId, link);
    const known = new Map(list.map((c) => [c.id, c]));
    const foreign = [choice.calendarId, ...choice.busyCalendarIds].filter((c): c is string => c !== null && !known.has(c));
    if (foreign.length > 0) throw new AppError(422, 'unknown_calendar', 'These calendars are not among the professional’s Google calendars', { calendarIds: foreign });
    if (choice.calendarId && !WRITABLE.has(known.get(choice.calendarId)?.accessRole ?? '')) throw new AppError(422, 'calendar_read_only', 'Appointments can only go to a calendar the professional may write to');
    await this.choose(ctx.clinicId, link, choice, list);
    const [after] = (await this.list(ctx)).items.filter((i) => i.id === link.id);
    return after;
  }

  /** Stores the choice: new calendars watched and fully synced, dropped ones stopped and removed with their busy blocks. */
  private async choose(clinicId: string, link: ConnectionView, choice: { calendarId: string | null; busyCalendarIds: string[] }, list: CalendarListEntry[]) {
    const data = this.data(clinicId);
    const wanted = [...new Set([...(choice.calendarId ? [choice.calendarId] : []), ...choice.busyCalendarIds])];
    const client = await this.access.calendar(clinicId, link.id);
    const dropped = await data.select(googleCalendarSyncs, eq(googleCalendarSyncs.connectionId, link.id), wanted.length ? notInArray(googleCalendarSyncs.calendarId, wanted) : undefined);
    for (const row of dropped) if (row.channelId && row.channelResourceId) await this.sync.stopChannel(client, { id: row.channelId, resourceId: row.channelResourceId });
    if (dropped.length) await data.delete(googleCalendarSyncs, inArray(googleCalendarSyncs.id, dropped.map((r) => r.id)));
    const byId = new Map(list.map((c) => [c.id, c]));
    const before = new Map((await data.select(googleCalendarSyncs, eq(googleCalendarSyncs.connectionId, link.id))).map((r) => [r.calendarId, r]));
    for (const calendarId of wanted) {
      const flags = { target: calendarId === choice.calendarId, busy: choice.busyCalendarIds.includes(calendarId), updatedAt: new Date() };
      const [row] = await data
        .insert(googleCalendarSyncs, { connectionId: link.id, professionalId: link.ownerUserId as string, calendarId, summary: byId.get(calendarId)?.summary ?? null, timeZone: byId.get(calendarId)?.timeZone ?? null, ...flags })
        .onConflictDoUpdate({ target: [googleCalendarSyncs.connectionId, googleCalendarSyncs.calendarId], set: flags })
        .returning();
      if (!row) continue;
      if (!row.channelId) await this.watch(clinicId, row, client);
      // New, or counting as busy only now: read in full (its busy blocks were never kept); the others keep their token.
      const wasBusy = before.get(calendarId)?.busy ?? false;
      if (!before.has(calendarId) || (flags.busy && !wasBusy)) {
        await data.update(googleCalendarSyncs, { syncToken: null }, eq(googleCalendarSyncs.id, row.id));
        await this.sync.enqueue(clinicId, row.id);
      }
    }
    await this.calendars.invalidate(clinicId, [link.ownerUserId as string]);
  }

  /** Queues a sync of every calendar of the link now. */
  async syncNow(ctx: TenantContext, id: string) {
    const link = await this.linkFor(ctx, id);
    this.requireConfigured();
    if (link.status === 'broken') throw new AppError(409, 'integration_broken', 'Google access was revoked or expired: connect the calendar again');
    const rows = await this.data(ctx.clinicId).select(googleCalendarSyncs, eq(googleCalendarSyncs.connectionId, link.id));
    for (const row of rows) await this.sync.enqueue(ctx.clinicId, row.id, { requestId: ctx.requestId });
    return { queued: rows.length };
  }

  /** Stops the channels, revokes the grant, removes the link and everything synced through it. */
  async remove(ctx: TenantContext, id: string) {
    const link = await this.linkFor(ctx, id);
    this.requireConfigured();
    const data = this.data(ctx.clinicId);
    const rows = await data.select(googleCalendarSyncs, eq(googleCalendarSyncs.connectionId, link.id));
    if (link.status !== 'broken') {
      const client = await this.access.calendar(ctx.clinicId, link.id);
      for (const row of rows) if (row.channelId && row.channelResourceId) await this.sync.stopChannel(client, { id: row.channelId, resourceId: row.channelResourceId });
      await this.access.revoke(ctx.clinicId, link.id);
    }
    this.access.forget(link.id);
    // Sync rows, busy blocks and event links go with the connection (foreign keys, on delete cascade).
    await this.access.connections.remove(ctx.clinicId, link.id);
    await this.access.announce(ctx.clinicId, ctx.actor, { id: link.id, ownerUserId: link.ownerUserId ?? '', status: 'removed' }, 'google_calendar.disconnected', ctx.requestId);
    await this.calendars.invalidate(ctx.clinicId, [link.ownerUserId ?? '']);
  }

  /** Appointments whose Google event a professional moved or deleted, for the receptionist to settle. */
  async conflicts(ctx: TenantContext) {
    const data = this.data(ctx.clinicId);
    const rows = await data
      .pick(
        { appointmentId: googleCalendarEvents.appointmentId, professionalId: googleCalendarEvents.professionalId, conflict: googleCalendarEvents.conflict, startsAt: appointments.startsAt, endsAt: appointments.endsAt, status: appointments.status },
        googleCalendarEvents,
        isNotNull(googleCalendarEvents.conflict),
      )
      .innerJoin(appointments, data.owns(appointments, eq(appointments.id, googleCalendarEvents.appointmentId)))
      .orderBy(appointments.startsAt);
    return {
      items: rows.map((r) => ({
        appointmentId: r.appointmentId,
        professionalId: r.professionalId,
        appointmentStartsAt: r.startsAt.toISOString(),
        appointmentEndsAt: r.endsAt.toISOString(),
        status: r.status,
        kind: r.conflict?.kind ?? 'moved',
        googleStartsAt: r.conflict?.startsAt ?? null,
        googleEndsAt: r.conflict?.endsAt ?? null,
        detectedAt: r.conflict?.detectedAt ?? null,
      })),
    };
  }

  async settings(clinicId: string): Promise<{ eventDetail: GoogleEventDetail }> {
    const [row] = await this.data(clinicId).select(googleCalendarSettings);
    return { eventDetail: row?.eventDetail ?? 'first_name' };
  }

  async updateSettings(clinicId: string, eventDetail: GoogleEventDetail) {
    await this.data(clinicId)
      .insert(googleCalendarSettings, { eventDetail })
      .onConflictDoUpdate({ target: googleCalendarSettings.clinicId, set: { eventDetail, updatedAt: new Date() } });
    return { eventDetail };
  }
}
