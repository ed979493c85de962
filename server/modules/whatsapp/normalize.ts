import type { MessageStatus, MessageType } from '../../../shared/schema/index.js';

/**
 * Evolution API webhook payloads (2.2, 2.3, 2.4) turned into one shape. Pure functions: no I/O.
 * See docs/whatsapp.md "Webhooks and ingestion" for the drift handled here.
 */

/** `MESSAGES_UPSERT`, `messages-upsert` (byEvents paths) and `messages.upsert` are one name. */
export const eventName = (raw: string) => raw.trim().toLowerCase().replace(/[_-]/g, '.');

type Json = Record<string, unknown>;
const obj = (v: unknown): Json | undefined => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : undefined);
const str = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 ? v : undefined);

/** `data` is an object or an array of them, depending on the event and the version. */
export const items = (data: unknown): Json[] => (Array.isArray(data) ? data : [data]).map(obj).filter((d): d is Json => d !== undefined);

/** A Long as number, decimal string (<= 2.3.5) or `{low, high}` (2.3.6+). */
export function longValue(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string' && /^\d+$/.test(v)) return Number(v);
  const o = obj(v);
  if (o && typeof o.low === 'number') {
    const high = typeof o.high === 'number' ? o.high : 0;
    // `low` is a signed 32-bit half in protobuf.js Longs.
    return high * 2 ** 32 + (o.low >>> 0);
  }
  return undefined;
}

const STATUS: Record<string, MessageStatus> = {
  ERROR: 'error',
  PENDING: 'pending',
  SERVER_ACK: 'server_ack',
  DELIVERY_ACK: 'delivery_ack',
  READ: 'read',
  PLAYED: 'played',
  DELETED: 'deleted',
};

/** Evolution's status string (Baileys' names; numbers never appear in webhooks, but are accepted). */
export function deliveryStatus(v: unknown): MessageStatus | undefined {
  if (typeof v === 'number') return ['error', 'pending', 'server_ack', 'delivery_ack', 'read', 'played'][v] as MessageStatus | undefined;
  return typeof v === 'string' ? STATUS[v.toUpperCase()] : undefined;
}

/** Forward order; `error` and `deleted` are terminal. Statuses we set ourselves rank with pending. */
export const STATUS_RANK: Record<MessageStatus, number> = {
  pending: 0,
  unconfirmed: 0,
  failed: 0,
  server_ack: 1,
  delivery_ack: 2,
  read: 3,
  played: 4,
  error: 9,
  deleted: 9,
};

/** The status that wins between two: the furthest along, a terminal one never replaced. */
export const laterStatus = (a: MessageStatus, b: MessageStatus): MessageStatus => (STATUS_RANK[b] > STATUS_RANK[a] ? b : a);

export const isPhoneJid = (jid: string | undefined): jid is string => !!jid && jid.endsWith('@s.whatsapp.net');
export const isLid = (jid: string | undefined): jid is string => !!jid && jid.endsWith('@lid');
export const isGroup = (jid: string | undefined) => !!jid && jid.endsWith('@g.us');
/** `5511987654321:12@s.whatsapp.net` (a device suffix) -> `5511987654321@s.whatsapp.net`. */
export const bareJid = (jid: string) => jid.replace(/:\d+@/, '@');
export const jidDigits = (jid: string) => jid.split('@')[0]!.split(':')[0]!;

/**
 * Who the message is with, whatever the version: the phone JID is the first `@s.whatsapp.net` among
 * remoteJidAlt, senderPn, remoteJid (participant fields in groups); the lid the first `@lid` among
 * them (2.3.1-2.3.4 moved it to previousRemoteJid / senderLid; 2.4 swapped remoteJid/remoteJidAlt).
 * For `fromMe`, the `*Alt` fields are the clinic's own other address, not the contact's: skipped.
 */
export function addresses(key: Json, data: Json, fromMe: boolean): { chat: string; phoneJid?: string; lid?: string } {
  const remoteJid = str(key.remoteJid) ?? '';
  const alt = (v: unknown) => (fromMe ? undefined : str(v));
  const group = isGroup(remoteJid);
  const candidates = (
    group
      ? [alt(key.participantAlt), str(key.participant), str(data.participant)]
      : [alt(key.remoteJidAlt), str(key.senderPn), str(data.senderPn), remoteJid, str(key.previousRemoteJid), str(key.senderLid), str(data.senderLid)]
  ).filter((v): v is string => v !== undefined);
  const phoneJid = candidates.find(isPhoneJid);
  const lid = candidates.find(isLid);
  return { chat: remoteJid, ...(phoneJid ? { phoneJid: bareJid(phoneJid) } : {}), ...(lid ? { lid: bareJid(lid) } : {}) };
}

export interface ParsedMessage {
  externalId: string;
  fromMe: boolean;
  chat: string;
  phoneJid?: string;
  lid?: string;
  group: boolean;
  pushName?: string;
  type: MessageType;
  rawType: string;
  text: string | null;
  content: Json | null;
  quotedExternalId: string | null;
  media: { mimetype: string | null; fileName: string | null; size: number | null } | null;
  sentAt: Date;
  status: MessageStatus | undefined;
}

const MEDIA: Record<string, MessageType> = {
  imageMessage: 'image',
  audioMessage: 'audio',
  videoMessage: 'video',
  ptvMessage: 'video',
  documentMessage: 'document',
  stickerMessage: 'sticker',
};

// Wrappers Evolution or WhatsApp put around the real message.
const WRAPPERS = ['ephemeralMessage', 'viewOnceMessage', 'viewOnceMessageV2', 'documentWithCaptionMessage', 'editedMessage'];
// Keys of `message` that describe it rather than being it.
const META_KEYS = new Set(['messageContextInfo', 'base64', 'mediaUrl']);

function unwrap(message: Json): Json {
  for (const w of WRAPPERS) {
    const inner = obj(obj(message[w])?.message);
    if (inner) return unwrap(inner);
  }
  return message;
}

/** The text of a quoted message, for the reply preview. */
function quotedPreview(quoted: Json | undefined): string | null {
  if (!quoted) return null;
  const q = unwrap(quoted);
  const text = str(q.conversation) ?? str(obj(q.extendedTextMessage)?.text);
  if (text) return text.slice(0, 200);
  for (const [k, t] of Object.entries(MEDIA)) if (obj(q[k])) return str(obj(q[k])?.caption)?.slice(0, 200) ?? `[${t}]`;
  return null;
}

/** `messages.upsert` / `send.message` data -> one message; undefined when it is not one (no key id). */
export function parseMessage(data: Json): ParsedMessage | undefined {
  const key = obj(data.key);
  const externalId = str(key?.id);
  if (!key || !externalId) return undefined;
  const fromMe = key.fromMe === true;
  const { chat, phoneJid, lid } = addresses(key, data, fromMe);
  const message = unwrap(obj(data.message) ?? {});
  const rawType = str(data.messageType) ?? Object.keys(message).find((k) => !META_KEYS.has(k)) ?? 'unknown';
  // Replies: since 2.2 the quote sits in data.contextInfo; older versions keep it in the message.
  const extended = obj(message.extendedTextMessage);
  const context = obj(data.contextInfo) ?? obj(extended?.contextInfo) ?? obj(Object.values(message).map(obj).find((m) => obj(m?.contextInfo))?.contextInfo);
  const quotedExternalId = str(context?.stanzaId) ?? null;
  const quote = quotedExternalId ? { quoted: { externalId: quotedExternalId, preview: quotedPreview(obj(context?.quotedMessage)) } } : {};
  const seconds = longValue(data.messageTimestamp);
  const base = {
    externalId,
    fromMe,
    chat,
    ...(phoneJid ? { phoneJid } : {}),
    ...(lid ? { lid } : {}),
    group: isGroup(chat),
    ...(str(data.pushName) && !fromMe ? { pushName: str(data.pushName)!.slice(0, 120) } : {}),
    rawType,
    quotedExternalId,
    sentAt: seconds ? new Date(seconds * 1000) : new Date(),
    status: deliveryStatus(data.status),
    media: null,
  };

  const text = str(message.conversation) ?? str(extended?.text);
  if (text !== undefined) return { ...base, type: 'text', text, content: Object.keys(quote).length ? quote : null };

  for (const [k, type] of Object.entries(MEDIA)) {
    const m = obj(message[k]);
    if (!m) continue;
    const media = { mimetype: str(m.mimetype) ?? null, fileName: str(m.fileName)?.slice(0, 200) ?? null, size: longValue(m.fileLength) ?? null };
    const extra: Json = { ...quote };
    if (type === 'audio') Object.assign(extra, { voiceNote: m.ptt === true, seconds: longValue(m.seconds) ?? null });
    if (type === 'image' || type === 'video') Object.assign(extra, { width: longValue(m.width) ?? null, height: longValue(m.height) ?? null });
    if (type === 'document') Object.assign(extra, { pageCount: longValue(m.pageCount) ?? null });
    return { ...base, type, text: str(m.caption) ?? null, content: extra, media };
  }

  const location = obj(message.locationMessage) ?? obj(message.liveLocationMessage);
  if (location) {
    const content = {
      latitude: typeof location.degreesLatitude === 'number' ? location.degreesLatitude : null,
      longitude: typeof location.degreesLongitude === 'number' ? location.degreesLongitude : null,
      name: str(location.name) ?? null,
      address: str(location.address) ?? null,
      ...quote,
    };
    return { ...base, type: 'location', text: null, content };
  }

  const card = obj(message.contactMessage);
  const cards = obj(message.contactsArrayMessage);
  if (card || cards) {
    const list = card ? [card] : (Array.isArray(cards?.contacts) ? cards.contacts : []).map(obj).filter((c): c is Json => !!c);
    const contacts = list.map((c) => ({ name: str(c.displayName) ?? null, vcard: str(c.vcard) ?? null }));
    return { ...base, type: 'contact', text: null, content: { contacts, ...quote } };
  }

  // Reactions, polls, protocol messages...: kept, never dropped.
  return { ...base, type: 'unsupported', text: null, content: Object.keys(quote).length ? quote : null };
}

export interface ParsedEdit {
  /** The WhatsApp id of the message that was edited. */
  externalId: string;
  /** The new text or caption. */
  text: string;
  /** WhatsApp's `timestampMs`; null when the version left it out. */
  editedAt: Date | null;
}

/** A protocolMessage of type MESSAGE_EDIT (14): `{key: {id}, type, editedMessage: {conversation | extendedTextMessage | imageMessage...}, timestampMs}`. */
function editOf(protocol: Json | undefined): ParsedEdit | undefined {
  if (!protocol) return undefined;
  // JSON of Baileys' protobuf names enums ("MESSAGE_EDIT"); plain objects keep the number.
  if (protocol.type !== undefined && protocol.type !== 14 && protocol.type !== 'MESSAGE_EDIT') return undefined;
  const externalId = str(obj(protocol.key)?.id);
  const edited = obj(protocol.editedMessage);
  if (!externalId || !edited) return undefined;
  const m = unwrap(edited);
  const text = str(m.conversation) ?? str(obj(m.extendedTextMessage)?.text) ?? Object.keys(MEDIA).map((k) => str(obj(m[k])?.caption)).find((c) => c !== undefined);
  if (text === undefined) return undefined;
  const ms = longValue(protocol.timestampMs);
  return { externalId, text, editedAt: ms ? new Date(ms) : null };
}

/**
 * An edit, however the version sends it: `messages.edited` data is the protocolMessage itself
 * (2.2.3+, also `send.message.update` for ours); a `messages.upsert` (2.2.x lets the
 * `editedMessage` wrapper through) or a `messages.update` (`message`, 2.3) may carry one inside
 * `message.protocolMessage` or `message.editedMessage.message.protocolMessage`. Revokes and other
 * protocol messages are not edits (deletes come as `messages.delete`).
 */
export function parseEdit(data: Json): ParsedEdit | undefined {
  if (obj(data.editedMessage)) return editOf(data);
  const message = obj(data.message);
  if (!message) return undefined;
  return editOf(obj(message.protocolMessage) ?? obj(obj(obj(message.editedMessage)?.message)?.protocolMessage));
}

/** `messages.update`: `{keyId, remoteJid, fromMe, status}`; older shapes carry `key.id` and `update.status`. */
export function parseStatusUpdate(data: Json): { externalId: string; status: MessageStatus } | undefined {
  const externalId = str(data.keyId) ?? str(obj(data.key)?.id);
  const status = deliveryStatus(data.status ?? obj(data.update)?.status);
  return externalId && status ? { externalId, status } : undefined;
}

/** `messages.delete`: `{...key, status: "DELETED"}` or `{key: {...}}`. */
export const parseDelete = (data: Json): string | undefined => str(data.id) ?? str(obj(data.key)?.id) ?? str(data.keyId);

/** `contacts.upsert|update` items. */
export function parseContact(data: Json): { jid: string; pushName?: string } | undefined {
  const jid = str(data.remoteJid) ?? str(data.id);
  if (!jid) return undefined;
  const pushName = str(data.pushName) ?? str(data.name) ?? str(data.notify);
  return { jid: bareJid(jid), ...(pushName ? { pushName: pushName.slice(0, 120) } : {}) };
}

/**
 * Both forms of a Brazilian mobile (with and without the 9th digit) in E.164, canonical first;
 * any other number as `+digits`.
 */
export function phoneVariants(digits: string): string[] {
  if (!/^\d{8,15}$/.test(digits)) return [];
  if (digits.startsWith('55') && digits.length === 13 && digits[4] === '9') return [`+${digits}`, `+${digits.slice(0, 4)}${digits.slice(5)}`];
  if (digits.startsWith('55') && digits.length === 12 && /[6-9]/.test(digits[4]!)) return [`+${digits.slice(0, 4)}9${digits.slice(4)}`, `+${digits}`];
  return [`+${digits}`];
}
