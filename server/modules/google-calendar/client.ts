import { calendar, type calendar_v3 } from '@googleapis/calendar';
import type { OAuth2Client } from 'google-auth-library';
import type { CalendarChannel, CalendarEvent, CalendarEventInput, CalendarListEntry, CalendarPage, CalendarProvider, ProviderError } from '../integrations/providers.js';

const TIMEOUT_MS = 15_000;

/** A gaxios/OAuth failure as a ProviderError: the callers decide between retry, full sync and "broken". */
export function providerError(err: unknown): ProviderError {
  const e = err as { code?: unknown; status?: number; response?: { status?: number; data?: { error?: unknown } }; message?: string };
  const status = e.response?.status ?? e.status ?? (typeof e.code === 'number' ? e.code : undefined);
  const oauthError = typeof e.response?.data?.error === 'string' ? e.response.data.error : undefined;
  const invalidGrant = oauthError === 'invalid_grant' || e.message === 'invalid_grant';
  const code: ProviderError['code'] =
    invalidGrant || status === 401
      ? 'unauthorized'
      : status === 404
        ? 'not_found'
        : status === 410
          ? 'sync_token_expired'
          : status === 412
            ? 'precondition_failed'
            : status === 409
              ? 'already_exists'
              : status === 429 || (status === 403 && /rate|quota/i.test(e.message ?? ''))
                ? 'rate_limited'
                : 'unavailable';
  // The message names the class only: Google's texts may echo ids, never tokens, but stay out of logs.
  const error = new Error(invalidGrant ? 'invalid_grant' : `google_${code}${status ? `_${status}` : ''}`) as ProviderError;
  error.code = code;
  error.status = status;
  error.retryable = code === 'unavailable' || code === 'rate_limited';
  return error;
}

export const isProviderError = (err: unknown, code: ProviderError['code']): boolean => (err as Partial<ProviderError>)?.code === code && err instanceof Error && 'retryable' in err;

const wrap = async <T>(call: () => Promise<T>): Promise<T> => {
  try {
    return await call();
  } catch (err) {
    throw providerError(err);
  }
};

const fromGoogle = (e: calendar_v3.Schema$Event): CalendarEvent => ({
  id: e.id ?? '',
  status: (e.status as CalendarEvent['status']) ?? 'confirmed',
  etag: e.etag ?? undefined,
  summary: e.summary ?? undefined,
  start: e.start ? { dateTime: e.start.dateTime ?? undefined, date: e.start.date ?? undefined, timeZone: e.start.timeZone ?? undefined } : undefined,
  end: e.end ? { dateTime: e.end.dateTime ?? undefined, date: e.end.date ?? undefined, timeZone: e.end.timeZone ?? undefined } : undefined,
  transparency: (e.transparency as CalendarEvent['transparency']) ?? undefined,
  privateProperties: (e.extendedProperties?.private as Record<string, string> | undefined) ?? undefined,
  updated: e.updated ?? undefined,
});

const toGoogle = (e: Partial<CalendarEventInput> & { id?: string }): calendar_v3.Schema$Event => ({
  ...(e.id ? { id: e.id } : {}),
  ...(e.summary !== undefined ? { summary: e.summary } : {}),
  ...(e.description !== undefined ? { description: e.description } : {}),
  ...(e.start ? { start: e.start } : {}),
  ...(e.end ? { end: e.end } : {}),
  ...(e.status ? { status: e.status } : {}),
  ...(e.transparency ? { transparency: e.transparency } : {}),
  ...(e.privateProperties ? { extendedProperties: { private: e.privateProperties } } : {}),
});

/**
 * Google Calendar v3 through the official client, authorised by the connection's OAuth client
 * (which refreshes its access token by itself). `rootUrl` is the only difference with a fake.
 */
export class GoogleCalendarClient implements CalendarProvider {
  readonly provider = 'google_calendar' as const;
  private readonly api: calendar_v3.Calendar;

  constructor(auth: OAuth2Client, rootUrl: string) {
    // googleapis-common bundles its own google-auth-library typings: the instance is the same class.
    this.api = calendar({ version: 'v3', auth: auth as never, rootUrl, timeout: TIMEOUT_MS });
  }

  listEvents(calendarId: string, opts: Parameters<CalendarProvider['listEvents']>[1]): Promise<CalendarPage> {
    return wrap(async () => {
      const params: calendar_v3.Params$Resource$Events$List =
        'syncToken' in opts
          ? { calendarId, syncToken: opts.syncToken, pageToken: opts.pageToken, singleEvents: true, maxResults: 2500 }
          : {
              calendarId,
              timeMin: opts.timeMin?.toISOString(),
              timeMax: opts.timeMax?.toISOString(),
              pageToken: opts.pageToken,
              privateExtendedProperty: opts.privateProperty ? [opts.privateProperty] : undefined,
              singleEvents: true,
              // A full sync must also see cancelled instances of recurring events.
              showDeleted: !opts.privateProperty,
              maxResults: 2500,
            };
      const { data } = await this.api.events.list(params);
      return {
        events: (data.items ?? []).map(fromGoogle),
        nextPageToken: data.nextPageToken ?? undefined,
        nextSyncToken: data.nextSyncToken ?? undefined,
        timeZone: data.timeZone ?? undefined,
      };
    });
  }

  insertEvent(calendarId: string, event: CalendarEventInput & { id?: string }): Promise<CalendarEvent> {
    return wrap(async () => fromGoogle((await this.api.events.insert({ calendarId, sendUpdates: 'none', requestBody: toGoogle(event) })).data));
  }

  getEvent(calendarId: string, eventId: string): Promise<CalendarEvent> {
    return wrap(async () => fromGoogle((await this.api.events.get({ calendarId, eventId })).data));
  }

  patchEvent(calendarId: string, eventId: string, patch: Partial<CalendarEventInput>, opts: { etag?: string } = {}): Promise<CalendarEvent> {
    return wrap(async () => {
      const headers = opts.etag ? { 'If-Match': opts.etag } : undefined;
      return fromGoogle((await this.api.events.patch({ calendarId, eventId, sendUpdates: 'none', requestBody: toGoogle(patch) }, { headers })).data);
    });
  }

  async deleteEvent(calendarId: string, eventId: string): Promise<void> {
    try {
      await wrap(() => this.api.events.delete({ calendarId, eventId, sendUpdates: 'none' }));
    } catch (err) {
      // 404 never existed, 410 already deleted: either way it is gone, which is what we asked.
      if (isProviderError(err, 'not_found') || isProviderError(err, 'sync_token_expired')) return;
      throw err;
    }
  }

  watch(calendarId: string, channel: { id: string; address: string; token: string; ttlSeconds: number }): Promise<CalendarChannel> {
    return wrap(async () => {
      const { data } = await this.api.events.watch({
        calendarId,
        requestBody: { id: channel.id, type: 'web_hook', address: channel.address, token: channel.token, params: { ttl: String(channel.ttlSeconds) } },
      });
      return { id: data.id ?? channel.id, resourceId: data.resourceId ?? '', expiresAt: new Date(Number(data.expiration ?? Date.now() + channel.ttlSeconds * 1000)) };
    });
  }

  async stop(channel: { id: string; resourceId: string }): Promise<void> {
    try {
      await wrap(() => this.api.channels.stop({ requestBody: { id: channel.id, resourceId: channel.resourceId } }));
    } catch (err) {
      // A channel that already expired or was stopped is what we wanted.
      if (!isProviderError(err, 'not_found')) throw err;
    }
  }

  freeBusy(input: { timeMin: Date; timeMax: Date; timeZone: string; calendarIds: string[] }) {
    return wrap(async () => {
      const { data } = await this.api.freebusy.query({
        requestBody: { timeMin: input.timeMin.toISOString(), timeMax: input.timeMax.toISOString(), timeZone: input.timeZone, items: input.calendarIds.map((id) => ({ id })) },
      });
      const out: Record<string, { busy: { start: Date; end: Date }[]; error?: string }> = {};
      for (const [id, cal] of Object.entries(data.calendars ?? {})) {
        out[id] = { busy: (cal.busy ?? []).map((b) => ({ start: new Date(b.start ?? 0), end: new Date(b.end ?? 0) })), error: cal.errors?.[0]?.reason ?? undefined };
      }
      return out;
    });
  }

  listCalendars(): Promise<CalendarListEntry[]> {
    return wrap(async () => {
      const out: CalendarListEntry[] = [];
      let pageToken: string | undefined;
      do {
        const { data } = await this.api.calendarList.list({ pageToken, maxResults: 250 });
        for (const c of data.items ?? []) {
          out.push({ id: c.id ?? '', summary: c.summaryOverride ?? c.summary ?? c.id ?? '', primary: c.primary === true, accessRole: c.accessRole ?? 'reader', timeZone: c.timeZone ?? undefined });
        }
        pageToken = data.nextPageToken ?? undefined;
      } while (pageToken);
      return out;
    });
  }
}
