import { z } from 'zod';
import { INSTANT_RANGE_MESSAGE, inInstantRange, isoTimestamp } from './common.js';
import { line, text } from './text.js';

export const conversationStatus = z.enum(['open', 'pending', 'snoozed', 'resolved']);

/** WhatsApp caps a text message at 4,096 characters. */
export const MAX_MESSAGE_TEXT = 4096;

const instant = z.iso.datetime({ offset: true }).refine((v) => inInstantRange(new Date(v)), INSTANT_RANGE_MESSAGE);

export const conversationListQuery = z.strictObject({
  status: conversationStatus.optional(),
  /** A member's id, or `none` for the unassigned ones. */
  assigneeId: z.union([z.uuid(), z.literal('none')]).optional(),
  numberId: z.uuid().optional(),
  /** `true`: only conversations with unread messages; `false`: only read ones. */
  unread: z.enum(['true', 'false']).optional(),
  /** Contact name, phone, or message text. */
  search: line(200).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().max(200).optional(),
});

export const conversationPatch = z
  .strictObject({
    status: conversationStatus.optional(),
    assigneeId: z.uuid().nullable().optional(),
    /** Required with `snoozed`, in the future; cleared by any other status. */
    snoozedUntil: instant.nullable().optional(),
    aiEnabled: z.boolean().optional(),
  })
  .refine((p) => Object.keys(p).length > 0, 'Nothing to change');

export const messageListQuery = z.strictObject({
  /** The `nextCursor` of the previous page: older messages. */
  before: z.string().max(200).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
});

export const sendMessage = z
  .strictObject({
    /** The message, or the caption of a file (not of a voice note). */
    text: text(MAX_MESSAGE_TEXT).refine((t) => t.trim().length > 0, 'Empty message').optional(),
    fileId: z.uuid().optional(),
    /** A message of this conversation to quote. */
    replyTo: z.uuid().optional(),
  })
  .refine((m) => m.text !== undefined || m.fileId !== undefined, 'Send a text or a file');

export const typingBody = z.strictObject({
  presence: z.enum(['composing', 'recording', 'paused']).default('composing'),
});

export const conversationParams = z.strictObject({ id: z.uuid() });
export const messageParams = z.strictObject({ id: z.uuid(), messageId: z.uuid() });

const lastMessage = z.object({
  id: z.uuid(),
  direction: z.enum(['inbound', 'outbound']),
  type: z.string(),
  status: z.string(),
  /** Text or caption, cut to 200 characters. */
  preview: z.string().nullable(),
  sentAt: isoTimestamp,
});

export const conversationView = z.object({
  id: z.uuid(),
  status: conversationStatus,
  assigneeId: z.uuid().nullable(),
  snoozedUntil: isoTimestamp.nullable(),
  unreadCount: z.number().int(),
  aiEnabled: z.boolean(),
  lastMessageAt: isoTimestamp.nullable(),
  lastMessage: lastMessage.nullable(),
  contact: z.object({ id: z.uuid(), name: z.string(), phone: z.string().nullable() }),
  number: z.object({ id: z.uuid(), name: z.string().nullable(), phone: z.string().nullable(), state: z.string(), professionalId: z.uuid().nullable() }),
  createdAt: isoTimestamp,
  updatedAt: isoTimestamp,
});

export const messageView = z.object({
  id: z.uuid(),
  conversationId: z.uuid(),
  direction: z.enum(['inbound', 'outbound']),
  sender: z.enum(['contact', 'user', 'phone', 'ai', 'system']),
  authorUserId: z.uuid().nullable(),
  type: z.string(),
  text: z.string().nullable(),
  content: z.record(z.string(), z.unknown()).nullable(),
  /** pending, unconfirmed (timed out: may have been sent), failed, server_ack, delivery_ack, read, played, error, deleted. */
  status: z.string(),
  /** Why it failed: `not_on_whatsapp`, `unavailable`, ... */
  error: z.string().nullable(),
  replyToId: z.uuid().nullable(),
  media: z.object({ state: z.string().nullable(), fileId: z.uuid().nullable(), mimetype: z.string().nullable(), fileName: z.string().nullable() }).nullable(),
  /** Set when the sender edited the message on WhatsApp: `text` is the edited text (the earlier one is not kept). */
  editedAt: isoTimestamp.nullable(),
  sentAt: isoTimestamp,
  createdAt: isoTimestamp,
});

export const readResult = z.object({ id: z.uuid(), unreadCount: z.literal(0) });

export type ConversationListQuery = z.infer<typeof conversationListQuery>;
export type ConversationPatch = z.infer<typeof conversationPatch>;
export type SendMessage = z.infer<typeof sendMessage>;
export type ConversationView = z.infer<typeof conversationView>;
export type MessageView = z.infer<typeof messageView>;
