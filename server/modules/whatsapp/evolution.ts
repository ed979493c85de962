import type {
  ChannelGateway,
  ChannelProvider,
  ChannelState,
  ChannelWebhook,
  ConnectResult,
  DeliveryStatus,
  MediaSource,
  QuotedMessage,
  SentMessage,
  StoredMessage,
} from '../integrations/providers.js';
import { classify, EvolutionError, isEvolutionError, isObject, networkError, type CallInfo } from './evolution-errors.js';
import { isPhoneJid, jidDigits, parseMessage, phoneVariants } from './normalize.js';

/**
 * Evolution API v2 over plain fetch (there is no official Node client). The global key manages
 * instances (create, delete); each instance's calls carry that instance's token, so a leaked token
 * reaches one number only. Every call has a timeout; every failure is an `EvolutionError`
 * classified for the caller (see `classify`). Nothing here logs: bodies hold tokens and message text.
 */

interface Call extends CallInfo {
  method: 'GET' | 'POST' | 'DELETE';
  path: string;
  key: string;
  body?: unknown;
  /** Extra time the gateway holds the answer on purpose (`delay`). */
  holdMs?: number;
}

export interface EvolutionOptions {
  baseUrl: string;
  /** The gateway's global `AUTHENTICATION_API_KEY`. */
  apiKey: string;
  /** Per call; a send's own `delay` (Evolution holds the answer that long) is added to it. */
  timeoutMs: number;
}

/** Longs come as numbers, decimal strings (<= 2.3.5) or `{low, high}` (>= 2.3.6). */
export function toNumber(value: unknown): number | undefined {
  if (typeof value === 'number') return value;
  if (typeof value === 'string' && /^\d+$/.test(value)) return Number(value);
  if (isObject(value) && typeof value.low === 'number') return (typeof value.high === 'number' ? value.high : 0) * 2 ** 32 + (value.low >>> 0);
  return undefined;
}

const STATUSES = new Set<DeliveryStatus>(['PENDING', 'SERVER_ACK', 'DELIVERY_ACK', 'READ', 'PLAYED', 'ERROR']);
const STATES = new Set<ChannelState>(['connecting', 'open', 'close', 'refused']);

function sentMessage(route: string, body: unknown): SentMessage {
  const key = isObject(body) && isObject(body.key) ? body.key : undefined;
  if (!key || typeof key.id !== 'string' || typeof key.remoteJid !== 'string') {
    // Accepted, yet no id to reconcile with: as ambiguous as a timeout.
    throw new EvolutionError('rejected', `Evolution ${route} answered without a message key`, { retryable: false, ambiguous: true });
  }
  const status = isObject(body) && typeof body.status === 'string' && STATUSES.has(body.status as DeliveryStatus) ? (body.status as DeliveryStatus) : 'PENDING';
  const seconds = isObject(body) ? toNumber(body.messageTimestamp) : undefined;
  return { externalId: key.id, remoteJid: key.remoteJid, status, sentAt: seconds ? new Date(seconds * 1000) : new Date() };
}

const media = (source: MediaSource) => ('url' in source ? source.url : source.base64);

function quotedBody(quoted: QuotedMessage | undefined) {
  if (!quoted) return {};
  const key = { id: quoted.externalId, ...(quoted.remoteJid ? { remoteJid: quoted.remoteJid } : {}), ...(quoted.fromMe !== undefined ? { fromMe: quoted.fromMe } : {}) };
  // Without `message`, Evolution looks the quoted message up in its own database by key.
  return { quoted: { key, ...(quoted.text !== undefined ? { message: { conversation: quoted.text } } : {}) } };
}

/** The HTTP part shared by the gateway and its instances. */
class EvolutionHttp {
  private readonly baseUrl: string;

  constructor(readonly opts: EvolutionOptions) {
    this.baseUrl = opts.baseUrl.replace(/\/+$/, '');
  }

  async request(call: Call): Promise<unknown> {
    const signal = AbortSignal.timeout(this.opts.timeoutMs + (call.holdMs ?? 0));
    let res: Response;
    let text: string;
    try {
      res = await fetch(`${this.baseUrl}${call.path}`, {
        method: call.method,
        headers: { apikey: call.key, ...(call.body !== undefined ? { 'content-type': 'application/json' } : {}) },
        body: call.body !== undefined ? JSON.stringify(call.body) : undefined,
        signal,
      });
      text = await res.text();
    } catch (err) {
      throw networkError(call, err);
    }
    let body: unknown;
    try {
      body = text ? JSON.parse(text) : null;
    } catch {
      body = null;
    }
    if (!res.ok) throw classify(call, res.status, body, res.headers);
    // Evolution answers some failures (connect, logout) with HTTP 200 `{error: true, message}`.
    if (isObject(body) && body.error === true) throw classify(call, 200, body, res.headers);
    return body;
  }
}

const enc = encodeURIComponent;
/** Records per `chat/findMessages` page (the gateway's own default is 50). */
const FIND_PAGE_SIZE = 100;

/** One instance, under its own token. */
export class EvolutionInstance implements ChannelProvider {
  readonly provider = 'evolution' as const;

  constructor(
    private readonly http: EvolutionHttp,
    readonly instance: string,
    private readonly token: string,
  ) {}

  private call(method: Call['method'], route: string, opts: { body?: unknown; query?: string; holdMs?: number; idempotent: boolean }) {
    const path = `/${route}/${enc(this.instance)}${opts.query ?? ''}`;
    return this.http.request({ method, route, path, key: this.token, body: opts.body, holdMs: opts.holdMs, idempotent: opts.idempotent });
  }

  async sendText(input: { to: string; text: string; quoted?: QuotedMessage; delayMs?: number; linkPreview?: boolean }): Promise<SentMessage> {
    const body = {
      number: input.to,
      text: input.text,
      ...(input.delayMs ? { delay: input.delayMs } : {}),
      ...(input.linkPreview !== undefined ? { linkPreview: input.linkPreview } : {}),
      ...quotedBody(input.quoted),
    };
    const route = 'message/sendText';
    return sentMessage(route, await this.call('POST', route, { body, holdMs: input.delayMs, idempotent: false }));
  }

  async sendMedia(input: {
    to: string;
    kind: 'image' | 'video' | 'audio' | 'document';
    media: MediaSource;
    mimetype?: string;
    caption?: string;
    fileName?: string;
    quoted?: QuotedMessage;
  }): Promise<SentMessage> {
    // A base64 document without a file name crashes Evolution's filename regex.
    const fileName = input.fileName ?? (input.kind === 'document' ? 'documento' : undefined);
    const body = {
      number: input.to,
      mediatype: input.kind,
      media: media(input.media),
      ...(input.mimetype ? { mimetype: input.mimetype } : {}),
      ...(input.caption ? { caption: input.caption } : {}),
      ...(fileName ? { fileName } : {}),
      ...quotedBody(input.quoted),
    };
    const route = 'message/sendMedia';
    return sentMessage(route, await this.call('POST', route, { body, idempotent: false }));
  }

  async sendAudio(input: { to: string; audio: MediaSource; delayMs?: number; quoted?: QuotedMessage }): Promise<SentMessage> {
    const body = { number: input.to, audio: media(input.audio), encoding: true, ...(input.delayMs ? { delay: input.delayMs } : {}), ...quotedBody(input.quoted) };
    const route = 'message/sendWhatsAppAudio';
    return sentMessage(route, await this.call('POST', route, { body, holdMs: input.delayMs, idempotent: false }));
  }

  async resolveNumbers(numbers: string[]) {
    const body = await this.call('POST', 'chat/whatsappNumbers', { body: { numbers }, idempotent: true });
    if (!Array.isArray(body)) throw new EvolutionError('rejected', 'Evolution chat/whatsappNumbers answered no list', { retryable: false });
    return body.filter(isObject).map((row) => ({
      number: String(row.number ?? ''),
      exists: row.exists === true,
      jid: row.exists === true && typeof row.jid === 'string' ? row.jid : null,
      ...(typeof row.lid === 'string' ? { lid: row.lid } : {}),
    }));
  }

  async markRead(messages: { remoteJid: string; fromMe: boolean; externalId: string }[]) {
    const readMessages = messages.map((m) => ({ remoteJid: m.remoteJid, fromMe: m.fromMe, id: m.externalId }));
    await this.call('POST', 'chat/markMessageAsRead', { body: { readMessages }, idempotent: true });
  }

  async sendPresence(input: { to: string; presence: 'composing' | 'recording' | 'paused'; delayMs: number }) {
    const body = { number: input.to, presence: input.presence, delay: input.delayMs };
    await this.call('POST', 'chat/sendPresence', { body, holdMs: input.delayMs, idempotent: true });
  }

  async downloadMedia(externalId: string, opts: { convertToMp4?: boolean } = {}) {
    const body = await this.call('POST', 'chat/getBase64FromMediaMessage', {
      body: { message: { key: { id: externalId } }, convertToMp4: opts.convertToMp4 ?? false },
      idempotent: true,
    });
    if (!isObject(body) || typeof body.base64 !== 'string' || typeof body.mimetype !== 'string') {
      throw new EvolutionError('rejected', 'Evolution chat/getBase64FromMediaMessage answered no media', { retryable: false });
    }
    const size = isObject(body.size) ? toNumber(body.size.fileLength) : undefined;
    return {
      mimetype: body.mimetype,
      base64: body.base64,
      ...(typeof body.fileName === 'string' ? { fileName: body.fileName } : {}),
      ...(size !== undefined ? { size } : {}),
    };
  }

  /**
   * `chat/findMessages`: what the gateway's database holds (it saves every message by default,
   * DATABASE_SAVE_DATA_NEW_MESSAGE). The time filter applies only with both ends; `offset` is the page size.
   */
  async findMessages(query: { fromMe?: boolean; since?: Date; until?: Date; externalId?: string; page?: number }): Promise<{ items: StoredMessage[]; pages: number }> {
    const key = { ...(query.fromMe !== undefined ? { fromMe: query.fromMe } : {}), ...(query.externalId ? { id: query.externalId } : {}) };
    const window = query.since && query.until ? { messageTimestamp: { gte: query.since.toISOString(), lte: query.until.toISOString() } } : {};
    const body = await this.call('POST', 'chat/findMessages', { body: { where: { key, ...window }, offset: FIND_PAGE_SIZE, page: query.page ?? 1 }, idempotent: true });
    const found = isObject(body) && isObject(body.messages) ? body.messages : undefined;
    if (!found || !Array.isArray(found.records)) throw new EvolutionError('rejected', 'Evolution chat/findMessages answered no records', { retryable: false });
    const items = found.records.filter(isObject).flatMap((record): StoredMessage[] => {
      const m = parseMessage(record);
      if (!m) return [];
      // A phone JID in both 9th-digit forms: the gateway may have resolved it to either.
      const addresses = new Set([m.chat, m.phoneJid, m.lid].flatMap((a) => (!a ? [] : isPhoneJid(a) ? phoneVariants(jidDigits(a)).map((p) => `${p.slice(1)}@s.whatsapp.net`) : [a])));
      return [{ externalId: m.externalId, fromMe: m.fromMe, addresses: [...addresses], type: m.type, text: m.text, sentAt: m.sentAt }];
    });
    return { items, pages: typeof found.pages === 'number' ? found.pages : 1 };
  }

  async connect(opts: { number?: string } = {}): Promise<ConnectResult> {
    const query = opts.number ? `?number=${enc(opts.number)}` : '';
    const body = await this.call('GET', 'instance/connect', { query, idempotent: true });
    if (isObject(body) && isObject(body.instance) && body.instance.state === 'open') return { state: 'open' };
    if (isObject(body) && typeof body.code === 'string' && body.code) {
      return {
        state: 'qr',
        code: body.code,
        base64: typeof body.base64 === 'string' ? body.base64 : '',
        ...(typeof body.pairingCode === 'string' && body.pairingCode ? { pairingCode: body.pairingCode } : {}),
      };
    }
    // `{count: 0}`: the QR is not ready yet.
    return { state: 'pending' };
  }

  async state(): Promise<ChannelState> {
    const body = await this.call('GET', 'instance/connectionState', { idempotent: true });
    const state = isObject(body) && isObject(body.instance) ? body.instance.state : undefined;
    if (typeof state !== 'string' || !STATES.has(state as ChannelState)) {
      throw new EvolutionError('rejected', 'Evolution instance/connectionState answered an unknown state', { retryable: false });
    }
    return state as ChannelState;
  }

  async logout() {
    try {
      await this.call('DELETE', 'instance/logout', { idempotent: true });
    } catch (err) {
      // 2.2/2.3 answer 400 "instance is not connected" to a second logout (2.4 succeeds): the goal holds.
      if (isEvolutionError(err) && err.code === 'rejected' && err.status === 400) return;
      throw err;
    }
  }

  async setWebhook(webhook: ChannelWebhook) {
    // The v2 nested body; a v1 flat body is refused with 400 `instance requires property "webhook"`.
    const body = { webhook: { enabled: true, url: webhook.url, headers: webhook.headers, byEvents: false, base64: false, events: webhook.events } };
    await this.call('POST', 'webhook/set', { body, idempotent: true });
  }
}

/** The gateway under the global key. */
export class EvolutionClient implements ChannelGateway {
  readonly provider = 'evolution' as const;
  private readonly http: EvolutionHttp;

  constructor(opts: EvolutionOptions) {
    this.http = new EvolutionHttp(opts);
  }

  async createInstance(input: { instance: string; token: string; groupsIgnore?: boolean; rejectCall?: boolean }) {
    const body = {
      instanceName: input.instance,
      integration: 'WHATSAPP-BAILEYS',
      qrcode: true,
      token: input.token,
      rejectCall: input.rejectCall ?? true,
      groupsIgnore: input.groupsIgnore ?? true,
      alwaysOnline: false,
      readMessages: false,
      readStatus: false,
      syncFullHistory: false,
    };
    const answer = await this.http.request({ method: 'POST', route: 'instance/create', path: '/instance/create', key: this.http.opts.apiKey, body, idempotent: false });
    const instance = isObject(answer) && isObject(answer.instance) ? answer.instance : undefined;
    // v2 answers `hash` as a string (our token); v1 answered `{apikey}`.
    const hash = isObject(answer) ? answer.hash : undefined;
    const token = typeof hash === 'string' ? hash : isObject(hash) && typeof hash.apikey === 'string' ? hash.apikey : input.token;
    return { instanceId: typeof instance?.instanceId === 'string' ? instance.instanceId : '', token };
  }

  async deleteInstance(instance: string) {
    try {
      await this.http.request({ method: 'DELETE', route: 'instance/delete', path: `/instance/delete/${enc(instance)}`, key: this.http.opts.apiKey, idempotent: true });
    } catch (err) {
      if (isEvolutionError(err) && err.code === 'not_found') return;
      throw err;
    }
  }

  forInstance(instance: string, token: string): EvolutionInstance {
    return new EvolutionInstance(this.http, instance, token);
  }
}
