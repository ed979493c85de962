import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { SignJWT } from 'jose';
import { LocalHttpFake } from './local-http-fake.js';

/**
 * FakeEvolution: an Evolution API v2 gateway on 127.0.0.1, speaking the shapes of the samples in
 * test/fixtures/evolution/ (paths, status codes, bodies, `apikey` header). Our EvolutionClient talks
 * to it by base URL alone.
 *
 *   const evo = await new FakeEvolution({ version: '2.3' }).start();   // evo.url, evo.apiKey (global key)
 *   evo.version = '2.4-unlicensed'      // '2.2' | '2.3' | '2.4' | '2.4-unlicensed' (every route but `/` -> 503 LICENSE_REQUIRED)
 *   evo.instances.get(name)             // { name, id, token, state, ownerJid, webhook, settings }: in memory
 *   evo.requests                        // every request: { method, path, route, query, headers, body }
 *   evo.sent / evo.sentCount(name)      // every message the gateway accepted (it "went out"), per instance
 *   evo.reads, evo.presences            // markMessageAsRead / sendPresence calls received
 *   evo.notOnWhatsapp.add('5511900000000')   // sends and whatsappNumbers answer `exists: false`
 *   evo.media.set(keyId, { mimetype, base64, fileName? })   // what getBase64FromMediaMessage returns
 *   evo.stored                          // the gateway's database: messages sent, and received (`deliver`ed messages.upsert), that chat/findMessages searches
 *   evo.savesMessages = false           // DATABASE_SAVE_DATA_NEW_MESSAGE=false: nothing more is stored
 *
 * Routes are named by their first two path segments: 'instance/create', 'instance/connect',
 * 'instance/connectionState', 'instance/logout', 'instance/delete', 'webhook/set',
 * 'message/sendText', 'message/sendMedia', 'message/sendWhatsAppAudio', 'chat/whatsappNumbers',
 * 'chat/getBase64FromMediaMessage', 'chat/markMessageAsRead', 'chat/sendPresence', 'chat/findMessages'.
 *
 *   evo.failNext(route, { status, body, perform? })   // next call of route answers this; `perform: true` acts first (sent, then 500)
 *   evo.delayNext(route, ms)    // next call acts at once (a send is counted) but answers after `ms`
 *   evo.timeoutNext(route)      // same, answering only after 10 minutes: past any client timeout
 *   evo.cutNext(route)          // next call's connection is closed before the gateway acts on it (it died mid-request)
 *   await evo.down() / evo.up() // an outage: the port refuses connections until up(), instances and logs kept
 *
 * Linking a phone: `connect` moves the instance to `connecting` and answers a QR (a pairing code
 * with `?number=`); `evo.scan(name, { phone })` is the phone scanning it (state `open`);
 * `evo.setState(name, state, statusReason?)` forces any state (a dead session: 'close').
 *
 * Webhooks to the app, as Evolution sends them: `await evo.deliver(name, 'messages.upsert', data, opts)`
 * POSTs the v2 envelope `{event, instance, data, destination, date_time, sender, server_url, apikey}`
 * to the instance's webhook URL (or `opts.url`) with its configured headers. From 2.3 a `jwt_key`
 * header is replaced by `Authorization: Bearer <HS256 JWT {iat, exp: iat+600, app, action}>`
 * signed with it (2.2 sends the headers verbatim); 2.4 adds X-Instance-ID/-Name, X-Event-Type,
 * X-Timestamp. `opts`: `{ url, origin, eventCase: 'upper', jwt: { secret, iat, ttlSeconds }, rawBody, headers }`
 * (`origin`: the app's listening origin, keeping the configured path with its `:ref`).
 * `date_time` is local time mislabelled UTC (3 h behind), as the real gateway writes it.
 * With `evo.autoWebhooks = true` (and `evo.webhookOrigin` to redirect them to a listening app) the fake also emits what the real one would on its own:
 * `qrcode.updated` after a connect, `connection.update` on scan/logout/setState, `send.message`
 * after each send (filtered by the configured events); `await evo.settle()` waits for them.
 */

export type FakeVersion = '2.2' | '2.3' | '2.4' | '2.4-unlicensed';
export type FakeState = 'connecting' | 'open' | 'close' | 'refused';

export interface FakeWebhook {
  url: string;
  headers: Record<string, string>;
  events: string[];
  enabled: boolean;
  byEvents: boolean;
  base64: boolean;
}

export interface FakeInstance {
  name: string;
  id: string;
  token: string;
  state: FakeState;
  ownerJid: string | null;
  webhook: FakeWebhook | null;
  settings: Record<string, unknown>;
}

export interface FakeRequest {
  method: string;
  path: string;
  route: string;
  query: Record<string, string>;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
}

export interface SentRecord {
  instance: string;
  route: string;
  externalId: string;
  number: string;
  /** What the app asked to send (text, media, quoted...). */
  request: Record<string, unknown>;
  /** The message record answered (and emitted as `send.message`). */
  record: Record<string, unknown>;
}

export interface DeliverOptions {
  url?: string;
  /** The app's real origin (`http://127.0.0.1:PORT`), keeping the configured webhook path (its `:ref`). */
  origin?: string;
  eventCase?: 'dotted' | 'upper';
  jwt?: { secret?: string; iat?: number; ttlSeconds?: number };
  rawBody?: string;
  headers?: Record<string, string>;
}

export interface Delivery {
  status: number;
  body: string;
  ms: number;
  /** The answer's Retry-After, when it had one. */
  retryAfter: string | null;
}

interface Answer {
  status: number;
  body: unknown;
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

const FIXTURES = new URL('../fixtures/evolution/', import.meta.url);
const fixture = (name: string): Json => JSON.parse(readFileSync(new URL(name, FIXTURES), 'utf8')) as Json;
const QR_PNG = String(fixture('api.instance.connect.response.qr.json').base64);
const HOLD_FOREVER_MS = 10 * 60_000;

const errorBody = (status: number, error: string, message: unknown[]) => ({ status, error, response: { message } });

/** Evolution's legacy JID rule (createJid): a 13-digit 55 DD 9 XXXXXXXX loses the 9 when DDD >= 31 and the next digit >= 7. */
export function jidOf(number: string): string {
  if (number.includes('@')) return number;
  const digits = number.replace(/\D/g, '');
  if (/^55\d{11}$/.test(digits) && Number(digits.slice(2, 4)) >= 31 && digits[4] === '9' && Number(digits[5]) >= 7) {
    return `${digits.slice(0, 4)}${digits.slice(5)}@s.whatsapp.net`;
  }
  return `${digits}@s.whatsapp.net`;
}

export class FakeEvolution extends LocalHttpFake {
  version: FakeVersion;
  readonly apiKey: string;
  autoWebhooks = false;
  /** Where auto webhooks go instead of the configured URL's origin (the app under test on port 0). */
  webhookOrigin: string | undefined;
  readonly instances = new Map<string, FakeInstance>();
  readonly requests: FakeRequest[] = [];
  readonly sent: SentRecord[] = [];
  readonly reads: { instance: string; readMessages: unknown[] }[] = [];
  readonly presences: { instance: string; number: string; presence: string }[] = [];
  readonly notOnWhatsapp = new Set<string>();
  readonly media = new Map<string, { mimetype: string; base64: string; fileName?: string }>();
  readonly stored: { instance: string; record: Json }[] = [];
  savesMessages = true;
  /** Webhooks the fake emitted on its own (autoWebhooks), with the app's answer. */
  readonly emitted: { event: string; instance: string; status: number }[] = [];
  protected readonly server: Server;
  private readonly faults = new Map<string, (Answer & { perform?: boolean })[]>();
  private readonly holds = new Map<string, number[]>();
  private readonly cuts = new Map<string, true[]>();
  private readonly pending = new Set<Promise<unknown>>();

  constructor(opts: { apiKey?: string; version?: FakeVersion } = {}) {
    super();
    this.apiKey = opts.apiKey ?? `global-${randomUUID()}`;
    this.version = opts.version ?? '2.3';
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => send(res, 500, errorBody(500, 'Internal Server Error', [String(err)])));
    });
  }

  failNext(route: string, answer: { status: number; body?: unknown; perform?: boolean }) {
    this.queue(this.faults, route, { status: answer.status, body: answer.body ?? errorBody(answer.status, 'Error', ['injected']), perform: answer.perform });
  }

  delayNext(route: string, ms: number) {
    this.queue(this.holds, route, ms);
  }

  timeoutNext(route: string) {
    this.delayNext(route, HOLD_FOREVER_MS);
  }

  cutNext(route: string) {
    this.queue(this.cuts, route, true);
  }

  sentCount(instance: string) {
    return this.sent.filter((s) => s.instance === instance).length;
  }

  scan(name: string, opts: { phone?: string } = {}) {
    const instance = this.must(name);
    instance.ownerJid = `${(opts.phone ?? '5511940001234').replace(/\D/g, '')}@s.whatsapp.net`;
    this.setState(name, 'open', 200);
  }

  setState(name: string, state: FakeState, statusReason = state === 'open' ? 200 : 428) {
    const instance = this.must(name);
    instance.state = state;
    const data: Json = { instance: name, state, statusReason };
    if (state === 'open') Object.assign(data, { wuid: instance.ownerJid, profileName: 'Clínica Exemplo', profilePictureUrl: null });
    this.auto(instance, 'connection.update', data);
  }

  /** Waits for the webhooks emitted on their own (autoWebhooks). */
  async settle() {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  async deliver(name: string, event: string, data: unknown, opts: DeliverOptions = {}): Promise<Delivery> {
    const instance = this.must(name);
    const configuredUrl = instance.webhook?.url;
    const url = opts.url ?? (opts.origin && configuredUrl ? `${opts.origin}${new URL(configuredUrl).pathname}` : configuredUrl);
    if (!url) throw new Error(`instance ${name} has no webhook URL`);
    const configured = { ...(instance.webhook?.headers ?? {}) };
    const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': 'axios/1.7.9' };
    const jwtKey = opts.jwt?.secret ?? configured.jwt_key;
    if (this.version !== '2.2' && jwtKey !== undefined) {
      delete configured.jwt_key;
      const iat = opts.jwt?.iat ?? Math.floor(Date.now() / 1000);
      const jwt = await new SignJWT({ app: 'evolution', action: 'webhook' })
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
        .setIssuedAt(iat)
        .setExpirationTime(iat + (opts.jwt?.ttlSeconds ?? 600))
        .sign(new TextEncoder().encode(jwtKey));
      headers.authorization = `Bearer ${jwt}`;
    }
    Object.assign(headers, configured);
    const dotted = event.toLowerCase().replace(/_/g, '.');
    const upper = dotted.replace(/[.-]/g, '_').toUpperCase();
    if (this.version.startsWith('2.4')) {
      Object.assign(headers, { 'x-instance-id': instance.id, 'x-instance-name': name, 'x-event-type': upper, 'x-timestamp': String(Date.now()), 'user-agent': 'EvolutionAPI-Webhook/2.3.7' });
    }
    Object.assign(headers, opts.headers);
    if (dotted === 'messages.upsert') for (const record of Array.isArray(data) ? data : [data]) if (isObject(record)) this.save(name, record);
    const envelope = {
      event: opts.eventCase === 'upper' ? upper : dotted,
      instance: name,
      data,
      destination: url,
      // Local time (America/Sao_Paulo) written with a Z, as the real gateway does.
      date_time: new Date(Date.now() - 3 * 3600_000).toISOString(),
      sender: instance.ownerJid,
      server_url: this.url,
      apikey: instance.token,
    };
    const t0 = performance.now();
    const res = await fetch(url, { method: 'POST', headers, body: opts.rawBody ?? JSON.stringify(envelope) });
    const body = await res.text();
    return { status: res.status, body, ms: performance.now() - t0, retryAfter: res.headers.get('retry-after') };
  }

  private queue<T>(map: Map<string, T[]>, route: string, item: T) {
    map.set(route, [...(map.get(route) ?? []), item]);
  }

  private take<T>(map: Map<string, T[]>, route: string): T | undefined {
    const items = map.get(route);
    const item = items?.shift();
    if (items?.length === 0) map.delete(route);
    return item;
  }

  private must(name: string): FakeInstance {
    const instance = this.instances.get(name);
    if (!instance) throw new Error(`no instance ${name} on the fake`);
    return instance;
  }

  /** A webhook the gateway emits by itself, when enabled and subscribed to. */
  private auto(instance: FakeInstance, event: string, data: unknown) {
    const hook = instance.webhook;
    const upper = event.replace(/[.-]/g, '_').toUpperCase();
    if (!this.autoWebhooks || !hook?.enabled || (hook.events.length > 0 && !hook.events.includes(upper))) return;
    const delivery = this.deliver(instance.name, event, data, { origin: this.webhookOrigin }).then(
      (d) => this.emitted.push({ event, instance: instance.name, status: d.status }),
      () => this.emitted.push({ event, instance: instance.name, status: 0 }),
    );
    this.pending.add(delivery);
    void delivery.finally(() => this.pending.delete(delivery));
  }

  private async handle(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? '/', this.url);
    const segments = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    const route = segments.slice(0, 2).join('/');
    const raw = (await readBody(req)).toString();
    let body: unknown = null;
    try {
      body = raw ? JSON.parse(raw) : null;
    } catch {
      return send(res, 400, errorBody(400, 'Bad Request', ['Unexpected token in JSON']));
    }
    this.requests.push({ method: req.method ?? '', path: url.pathname, route, query: Object.fromEntries(url.searchParams), headers: req.headers, body });

    if (segments.length === 0) {
      return send(res, 200, { ...fixture('api.server.root.response.json'), version: this.versionString() });
    }
    if (this.version === '2.4-unlicensed') return send(res, 503, fixture('api.error.503.license-2.4.0.json'));

    if (this.take(this.cuts, route)) return void req.socket.destroy();
    const fault = this.take(this.faults, route);
    if (fault && !fault.perform) return send(res, fault.status, fault.body);
    const answer = await this.route(req.method ?? '', route, segments[2], req.headers.apikey, url.searchParams, body);
    const hold = this.take(this.holds, route);
    if (hold !== undefined) {
      await new Promise((resolve) => setTimeout(resolve, hold).unref());
      if (res.destroyed) return;
    }
    if (fault) return send(res, fault.status, fault.body);
    send(res, answer.status, answer.body);
  }

  private versionString() {
    return this.version === '2.2' ? '2.2.3' : this.version === '2.3' ? '2.3.7' : '2.4.0-rc2';
  }

  private async route(method: string, route: string, name: string | undefined, apikey: unknown, query: URLSearchParams, body: unknown): Promise<Answer> {
    const global = apikey === this.apiKey;
    const unauthorized = { status: 401, body: fixture('api.error.401.json') };
    if (method === 'POST' && route === 'instance/create') return global ? this.create(body) : unauthorized;
    if (method === 'GET' && route === 'instance/fetchInstances') {
      if (!global && ![...this.instances.values()].some((i) => i.token === apikey)) return unauthorized;
      const rows = [...this.instances.values()].filter((i) => (global || i.token === apikey) && (!query.get('instanceName') || i.name === query.get('instanceName')));
      return { status: 200, body: rows.map((i) => ({ id: i.id, name: i.name, connectionStatus: i.state, ownerJid: i.ownerJid, integration: 'WHATSAPP-BAILEYS', token: i.token })) };
    }
    const handler = this.handlers[`${method} ${route}`];
    if (!handler || !name) return { status: 404, body: errorBody(404, 'Not Found', [`Cannot ${method} /${route}`]) };
    // Evolution's guards run in this order: instanceExistsGuard (404 for any key), then the key.
    const instance = this.instances.get(name);
    if (!instance) return { status: 404, body: errorBody(404, 'Not Found', [`The "${name}" instance does not exist`]) };
    if (!global && instance.token !== apikey) return unauthorized;
    return handler(instance, isObject(body) ? body : {}, query);
  }

  private create(body: unknown): Answer {
    if (!isObject(body) || typeof body.instanceName !== 'string' || !body.instanceName) return { status: 400, body: errorBody(400, 'Bad Request', [['instance requires property "instanceName"']]) };
    if (body.integration !== 'WHATSAPP-BAILEYS') return { status: 400, body: errorBody(400, 'Bad Request', ['Invalid integration']) };
    const name = body.instanceName;
    if (this.instances.has(name)) return { status: 403, body: errorBody(403, 'Forbidden', [`This name "${name}" is already in use.`]) };
    const settings = Object.fromEntries(['rejectCall', 'groupsIgnore', 'alwaysOnline', 'readMessages', 'readStatus', 'syncFullHistory'].map((k) => [k, body[k] === true]));
    const instance: FakeInstance = {
      name,
      id: randomUUID(),
      token: typeof body.token === 'string' && body.token ? body.token : randomUUID().toUpperCase(),
      state: body.qrcode === true ? 'connecting' : 'close',
      ownerJid: null,
      webhook: isObject(body.webhook) ? webhookOf(body.webhook) : null,
      settings,
    };
    this.instances.set(name, instance);
    const hook = instance.webhook;
    return {
      status: 201,
      body: {
        instance: { instanceName: name, instanceId: instance.id, integration: 'WHATSAPP-BAILEYS', webhookWaBusiness: null, accessTokenWaBusiness: '', status: instance.state },
        hash: instance.token,
        webhook: hook ? { webhookUrl: hook.url, webhookHeaders: hook.headers, webhookByEvents: hook.byEvents, webhookBase64: hook.base64 } : {},
        websocket: {},
        rabbitmq: {},
        nats: {},
        sqs: {},
        settings: { ...settings, msgCall: '', wavoipToken: '' },
        ...(body.qrcode === true ? { qrcode: this.qr(instance, null) } : {}),
      },
    };
  }

  private qr(instance: FakeInstance, number: string | null) {
    return { pairingCode: number ? randomBytes(4).toString('hex').toUpperCase() : null, code: `2@${randomBytes(48).toString('base64')},${instance.id}`, base64: QR_PNG, count: 1 };
  }

  private sendGuard(instance: FakeInstance, number: unknown): Answer | undefined {
    if (typeof number !== 'string' || !number) return { status: 400, body: errorBody(400, 'Bad Request', [['instance requires property "number"']]) };
    const digits = number.replace(/@.*/, '').replace(/\D/g, '');
    if (this.notOnWhatsapp.has(digits)) return { status: 400, body: errorBody(400, 'Bad Request', [{ jid: jidOf(digits), exists: false, number: digits }]) };
    // Baileys' "Connection Closed" surfaces as a 500 from the gateway.
    if (instance.state !== 'open') return { status: 500, body: errorBody(500, 'Internal Server Error', ['Connection Closed']) };
    return undefined;
  }

  private record(instance: FakeInstance, route: string, request: Json, message: Json, messageType: string): Answer {
    const number = String(request.number);
    const externalId = `3EB0${randomBytes(9).toString('hex').toUpperCase()}`;
    const quoted = isObject(request.quoted) && isObject(request.quoted.key) ? request.quoted : undefined;
    const record = {
      key: { remoteJid: jidOf(number), fromMe: true, id: externalId },
      pushName: 'Você',
      status: 'PENDING',
      message,
      contextInfo: quoted ? { stanzaId: quoted.key && (quoted.key as Json).id, participant: jidOf(number), quotedMessage: quoted.message ?? {} } : { mentionedJid: [], groupMentions: [] },
      messageType,
      messageTimestamp: Math.floor(Date.now() / 1000),
      instanceId: instance.id,
      source: 'web',
    };
    this.sent.push({ instance: instance.name, route, externalId, number, request, record });
    this.save(instance.name, record);
    this.auto(instance, 'send.message', record);
    return { status: 201, body: record };
  }

  private save(instance: string, record: Json) {
    if (this.savesMessages) this.stored.push({ instance, record });
  }

  /** Evolution's fetchMessages: key filters, a time window only with both ends (dates, compared in seconds), newest first, `offset` per page. */
  private findMessages(instance: FakeInstance, body: Json): Answer {
    const where = isObject(body.where) ? body.where : {};
    const key = isObject(where.key) ? where.key : {};
    const window = isObject(where.messageTimestamp) ? where.messageTimestamp : {};
    const seconds = (v: unknown) => Math.floor(new Date(String(v)).getTime() / 1000);
    const [gte, lte] = window.gte && window.lte ? [seconds(window.gte), seconds(window.lte)] : [-Infinity, Infinity];
    const rows = this.stored
      .filter((s) => s.instance === instance.name)
      .map((s) => s.record)
      .filter((r) => {
        const k = isObject(r.key) ? r.key : {};
        const at = Number(r.messageTimestamp);
        return (!key.id || k.id === key.id) && (!key.fromMe || k.fromMe === key.fromMe) && (!key.remoteJid || k.remoteJid === key.remoteJid) && at >= gte && at <= lte;
      })
      .sort((a, b) => Number(b.messageTimestamp) - Number(a.messageTimestamp));
    const offset = typeof body.offset === 'number' && body.offset > 0 ? body.offset : 50;
    const page = typeof body.page === 'number' && body.page > 0 ? body.page : 1;
    const records = rows.slice(offset * (page - 1), offset * page).map((r) => ({ id: randomUUID(), ...r, MessageUpdate: [] }));
    return { status: 200, body: { messages: { total: rows.length, pages: Math.ceil(rows.length / offset), currentPage: page, records } } };
  }

  private long(n: number) {
    // <= 2.3.5 wrote Longs as decimal strings; from 2.3.6 as {low, high, unsigned}.
    return this.version === '2.2' ? String(n) : { low: n, high: 0, unsigned: true };
  }

  private mediaMessage(kind: string, request: Json) {
    const base = { url: 'https://mmg.whatsapp.net/v/t62.fake.enc', mimetype: request.mimetype ?? (kind === 'audio' ? 'audio/ogg; codecs=opus' : 'application/octet-stream'), fileLength: this.long(String(request.media ?? request.audio ?? '').length) };
    if (kind === 'document') return { documentMessage: { ...base, fileName: request.fileName, ...(request.caption ? { caption: request.caption } : {}) } };
    if (kind === 'audio') return { audioMessage: { ...base, ptt: true, seconds: 1 } };
    return { [`${kind}Message`]: { ...base, ...(request.caption ? { caption: request.caption } : {}) } };
  }

  private readonly handlers: Record<string, (instance: FakeInstance, body: Json, query: URLSearchParams) => Answer | Promise<Answer>> = {
    'GET instance/connect': (instance, _body, query) => {
      if (instance.state === 'open') return { status: 200, body: { instance: { instanceName: instance.name, state: 'open' } } };
      instance.state = 'connecting';
      const qr = this.qr(instance, query.get('number'));
      this.auto(instance, 'qrcode.updated', { qrcode: { instance: instance.name, pairingCode: qr.pairingCode, code: qr.code, base64: qr.base64 } });
      return { status: 200, body: qr };
    },
    'GET instance/connectionState': (instance) => ({ status: 200, body: { instance: { instanceName: instance.name, state: instance.state } } }),
    'DELETE instance/logout': (instance) => {
      if (instance.state !== 'open' && !this.version.startsWith('2.4')) return { status: 400, body: fixture('api.instance.logout.error.not-connected.json') };
      this.setState(instance.name, 'close', 401);
      instance.ownerJid = null;
      return { status: 200, body: fixture('api.instance.logout.response.json') };
    },
    'DELETE instance/delete': (instance) => {
      this.instances.delete(instance.name);
      return { status: 200, body: { status: 'SUCCESS', error: false, response: { message: 'Instance deleted' } } };
    },
    'POST webhook/set': (instance, body) => {
      if (!isObject(body.webhook)) return { status: 400, body: fixture('api.webhook.set.error.flat-body.json') };
      if (typeof body.webhook.enabled !== 'boolean' || typeof body.webhook.url !== 'string') return { status: 400, body: errorBody(400, 'Bad Request', [['webhook requires property "enabled" and "url"']]) };
      const hook = webhookOf(body.webhook);
      instance.webhook = hook;
      const now = new Date().toISOString();
      return {
        status: 201,
        body: { id: randomUUID(), url: hook.url, headers: hook.headers, enabled: hook.enabled, events: hook.events, webhookByEvents: hook.byEvents, webhookBase64: hook.base64, createdAt: now, updatedAt: now, instanceId: instance.id },
      };
    },
    'GET webhook/find': (instance) => ({ status: 200, body: instance.webhook }),
    'POST message/sendText': async (instance, body) => {
      const refused = this.sendGuard(instance, body.number);
      if (refused) return refused;
      if (typeof body.text !== 'string') return { status: 400, body: errorBody(400, 'Bad Request', [['instance requires property "text"']]) };
      // Evolution holds the answer for `delay` ms while "typing..." shows.
      if (typeof body.delay === 'number' && body.delay > 0) await new Promise((r) => setTimeout(r, body.delay as number).unref());
      return this.record(instance, 'message/sendText', body, { conversation: body.text }, 'conversation');
    },
    'POST message/sendMedia': (instance, body) => {
      const refused = this.sendGuard(instance, body.number);
      if (refused) return refused;
      const kind = String(body.mediatype);
      if (!['image', 'video', 'audio', 'document'].includes(kind) || typeof body.media !== 'string') return { status: 400, body: errorBody(400, 'Bad Request', ['Invalid media']) };
      if (kind === 'document' && typeof body.fileName !== 'string') return { status: 500, body: errorBody(500, 'Internal Server Error', ["Cannot read properties of undefined (reading 'match')"]) };
      return this.record(instance, 'message/sendMedia', body, this.mediaMessage(kind, body), `${kind}Message`);
    },
    'POST message/sendWhatsAppAudio': (instance, body) => {
      const refused = this.sendGuard(instance, body.number);
      if (refused) return refused;
      if (typeof body.audio !== 'string') return { status: 400, body: errorBody(400, 'Bad Request', [['instance requires property "audio"']]) };
      return this.record(instance, 'message/sendWhatsAppAudio', body, this.mediaMessage('audio', body), 'audioMessage');
    },
    'POST chat/whatsappNumbers': (_instance, body) => {
      const numbers = Array.isArray(body.numbers) ? body.numbers.map(String) : [];
      return { status: 200, body: numbers.map((n) => ({ jid: jidOf(n), exists: !this.notOnWhatsapp.has(n.replace(/\D/g, '')), number: n })) };
    },
    'POST chat/getBase64FromMediaMessage': (_instance, body) => {
      const id = isObject(body.message) && isObject(body.message.key) ? String(body.message.key.id) : '';
      const file = this.media.get(id);
      if (!file) return { status: 400, body: errorBody(400, 'Bad Request', ['Message not found']) };
      const length = Buffer.from(file.base64, 'base64').length;
      return { status: 201, body: { mediaType: 'documentMessage', fileName: file.fileName ?? id, size: { fileLength: this.long(length) }, mimetype: file.mimetype, base64: file.base64, buffer: null } };
    },
    'POST chat/findMessages': (instance, body) => this.findMessages(instance, body),
    'POST chat/markMessageAsRead': (instance, body) => {
      this.reads.push({ instance: instance.name, readMessages: Array.isArray(body.readMessages) ? body.readMessages : [] });
      return { status: 201, body: fixture('api.chat.markMessageAsRead.response.json') };
    },
    'POST chat/sendPresence': async (instance, body) => {
      if (typeof body.number !== 'string' || typeof body.presence !== 'string' || typeof body.delay !== 'number') return { status: 400, body: errorBody(400, 'Bad Request', ['number, presence and delay are required']) };
      this.presences.push({ instance: instance.name, number: body.number, presence: body.presence });
      await new Promise((r) => setTimeout(r, body.delay as number).unref());
      return { status: 201, body: { presence: body.presence } };
    },
  };
}

function webhookOf(w: Json): FakeWebhook {
  return {
    url: String(w.url ?? ''),
    headers: isObject(w.headers) ? (Object.fromEntries(Object.entries(w.headers).map(([k, v]) => [k, String(v)])) as Record<string, string>) : {},
    events: Array.isArray(w.events) ? w.events.map(String) : [],
    enabled: w.enabled !== false,
    byEvents: w.byEvents === true,
    base64: w.base64 === true,
  };
}

function send(res: ServerResponse, status: number, body: unknown) {
  if (res.destroyed || res.writableEnded) return;
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
