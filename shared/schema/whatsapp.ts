import { sql } from 'drizzle-orm';
import { boolean, foreignKey, index, integer, jsonb, pgEnum, pgTable, text, timestamp, unique, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { contacts } from './contacts.js';
import { clinics, files, users } from './core.js';
import { integrationConnections } from './integrations.js';

const id = () => uuid('id').primaryKey().default(sql`gen_random_uuid()`);
const createdAt = () => timestamp('created_at', { withTimezone: true }).notNull().defaultNow();
const updatedAt = () => timestamp('updated_at', { withTimezone: true }).notNull().defaultNow();

/** Evolution's connection states plus ours: `qr` (waiting for a scan) and `broken` (probe or credentials failed). */
export const whatsappNumberStateEnum = pgEnum('whatsapp_number_state', ['connecting', 'qr', 'open', 'close', 'refused', 'broken']);
export const conversationStatusEnum = pgEnum('conversation_status', ['open', 'pending', 'snoozed', 'resolved']);
export const messageDirectionEnum = pgEnum('message_direction', ['inbound', 'outbound']);
/** Who wrote it: the patient, a member in the app, someone typing on the clinic's phone, or the assistant. */
export const messageSenderEnum = pgEnum('message_sender', ['contact', 'user', 'phone', 'ai', 'system']);
export const messageTypeEnum = pgEnum('message_type', ['text', 'image', 'audio', 'video', 'document', 'sticker', 'location', 'contact', 'unsupported']);
/**
 * Delivery, in the order it only moves forward: pending < server_ack < delivery_ack < read < played.
 * `unconfirmed` (a send timed out: Evolution may have sent it), `failed` (refused, never on WhatsApp),
 * `error` and `deleted` are set explicitly; error and deleted are terminal.
 */
export const messageStatusEnum = pgEnum('message_status', ['pending', 'unconfirmed', 'failed', 'server_ack', 'delivery_ack', 'read', 'played', 'error', 'deleted']);
export const mediaStateEnum = pgEnum('media_state', ['pending', 'stored', 'failed']);

export type WhatsappNumberState = (typeof whatsappNumberStateEnum.enumValues)[number];
export type ConversationStatus = (typeof conversationStatusEnum.enumValues)[number];
export type MessageStatus = (typeof messageStatusEnum.enumValues)[number];
export type MessageType = (typeof messageTypeEnum.enumValues)[number];

/**
 * A WhatsApp number of the clinic: one Evolution instance. Its credentials (instance token, the
 * per-connection `jwt_key`) live sealed in the integration connection; this row holds the state.
 */
export const whatsappNumbers = pgTable(
  'whatsapp_numbers',
  {
    id: id(),
    clinicId: uuid('clinic_id').notNull().references(() => clinics.id, { onDelete: 'cascade' }),
    connectionId: uuid('connection_id')
      .notNull()
      .references(() => integrationConnections.id, { onDelete: 'cascade' }),
    /** Evolution instance name; unique across the gateway, so across clinics. */
    instanceName: text('instance_name').notNull().unique('whatsapp_numbers_instance_unique'),
    name: text('name'),
    /** A private number: its conversations are visible to this professional and to admins only. */
    professionalId: uuid('professional_id').references(() => users.id, { onDelete: 'set null' }),
    /** The linked phone, E.164 digits, once known. */
    phone: text('phone'),
    state: whatsappNumberStateEnum('state').notNull().default('connecting'),
    /** Why it is refused or broken (provider error code, never a token). */
    stateReason: text('state_reason'),
    stateChangedAt: timestamp('state_changed_at', { withTimezone: true }).notNull().defaultNow(),
    lastProbeAt: timestamp('last_probe_at', { withTimezone: true }),
    groupsEnabled: boolean('groups_enabled').notNull().default(false),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [index('whatsapp_numbers_clinic_idx').on(t.clinicId), unique('whatsapp_numbers_clinic_id_unique').on(t.clinicId, t.id)],
);

/**
 * Every WhatsApp address a contact is known by: `5511987654321@s.whatsapp.net` and `...@lid`. A later
 * message carrying only the `@lid` finds the same contact through this table.
 */
export const contactWhatsappIds = pgTable(
  'contact_whatsapp_ids',
  {
    id: id(),
    clinicId: uuid('clinic_id').notNull().references(() => clinics.id, { onDelete: 'cascade' }),
    contactId: uuid('contact_id')
      .notNull()
      .references(() => contacts.id, { onDelete: 'cascade' }),
    jid: text('jid').notNull(),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex('contact_whatsapp_ids_jid_unique').on(t.clinicId, t.jid), index('contact_whatsapp_ids_contact_idx').on(t.contactId)],
);

/** One conversation per (number, contact), reopened rather than duplicated. */
export const conversations = pgTable(
  'conversations',
  {
    id: id(),
    clinicId: uuid('clinic_id').notNull().references(() => clinics.id, { onDelete: 'cascade' }),
    numberId: uuid('number_id').notNull(),
    contactId: uuid('contact_id')
      .notNull()
      .references(() => contacts.id),
    status: conversationStatusEnum('status').notNull().default('open'),
    assigneeId: uuid('assignee_id').references(() => users.id, { onDelete: 'set null' }),
    snoozedUntil: timestamp('snoozed_until', { withTimezone: true }),
    unreadCount: integer('unread_count').notNull().default(0),
    lastMessageId: uuid('last_message_id'),
    lastMessageAt: timestamp('last_message_at', { withTimezone: true }),
    /** The inbox's order: the last message's time, or the creation of a conversation without any (a reminder's, or one whose messages were removed). */
    activityAt: timestamp('activity_at', { withTimezone: true })
      .notNull()
      .generatedAlwaysAs(sql`coalesce(last_message_at, created_at)`),
    /** The assistant may answer (issue #12 fills the pause). */
    aiEnabled: boolean('ai_enabled').notNull().default(true),
    aiPausedUntil: timestamp('ai_paused_until', { withTimezone: true }),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    foreignKey({ name: 'conversations_number_fk', columns: [t.clinicId, t.numberId], foreignColumns: [whatsappNumbers.clinicId, whatsappNumbers.id] }).onDelete('cascade'),
    uniqueIndex('conversations_number_contact_unique').on(t.numberId, t.contactId),
    unique('conversations_clinic_id_unique').on(t.clinicId, t.id),
    // The inbox: newest activity first, cursor on (activity_at, id).
    index('conversations_inbox_idx').on(t.clinicId, t.activityAt, t.id),
    // The inbox filtered by status or by assignee, in the same order.
    index('conversations_inbox_status_idx').on(t.clinicId, t.status, t.activityAt, t.id),
    index('conversations_inbox_assignee_idx').on(t.clinicId, t.assigneeId, t.activityAt, t.id),
    index('conversations_contact_idx').on(t.clinicId, t.contactId),
    index('conversations_snoozed_idx').on(t.snoozedUntil).where(sql`${t.status} = 'snoozed'`),
    // The assistant's pause-expiry job reads the paused conversations only.
    index('conversations_ai_paused_idx').on(t.aiPausedUntil).where(sql`${t.aiPausedUntil} is not null`),
  ],
);

export const messages = pgTable(
  'messages',
  {
    id: id(),
    clinicId: uuid('clinic_id').notNull().references(() => clinics.id, { onDelete: 'cascade' }),
    conversationId: uuid('conversation_id').notNull(),
    /** Denormalised from the conversation: the dedupe key is (number, WhatsApp id). */
    numberId: uuid('number_id').notNull(),
    /** WhatsApp's `key.id`; null for an outbound message until Evolution accepted it. */
    externalId: text('external_id'),
    direction: messageDirectionEnum('direction').notNull(),
    sender: messageSenderEnum('sender').notNull(),
    /** The member who sent it from the app. */
    authorUserId: uuid('author_user_id').references(() => users.id, { onDelete: 'set null' }),
    type: messageTypeEnum('type').notNull(),
    /** Evolution's `messageType` as received (`reactionMessage`...), kept for `unsupported`. */
    rawType: text('raw_type'),
    /** Text or caption. Health data: never logged. */
    text: text('text'),
    /** Location, contact card, quoted preview...: the type-specific part. */
    content: jsonb('content').$type<Record<string, unknown>>(),
    quotedExternalId: text('quoted_external_id'),
    replyToId: uuid('reply_to_id'),
    status: messageStatusEnum('status').notNull().default('pending'),
    /** Why it failed (`not_on_whatsapp`, `number_not_connected`, ...). */
    error: text('error'),
    fileId: uuid('file_id').references(() => files.id, { onDelete: 'set null' }),
    mediaState: mediaStateEnum('media_state'),
    mediaMimetype: text('media_mimetype'),
    mediaFileName: text('media_file_name'),
    mediaAttempts: integer('media_attempts').notNull().default(0),
    /** Outbound: which send attempt this is (a resend asked by the user adds one); keys the send job. */
    sendAttempt: integer('send_attempt').notNull().default(1),
    /** Outbound: set while a send job holds the message (between its claim and the gateway's answer). */
    sendingAt: timestamp('sending_at', { withTimezone: true }),
    /** The assistant's sources and tool calls (issue #12). */
    meta: jsonb('meta').$type<Record<string, unknown>>(),
    /** Set on messages a feature sends on its own (`ai-reply:<id>`, `reminder:...`): unique per clinic, so a retry stores one. */
    automationKey: text('automation_key'),
    /** When the sender last edited it (WhatsApp's edit time); `text` is then the edited text. */
    editedAt: timestamp('edited_at', { withTimezone: true }),
    /** WhatsApp's `messageTimestamp`, or the time we stored an outbound one. */
    sentAt: timestamp('sent_at', { withTimezone: true }).notNull().defaultNow(),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    foreignKey({ name: 'messages_conversation_fk', columns: [t.clinicId, t.conversationId], foreignColumns: [conversations.clinicId, conversations.id] }).onDelete('cascade'),
    uniqueIndex('messages_clinic_automation_key_unique').on(t.clinicId, t.automationKey).where(sql`${t.automationKey} is not null`),
    uniqueIndex('messages_number_external_unique').on(t.numberId, t.externalId).where(sql`${t.externalId} is not null`),
    // Led by the clinic, as every query of messages is: a conversation's messages in order, and a
    // clinic's messages by time (the analytics ranges), without reading other clinics' rows.
    index('messages_clinic_conversation_sent_idx').on(t.clinicId, t.conversationId, t.sentAt, t.id),
    index('messages_clinic_sent_idx').on(t.clinicId, t.sentAt),
    // Inbox search by message text: the trigram index on opb_unaccent(lower(text)) is made by the
    // custom migration after the immutable opb_unaccent wrapper it needs (drizzle cannot declare it).
  ],
);
