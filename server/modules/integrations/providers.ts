import type { Config } from '../../config.js';

/**
 * What the WhatsApp and Google Calendar features program against. The real clients (Evolution API,
 * Google Calendar v3) and the fakes in test/fakes/ are reached by base URL alone (`providerEndpoints`):
 * the production client is what talks to the fake. Types only: the features bring the clients.
 */

/** A provider call that failed, classified so callers decide between retry, re-sync and "broken". */
export interface ProviderError extends Error {
  code:
    | 'unauthorized' // bad or revoked credentials: mark the connection broken
    | 'not_found' // instance, calendar or event unknown
    | 'rate_limited' // retry after `retryAfterMs`
    | 'sync_token_expired' // Google 410 fullSyncRequired: drop the token, full sync once
    | 'precondition_failed' // Google 412 (etag changed)
    | 'already_exists' // Google 409: an event with this client-chosen id exists (maybe deleted)
    | 'not_on_channel' // Evolution 400 "exists: false": the number has no WhatsApp
    | 'license_required' // Evolution 2.4 503 LICENSE_REQUIRED: the gateway must be activated, retrying will not help
    | 'rejected' // any other refusal (4xx, Evolution's HTTP 200 `{error: true}`): not retryable
    | 'timeout' // no answer in time: the provider may have done it (`ambiguous`)
    | 'unavailable'; // 5xx, connection errors: retry
  retryable: boolean;
  /** The request may have taken effect (a timeout, a connection cut after sending): never resend blindly. */
  ambiguous?: boolean;
  retryAfterMs?: number;
  /** The provider's HTTP status, when there was one. */
  status?: number;
}

// ---- Messaging (Evolution API v2 first) ----

export type ChannelState = 'connecting' | 'open' | 'close' | 'refused';
export type DeliveryStatus = 'PENDING' | 'SERVER_ACK' | 'DELIVERY_ACK' | 'READ' | 'PLAYED' | 'ERROR';

export interface ChannelTarget {
  /** E.164 digits (`5511987654321`) or a resolved JID (`...@s.whatsapp.net`). */
  to: string;
}

export interface SentMessage {
  /** The channel's message id (`key.id`): stored with a unique constraint so a retry never re-sends. */
  externalId: string;
  remoteJid: string;
  status: DeliveryStatus;
  sentAt: Date;
}

/** A URL the gateway downloads, or the file itself (raw base64, no `data:` prefix). */
export type MediaSource = { url: string } | { base64: string };

/** The message a reply quotes: its WhatsApp id, and its chat and text when known. */
export interface QuotedMessage {
  externalId: string;
  remoteJid?: string;
  fromMe?: boolean;
  text?: string;
}

/** A message as the gateway stored it: who it is with (its JIDs, a phone's in both 9th-digit forms), what it holds. */
export interface StoredMessage {
  externalId: string;
  fromMe: boolean;
  addresses: string[];
  type: string;
  /** The text, or the media's caption. */
  text: string | null;
  sentAt: Date;
}

export interface ChannelWebhook {
  url: string;
  /** Sent back verbatim on every delivery; Evolution turns `jwt_key` into `Authorization: Bearer <HS256 JWT>`. */
  headers: Record<string, string>;
  /** UPPER_CASE event names (`MESSAGES_UPSERT`); empty means every event. */
  events: string[];
}

export type ConnectResult = { state: 'open' } | { state: 'pending' } | { state: 'qr'; code: string; base64: string; pairingCode?: string };

/**
 * One channel instance (a WhatsApp number on the gateway), bound to its own credentials: every call
 * acts on that instance only.
 */
export interface ChannelProvider {
  readonly provider: 'evolution';
  readonly instance: string;
  sendText(input: ChannelTarget & { text: string; quoted?: QuotedMessage; delayMs?: number; linkPreview?: boolean }): Promise<SentMessage>;
  sendMedia(
    input: ChannelTarget & { kind: 'image' | 'video' | 'audio' | 'document'; media: MediaSource; mimetype?: string; caption?: string; fileName?: string; quoted?: QuotedMessage },
  ): Promise<SentMessage>;
  /** A voice note (PTT). */
  sendAudio(input: ChannelTarget & { audio: MediaSource; delayMs?: number; quoted?: QuotedMessage }): Promise<SentMessage>;
  /** Which numbers have WhatsApp and their JIDs (handles the Brazilian 9th digit). */
  resolveNumbers(numbers: string[]): Promise<{ number: string; exists: boolean; jid: string | null; lid?: string }[]>;
  markRead(messages: { remoteJid: string; fromMe: boolean; externalId: string }[]): Promise<void>;
  sendPresence(input: ChannelTarget & { presence: 'composing' | 'recording' | 'paused'; delayMs: number }): Promise<void>;
  downloadMedia(externalId: string, opts?: { convertToMp4?: boolean }): Promise<{ mimetype: string; fileName?: string; base64: string; size?: number }>;
  /**
   * Messages the gateway stored, newest first, one page (`pages` in all): ours sent between `since`
   * and `until`, or the one with `externalId`. How a send whose answer was lost is looked up.
   */
  findMessages(query: { fromMe?: boolean; since?: Date; until?: Date; externalId?: string; page?: number }): Promise<{ items: StoredMessage[]; pages: number }>;

  /** QR code or pairing code (`number`) to link a phone; `open` when already linked; `pending` while the QR is not ready. */
  connect(opts?: { number?: string }): Promise<ConnectResult>;
  state(): Promise<ChannelState>;
  logout(): Promise<void>;
  setWebhook(webhook: ChannelWebhook): Promise<void>;
}

/** The gateway itself, under its global key: creates and deletes instances, binds a client to one. */
export interface ChannelGateway {
  readonly provider: 'evolution';
  /** `token` is ours (random), so it is known even when the answer is lost. */
  createInstance(input: { instance: string; token: string; groupsIgnore?: boolean; rejectCall?: boolean }): Promise<{ instanceId: string; token: string }>;
  /** Deleting an instance that is already gone succeeds. */
  deleteInstance(instance: string): Promise<void>;
  forInstance(instance: string, token: string): ChannelProvider;
}

// ---- Calendars (Google Calendar v3 first) ----

export interface CalendarEventTime {
  /** RFC 3339 instant, for timed events. */
  dateTime?: string;
  /** YYYY-MM-DD, for all-day events. */
  date?: string;
  timeZone?: string;
}

export interface CalendarEvent {
  id: string;
  /** `cancelled` is how an incremental sync reports a deletion. */
  status: 'confirmed' | 'tentative' | 'cancelled';
  etag?: string;
  summary?: string;
  description?: string;
  start?: CalendarEventTime;
  end?: CalendarEventTime;
  /** `transparent` events do not block time. */
  transparency?: 'opaque' | 'transparent';
  /** Ours carry the appointment id here (`privateExtendedProperty=...` finds them). */
  privateProperties?: Record<string, string>;
  updated?: string;
}

export type CalendarEventInput = Omit<CalendarEvent, 'id' | 'etag' | 'updated' | 'status'> & { status?: 'confirmed' | 'tentative' };

export interface CalendarPage {
  events: CalendarEvent[];
  nextPageToken?: string;
  /** On the last page: pass it next time for the changes since. */
  nextSyncToken?: string;
  /** The calendar's zone: all-day events are days in it. */
  timeZone?: string;
}

export interface CalendarListEntry {
  id: string;
  summary: string;
  primary: boolean;
  /** `owner` or `writer` may receive events; `reader`/`freeBusyReader` only count as busy. */
  accessRole: string;
  timeZone?: string;
}

export interface CalendarChannel {
  id: string;
  resourceId: string;
  expiresAt: Date;
}

export interface CalendarProvider {
  readonly provider: 'google_calendar';
  /** Full sync (window) or incremental (`syncToken` alone); an expired token throws `sync_token_expired`. */
  listEvents(
    calendarId: string,
    opts: { syncToken: string; pageToken?: string } | { timeMin?: Date; timeMax?: Date; pageToken?: string; privateProperty?: string },
  ): Promise<CalendarPage>;
  /** `id` (base32hex, 5-1024 chars) chosen by us makes a repeated insert a 409 `already_exists`. */
  insertEvent(calendarId: string, event: CalendarEventInput & { id?: string }): Promise<CalendarEvent>;
  getEvent(calendarId: string, eventId: string): Promise<CalendarEvent>;
  listCalendars(): Promise<CalendarListEntry[]>;
  /** With `etag`, a concurrent change answers `precondition_failed`. */
  patchEvent(calendarId: string, eventId: string, patch: Partial<CalendarEventInput>, opts?: { etag?: string }): Promise<CalendarEvent>;
  /** Deleting an event that is already gone succeeds. */
  deleteEvent(calendarId: string, eventId: string): Promise<void>;
  /** Push notifications to `address` carrying `token` (checked by the webhook route); channels are not renewable. */
  watch(calendarId: string, channel: { id: string; address: string; token: string; ttlSeconds: number }): Promise<CalendarChannel>;
  stop(channel: { id: string; resourceId: string }): Promise<void>;
  freeBusy(input: { timeMin: Date; timeMax: Date; timeZone: string; calendarIds: string[] }): Promise<
    Record<string, { busy: { start: Date; end: Date }[]; error?: string }>
  >;
}

/** Where each provider lives: the real services by default, a fake on 127.0.0.1 in tests. */
export function providerEndpoints(config: Config) {
  return {
    evolution: { baseUrl: config.evolution.url },
    google: { apiRootUrl: config.google.apiRootUrl, oauthAuthUrl: config.google.oauthAuthUrl, oauthTokenUrl: config.google.oauthTokenUrl },
    openai: { baseUrl: config.openai.baseUrl },
  };
}
