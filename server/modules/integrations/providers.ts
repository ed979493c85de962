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
    | 'unavailable'; // 5xx, timeouts, licence not activated: retry
  retryable: boolean;
  retryAfterMs?: number;
  /** The provider's HTTP status, when there was one. */
  status?: number;
}

// ---- Messaging (Evolution API v2 first) ----

export type ChannelState = 'connecting' | 'open' | 'close' | 'refused';
export type DeliveryStatus = 'PENDING' | 'SERVER_ACK' | 'DELIVERY_ACK' | 'READ' | 'PLAYED' | 'ERROR';

export interface ChannelTarget {
  /** The connection's instance on the gateway (Evolution instance name). */
  instance: string;
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

export type MediaSource = { url: string } | { base64: string };

export interface ChannelProvider {
  readonly provider: 'evolution';
  sendText(input: ChannelTarget & { text: string; quotedExternalId?: string; delayMs?: number }): Promise<SentMessage>;
  sendMedia(
    input: ChannelTarget & { kind: 'image' | 'video' | 'audio' | 'document'; media: MediaSource; mimetype?: string; caption?: string; fileName?: string },
  ): Promise<SentMessage>;
  /** A voice note (PTT). */
  sendAudio(input: ChannelTarget & { audio: MediaSource }): Promise<SentMessage>;
  /** Which numbers have WhatsApp and their JIDs (handles the Brazilian 9th digit). */
  resolveNumbers(instance: string, numbers: string[]): Promise<{ number: string; exists: boolean; jid: string | null; lid?: string }[]>;
  markRead(instance: string, messages: { remoteJid: string; fromMe: boolean; externalId: string }[]): Promise<void>;
  sendPresence(input: ChannelTarget & { presence: 'composing' | 'recording' | 'paused'; delayMs: number }): Promise<void>;
  downloadMedia(instance: string, externalId: string): Promise<{ mimetype: string; fileName?: string; base64: string }>;

  createInstance(input: { instance: string; webhook: { url: string; headers: Record<string, string>; events: string[] } }): Promise<{ instanceId: string; token: string }>;
  /** QR code or pairing code to link a phone; `open` when already linked; `pending` while the QR is not ready. */
  connect(
    instance: string,
    opts?: { number?: string },
  ): Promise<{ state: 'open' } | { state: 'pending' } | { state: 'qr'; code: string; base64: string; pairingCode?: string }>;
  state(instance: string): Promise<ChannelState>;
  logout(instance: string): Promise<void>;
  setWebhook(instance: string, webhook: { url: string; headers: Record<string, string>; events: string[] }): Promise<void>;
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
