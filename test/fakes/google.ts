import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { LocalHttpFake } from './local-http-fake.js';

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'google');
/** Google's own error bodies, as recorded (test/fixtures/google). */
const sample = (name: string) => JSON.parse(readFileSync(path.join(FIXTURES, name), 'utf8')) as { status: number; body: unknown };

export interface FakeEventTime {
  dateTime?: string;
  date?: string;
  timeZone?: string;
}

export interface FakeEvent {
  id: string;
  status: 'confirmed' | 'tentative' | 'cancelled';
  etag: string;
  summary?: string;
  description?: string;
  start?: FakeEventTime;
  end?: FakeEventTime;
  transparency?: 'opaque' | 'transparent';
  recurringEventId?: string;
  extendedProperties?: { private?: Record<string, string> };
  /** Change counter: what an incremental sync returns is what changed after its token. */
  seq: number;
}

interface FakeCalendar {
  id: string;
  summary: string;
  primary: boolean;
  accessRole: string;
  timeZone: string;
  events: Map<string, FakeEvent>;
}

interface Channel {
  id: string;
  resourceId: string;
  calendarId: string;
  address: string;
  token: string;
  expiration: number;
  messageNumber: number;
  stopped: boolean;
}

type Op = 'insert' | 'patch' | 'delete' | 'get' | 'list' | 'watch' | 'stop' | 'token' | 'calendarList' | 'freebusy' | 'revoke';

/**
 * Google's OAuth endpoints and Calendar v3 on 127.0.0.1, speaking the real protocol (paths, query
 * parameters, error bodies recorded from Google): consent page, token endpoint (authorization code,
 * refresh, invalid_grant), revoke, calendarList, events list with pages and sync tokens (410 when
 * they are invalidated), insert/get/patch/delete (etag 412, 409 for a taken id, 410 for a deleted
 * one), watch/stop, freeBusy; and push notifications sent to a channel's address.
 *
 * Recurring events are stored as the instances Google returns with `singleEvents=true`
 * (`addRecurring`): the fake does not expand RRULEs itself.
 */
export class FakeGoogle extends LocalHttpFake {
  protected readonly server: Server;
  readonly calendars = new Map<string, FakeCalendar>();
  readonly channels = new Map<string, Channel>();
  /** Refresh token -> still valid. */
  private readonly refreshTokens = new Map<string, boolean>();
  private readonly accessTokens = new Map<string, string>();
  private readonly codes = new Map<string, { refreshToken: string; redirectUri: string }>();
  private readonly syncTokens = new Map<string, { calendarId: string; seq: number }>();
  private seq = 0;
  /** Events per page of events.list (Google's default is 250, at most maxResults). */
  pageSize = 250;
  /** Requests by operation, to count what our side did. */
  readonly calls: Record<string, number> = {};
  /** Time spent inside the fake's handlers (benchmarks subtract it: it is Google's share, not ours). */
  handlerMs = 0;
  readonly requests: { op: Op; method: string; path: string; query: Record<string, string>; body: unknown; headers: IncomingMessage['headers'] }[] = [];
  private readonly faults: { op: Op; kind: 'drop' | number }[] = [];
  /** How a push notification reaches the app (default: fetch to the channel's address). */
  deliver: (address: string, headers: Record<string, string>) => Promise<{ status: number; body?: unknown }> = async (address, headers) => {
    const res = await fetch(address, { method: 'POST', headers });
    return { status: res.status, body: await res.json().catch(() => undefined) };
  };

  constructor() {
    super();
    this.server = createServer((req, res) => void this.route(req, res));
  }

  // ---- Test controls ----

  /** The app's settings pointing at this fake (the public API address is only recorded in channels). */
  env(): Record<string, string> {
    return {
      GOOGLE_CLIENT_ID: 'operabase-test.apps.googleusercontent.com',
      GOOGLE_CLIENT_SECRET: 'GOCSPX-test-secret',
      GOOGLE_REDIRECT_URI: 'https://api.clinic.test/api/calendar/google/callback',
      GOOGLE_API_ROOT_URL: `${this.url}/`,
      GOOGLE_OAUTH_AUTH_URL: `${this.url}/o/oauth2/v2/auth`,
      GOOGLE_OAUTH_TOKEN_URL: `${this.url}/token`,
      PUBLIC_API_URL: 'https://api.clinic.test',
    };
  }

  /** A Google account with its calendars; the first is primary. */
  addCalendar(id: string, opts: { summary?: string; accessRole?: string; timeZone?: string; primary?: boolean } = {}) {
    this.calendars.set(id, { id, summary: opts.summary ?? id, primary: opts.primary ?? this.calendars.size === 0, accessRole: opts.accessRole ?? 'owner', timeZone: opts.timeZone ?? 'America/Sao_Paulo', events: new Map() });
  }

  private calendar(id: string) {
    const cal = this.calendars.get(id);
    if (!cal) throw new Error(`fake google: no calendar ${id}`);
    return cal;
  }

  private touch(event: FakeEvent) {
    event.seq = ++this.seq;
    event.etag = `"${Date.now()}${this.seq}"`;
  }

  /** An event the professional made in Google. */
  addEvent(calendarId: string, event: Partial<FakeEvent> & { start: FakeEventTime; end: FakeEventTime }): FakeEvent {
    const stored: FakeEvent = { id: randomBytes(13).toString('hex'), status: 'confirmed', etag: '', ...event, seq: 0 };
    this.touch(stored);
    this.calendar(calendarId).events.set(stored.id, stored);
    return stored;
  }

  /** A weekly series as `singleEvents=true` lists it: one instance per week, ids `<base>_<start in UTC basic format>`. */
  addRecurring(calendarId: string, base: { id: string; start: Date; minutes: number; weeks: number; summary?: string }): FakeEvent[] {
    const out: FakeEvent[] = [];
    for (let i = 0; i < base.weeks; i++) {
      const start = new Date(base.start.getTime() + i * 7 * 86_400_000);
      const stamp = start.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
      out.push(this.addEvent(calendarId, { id: `${base.id}_${stamp}`, recurringEventId: base.id, summary: base.summary, start: { dateTime: start.toISOString() }, end: { dateTime: new Date(start.getTime() + base.minutes * 60_000).toISOString() } }));
    }
    return out;
  }

  /** The professional edits an event in Google (a move, a status change: `cancelled` is a deletion). */
  changeEvent(calendarId: string, id: string, change: Partial<Omit<FakeEvent, 'id' | 'seq' | 'etag'>>): FakeEvent {
    const event = this.calendar(calendarId).events.get(id);
    if (!event) throw new Error(`fake google: no event ${id}`);
    Object.assign(event, change);
    this.touch(event);
    return event;
  }

  events(calendarId: string): FakeEvent[] {
    return [...this.calendar(calendarId).events.values()];
  }

  /** Every sync token stops working: the next incremental list is a 410 fullSyncRequired. */
  expireSyncTokens() {
    this.syncTokens.clear();
  }

  /** The user revoked access (or changed password): refreshing answers invalid_grant, API calls 401. */
  revokeAll() {
    for (const token of this.refreshTokens.keys()) this.refreshTokens.set(token, false);
    this.accessTokens.clear();
  }

  /** The next `op` is done but its answer is lost (the connection is cut), or answered with `status`. */
  fault(op: Op, kind: 'drop' | number) {
    this.faults.push({ op, kind });
  }

  /** Google posts a notification for the channel, to its address, with its token and the next message number. */
  notify(channelId: string, state: 'sync' | 'exists' | 'not_exists' = 'exists', override: { token?: string; messageNumber?: number } = {}) {
    const channel = this.channels.get(channelId);
    if (!channel) throw new Error(`fake google: no channel ${channelId}`);
    channel.messageNumber = override.messageNumber ?? channel.messageNumber + 1;
    return this.deliver(channel.address, this.pushHeaders(channel, state, override.token));
  }

  pushHeaders(channel: Channel, state: string, token = channel.token): Record<string, string> {
    return {
      'Content-Length': '0',
      'User-Agent': 'APIs-Google; (+https://developers.google.com/webmasters/APIs-Google.html)',
      'X-Goog-Channel-ID': channel.id,
      'X-Goog-Channel-Token': token,
      'X-Goog-Channel-Expiration': new Date(channel.expiration).toUTCString(),
      'X-Goog-Resource-ID': channel.resourceId,
      'X-Goog-Resource-URI': `https://www.googleapis.com/calendar/v3/calendars/${encodeURIComponent(channel.calendarId)}/events?alt=json`,
      'X-Goog-Resource-State': state,
      'X-Goog-Message-Number': String(channel.messageNumber),
    };
  }

  activeChannels(calendarId?: string): Channel[] {
    return [...this.channels.values()].filter((c) => !c.stopped && (!calendarId || c.calendarId === calendarId));
  }

  /** What the consent page does when the user accepts: a code for `redirectUri` (as the browser would be sent). */
  consent(authUrl: string): { redirect: string; code: string; state: string } {
    const url = new URL(authUrl);
    const redirectUri = url.searchParams.get('redirect_uri') ?? '';
    const code = `4/0A${randomBytes(16).toString('base64url')}`;
    this.codes.set(code, { refreshToken: `1//0g${randomBytes(24).toString('base64url')}`, redirectUri });
    const state = url.searchParams.get('state') ?? '';
    const redirect = new URL(redirectUri);
    redirect.searchParams.set('state', state);
    redirect.searchParams.set('code', code);
    redirect.searchParams.set('scope', url.searchParams.get('scope') ?? '');
    return { redirect: `${redirect.pathname}${redirect.search}`, code, state };
  }

  // ---- HTTP ----

  private async route(req: IncomingMessage, res: ServerResponse) {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const t0 = performance.now();
    try {
      this.dispatch(req, res, Buffer.concat(chunks).toString('utf8'));
    } finally {
      this.handlerMs += performance.now() - t0;
    }
  }

  private dispatch(req: IncomingMessage, res: ServerResponse, raw: string) {
    const url = new URL(req.url ?? '/', 'http://fake');
    const form = (req.headers['content-type'] ?? '').includes('application/x-www-form-urlencoded');
    const body: Record<string, unknown> = raw ? (form ? Object.fromEntries(new URLSearchParams(raw)) : (JSON.parse(raw) as Record<string, unknown>)) : {};
    const query = Object.fromEntries(url.searchParams);
    const p = url.pathname;
    const send = (status: number, payload?: unknown) => {
      if (payload === undefined) res.writeHead(status).end();
      else res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8' }).end(JSON.stringify(payload));
    };
    const error = (name: string) => {
      const s = sample(name);
      send(s.status, s.body);
    };
    const handle = (op: Op, run: () => void) => {
      this.calls[op] = (this.calls[op] ?? 0) + 1;
      this.requests.push({ op, method: req.method ?? '', path: p, query, body, headers: req.headers });
      const i = this.faults.findIndex((f) => f.op === op);
      const fault = i >= 0 ? this.faults.splice(i, 1)[0] : undefined;
      if (typeof fault?.kind === 'number') return send(fault.kind, { error: { code: fault.kind, message: 'Backend Error', errors: [{ reason: 'backendError' }] } });
      if (fault?.kind === 'drop') {
        // Done, but the answer never arrives: the client sees a dead connection.
        res.writeHead = (() => res) as never;
        res.end = (() => {
          req.socket.destroy();
          return res;
        }) as never;
      }
      run();
    };

    if (req.method === 'POST' && p === '/token') return handle('token', () => this.token(body, send));
    if (req.method === 'POST' && p === '/revoke') {
      return handle('revoke', () => {
        const token = String(body.token ?? query.token ?? '');
        if (this.refreshTokens.has(token)) this.refreshTokens.set(token, false);
        send(200, {});
      });
    }

    const auth = req.headers.authorization?.replace(/^Bearer /, '') ?? '';
    if (p.startsWith('/calendar/v3/') && !this.accessTokens.has(auth)) return error('error.401.invalid-credentials.json');

    if (req.method === 'GET' && p === '/calendar/v3/users/me/calendarList') {
      return handle('calendarList', () =>
        send(200, { kind: 'calendar#calendarList', items: [...this.calendars.values()].map((c) => ({ kind: 'calendar#calendarListEntry', id: c.id, summary: c.summary, primary: c.primary || undefined, accessRole: c.accessRole, timeZone: c.timeZone })) }),
      );
    }
    if (req.method === 'POST' && p === '/calendar/v3/channels/stop') {
      return handle('stop', () => {
        const channel = this.channels.get(String(body.id));
        if (!channel || channel.resourceId !== body.resourceId || channel.stopped) return error('events.get.error.404.json');
        channel.stopped = true;
        send(204);
      });
    }
    if (req.method === 'POST' && p === '/calendar/v3/freeBusy') {
      return handle('freebusy', () => this.freeBusy(body, send));
    }
    const m = /^\/calendar\/v3\/calendars\/([^/]+)\/events(?:\/([^/]+))?$/.exec(p);
    const cal = m ? this.calendars.get(decodeURIComponent(m[1] as string)) : undefined;
    if (!m || !cal) return error('events.get.error.404.json');
    const eventId = m[2] ? decodeURIComponent(m[2]) : undefined;

    if (req.method === 'GET' && !eventId) return handle('list', () => this.list(cal, query, send, error));
    if (req.method === 'POST' && eventId === 'watch') {
      return handle('watch', () => {
        const ttl = Number((body.params as { ttl?: string } | undefined)?.ttl ?? 604_800);
        const channel: Channel = { id: String(body.id), resourceId: randomBytes(10).toString('hex'), calendarId: cal.id, address: String(body.address), token: String(body.token ?? ''), expiration: Date.now() + ttl * 1000, messageNumber: 0, stopped: false };
        if (!channel.address.startsWith('https://')) return send(400, { error: { code: 400, message: 'WebHook callback must be HTTPS' } });
        this.channels.set(channel.id, channel);
        send(200, { kind: 'api#channel', id: channel.id, resourceId: channel.resourceId, resourceUri: `https://www.googleapis.com/calendar/v3/calendars/${encodeURIComponent(cal.id)}/events?alt=json`, token: channel.token, expiration: String(channel.expiration) });
      });
    }
    if (req.method === 'POST' && !eventId) {
      return handle('insert', () => {
        const id = typeof body.id === 'string' ? body.id : randomBytes(13).toString('hex');
        if (cal.events.has(id)) return send(409, { error: { code: 409, message: 'The requested identifier already exists.', errors: [{ domain: 'global', reason: 'duplicate' }] } });
        const event: FakeEvent = { ...(body as Partial<FakeEvent>), id, status: (body.status as FakeEvent['status']) ?? 'confirmed', etag: '', seq: 0 };
        this.touch(event);
        cal.events.set(id, event);
        send(200, this.present(event));
      });
    }
    const event = eventId ? cal.events.get(eventId) : undefined;
    if (req.method === 'GET') return handle('get', () => (event ? send(200, this.present(event)) : error('events.get.error.404.json')));
    if (req.method === 'PATCH') {
      return handle('patch', () => {
        if (!event) return error('events.get.error.404.json');
        if (req.headers['if-match'] && req.headers['if-match'] !== event.etag) return error('events.patch.error.412-etag.json');
        const { extendedProperties, ...rest } = body as Partial<FakeEvent>;
        Object.assign(event, rest);
        // Private properties merge key by key on a patch.
        if (extendedProperties?.private) event.extendedProperties = { private: { ...event.extendedProperties?.private, ...extendedProperties.private } };
        this.touch(event);
        send(200, this.present(event));
      });
    }
    if (req.method === 'DELETE') {
      return handle('delete', () => {
        if (!event) return error('events.get.error.404.json');
        if (event.status === 'cancelled') return error('events.delete.error.410-already-deleted.json');
        event.status = 'cancelled';
        this.touch(event);
        send(204);
      });
    }
    send(404, { error: { code: 404, message: 'Not Found' } });
  }

  private present(e: FakeEvent) {
    const { seq: _seq, ...rest } = e;
    return { kind: 'calendar#event', ...rest, updated: new Date().toISOString() };
  }

  private token(body: Record<string, unknown>, send: (status: number, payload?: unknown) => void) {
    const invalid = () => send(400, sample('oauth.token.error.invalid_grant.json').body);
    let refreshToken: string;
    if (body.grant_type === 'authorization_code') {
      const issued = this.codes.get(String(body.code));
      if (!issued || issued.redirectUri !== body.redirect_uri) return invalid();
      this.codes.delete(String(body.code));
      refreshToken = issued.refreshToken;
      this.refreshTokens.set(refreshToken, true);
    } else if (body.grant_type === 'refresh_token') {
      refreshToken = String(body.refresh_token);
      if (!this.refreshTokens.get(refreshToken)) return invalid();
    } else return send(400, { error: 'unsupported_grant_type' });
    const accessToken = `ya29.${randomBytes(16).toString('base64url')}`;
    this.accessTokens.set(accessToken, refreshToken);
    send(200, {
      access_token: accessToken,
      expires_in: 3599,
      scope: 'https://www.googleapis.com/auth/calendar.events https://www.googleapis.com/auth/calendar.readonly',
      token_type: 'Bearer',
      ...(body.grant_type === 'authorization_code' ? { refresh_token: refreshToken } : {}),
    });
  }

  private list(cal: FakeCalendar, q: Record<string, string>, send: (status: number, payload?: unknown) => void, error: (name: string) => void) {
    const size = Math.min(this.pageSize, Number(q.maxResults ?? 250));
    let page: { offset: number; seq: number; since?: number };
    if (q.pageToken) page = JSON.parse(Buffer.from(q.pageToken, 'base64url').toString('utf8')) as typeof page;
    else if (q.syncToken) {
      const known = this.syncTokens.get(q.syncToken);
      if (!known || known.calendarId !== cal.id) return error('events.list.error.410-full-sync-required.json');
      page = { offset: 0, seq: this.seq, since: known.seq };
    } else page = { offset: 0, seq: this.seq };
    const overlap = (e: FakeEvent) => {
      const start = e.start?.dateTime ?? e.start?.date;
      const end = e.end?.dateTime ?? e.end?.date;
      return (!q.timeMax || !start || new Date(start) < new Date(q.timeMax)) && (!q.timeMin || !end || new Date(end) > new Date(q.timeMin));
    };
    const [key, value] = (q.privateExtendedProperty ?? '').split('=');
    const matching = [...cal.events.values()]
      .filter((e) => e.seq <= page.seq)
      .filter((e) =>
        page.since !== undefined
          ? e.seq > page.since
          : (q.showDeleted === 'true' || e.status !== 'cancelled') && overlap(e) && (!key || e.extendedProperties?.private?.[key] === value),
      )
      .sort((a, b) => a.seq - b.seq);
    const items = matching.slice(page.offset, page.offset + size);
    const more = page.offset + size < matching.length;
    const out: Record<string, unknown> = { kind: 'calendar#events', summary: cal.summary, timeZone: cal.timeZone, accessRole: cal.accessRole, items: items.map((e) => this.present(e)) };
    if (more) out.nextPageToken = Buffer.from(JSON.stringify({ ...page, offset: page.offset + size })).toString('base64url');
    else if (!key) {
      const token = `CPj${randomUUID().replace(/-/g, '')}`;
      this.syncTokens.set(token, { calendarId: cal.id, seq: page.seq });
      out.nextSyncToken = token;
    }
    send(200, out);
  }

  private freeBusy(body: Record<string, unknown>, send: (status: number, payload?: unknown) => void) {
    const min = new Date(String(body.timeMin));
    const max = new Date(String(body.timeMax));
    const calendars: Record<string, unknown> = {};
    for (const { id } of (body.items as { id: string }[]) ?? []) {
      const cal = this.calendars.get(id);
      if (!cal) {
        calendars[id] = { errors: [{ domain: 'global', reason: 'notFound' }], busy: [] };
        continue;
      }
      calendars[id] = {
        busy: [...cal.events.values()]
          .filter((e) => e.status !== 'cancelled' && e.transparency !== 'transparent' && e.start?.dateTime && e.end?.dateTime)
          .filter((e) => new Date(e.start?.dateTime as string) < max && new Date(e.end?.dateTime as string) > min)
          .map((e) => ({ start: e.start?.dateTime, end: e.end?.dateTime })),
      };
    }
    send(200, { kind: 'calendar#freeBusy', timeMin: min.toISOString(), timeMax: max.toISOString(), calendars });
  }
}
