import { and, desc, eq, inArray, isNull, sql } from 'drizzle-orm';
import type { MessageView, SendMessage } from '../../../shared/api/inbox.js';
import { conversations, messages } from '../../../shared/schema/index.js';
import type { MessageType } from '../../../shared/schema/whatsapp.js';
import { ClinicData } from '../../infra/clinic-data.js';
import type { Tx } from '../../infra/db.js';
import type { Infra } from '../../infra/index.js';
import type { TenantContext } from '../../http/context.js';
import { afterCursor, encodeCursor } from '../../lib/cursor.js';
import { badRequest, conflict, notFound } from '../../lib/errors.js';
import type { ChannelProvider } from '../integrations/providers.js';
import type { FileService } from '../files/service.js';
import { viewerOf } from './access.js';
import type { ConversationService } from './conversations.js';

/** The WhatsApp number's client, if it is linked (409 `number_not_connected` otherwise): the whatsapp module's `channels`. */
export interface InboxChannels {
  forNumber(clinicId: string, numberId: string): Promise<{ instance: string; client: ChannelProvider }>;
}

type MediaKind = 'image' | 'video' | 'audio' | 'document';

/** What WhatsApp takes, by file type: audio goes as a voice note; HEIC and the rest are refused. */
const MEDIA_KINDS: Record<string, MediaKind> = {
  'image/jpeg': 'image',
  'image/png': 'image',
  'image/webp': 'image',
  'video/mp4': 'video',
  'audio/ogg': 'audio',
  'audio/mpeg': 'audio',
  'application/pdf': 'document',
  'text/plain': 'document',
  'application/msword': 'document',
  'application/vnd.openxmlformats-officedocument.wordprocessingml.document': 'document',
};
/** WhatsApp's limit for images, audio and video (documents may be larger than our 25 MB uploads). */
const MAX_MEDIA_BYTES = 16 * 1024 * 1024;

export type MessageRow = typeof messages.$inferSelect;

export function messageView(m: MessageRow): MessageView {
  return {
    id: m.id,
    conversationId: m.conversationId,
    direction: m.direction,
    sender: m.sender,
    authorUserId: m.authorUserId,
    type: m.type,
    text: m.text,
    content: m.content ?? null,
    status: m.status,
    error: m.error,
    replyToId: m.replyToId,
    media: m.type === 'text' ? null : { state: m.mediaState, fileId: m.fileId, mimetype: m.mediaMimetype, fileName: m.mediaFileName },
    editedAt: m.editedAt?.toISOString() ?? null,
    sentAt: m.sentAt.toISOString(),
    createdAt: m.createdAt.toISOString(),
  };
}

/** Sends are never retried blindly by clients either: the key is required, not just honoured (checked after the 404). */
function requireKey(keyed: boolean) {
  if (!keyed) throw badRequest('idempotency_key_required', 'Envie o cabeçalho Idempotency-Key para enviar mensagens');
}

/** What `sendAutomated` stores: text only, from the assistant (`ai`) or an automation such as reminders (`system`). */
export interface AutomatedMessage {
  sender: 'ai' | 'system';
  text: string;
  /** Idempotency: one message per key and clinic, ever. */
  key: string;
  /** The assistant's sources and tool calls; never shown to the patient. */
  meta?: Record<string, unknown>;
}

const cursorOf = (m: MessageRow) => encodeCursor({ createdAt: m.sentAt, id: m.id });

/** A conversation's messages, and what members send: stored `pending`, then sent once by the `whatsapp.send` job. */
export class MessageService {
  constructor(
    private readonly infra: Infra,
    private readonly conversations: ConversationService,
    private readonly files: FileService,
    private readonly channels: InboxChannels,
  ) {}

  private data(clinicId: string) {
    return new ClinicData(clinicId, this.infra.db);
  }

  /** Newest first; `before` is the previous page's cursor (older messages). */
  async list(ctx: TenantContext, conversationId: string, q: { before?: string; limit: number }) {
    await this.conversations.get(viewerOf(ctx), conversationId);
    const rows = await this.data(ctx.clinicId)
      .select(messages, eq(messages.conversationId, conversationId), afterCursor(messages.sentAt, messages.id, q.before))
      .orderBy(desc(messages.sentAt), desc(messages.id))
      .limit(q.limit + 1);
    const items = rows.slice(0, q.limit);
    const last = items[items.length - 1];
    return { items: items.map(messageView), nextCursor: rows.length > q.limit && last ? cursorOf(last) : null };
  }

  /**
   * Stores the message as `pending` and publishes `message.sent`; the `inbox-send` subscriber enqueues
   * its job (keyed by message and attempt), so a stored message always gets its job, once.
   * Nothing is stored when the number is not linked (409), the file is not this clinic's (404) or
   * WhatsApp would refuse its type or size (400).
   */
  async send(ctx: TenantContext, conversationId: string, input: SendMessage, keyed: boolean): Promise<MessageView> {
    const conversation = await this.conversations.get(viewerOf(ctx), conversationId);
    requireKey(keyed);
    const media = input.fileId ? await this.media(ctx, input.fileId, input.text) : undefined;
    const reply = input.replyTo ? await this.replyTarget(ctx.clinicId, conversationId, input.replyTo) : undefined;
    await this.channels.forNumber(ctx.clinicId, conversation.number.id);
    const row = await this.data(ctx.clinicId).transaction(async (data, tx) => {
      const [created] = await data
        .insert(messages, {
          conversationId,
          numberId: conversation.number.id,
          direction: 'outbound',
          sender: 'user',
          authorUserId: ctx.actor.type === 'user' ? ctx.actor.userId : null,
          type: media?.type ?? 'text',
          text: input.text ?? null,
          fileId: media?.fileId ?? null,
          mediaMimetype: media?.mimetype ?? null,
          mediaFileName: media?.fileName ?? null,
          mediaState: media ? 'stored' : null,
          replyToId: reply?.id ?? null,
          quotedExternalId: reply?.externalId ?? null,
          status: 'pending',
        })
        .returning();
      if (!created) throw new Error('insert returned nothing');
      await data.update(conversations, { lastMessageId: created.id, lastMessageAt: created.sentAt, updatedAt: sql`now()` }, eq(conversations.id, conversationId));
      await this.infra.events.publish(tx, 'message.sent', { id: created.id, conversationId, numberId: created.numberId, sender: 'user' }, ctx);
      return created;
    });
    return messageView(row);
  }

  /**
   * A message a feature sends on its own (the assistant's answer, a reminder), stored and sent like a
   * member's. `key` names what it answers (`ai-reply:<message id>`, `reminder:<appointment>:<kind>:<start>`):
   * a second call with the same key stores nothing and returns the first message, so a retried job
   * never sends twice. The conversation must be the context's clinic's; the number must be linked (409).
   */
  async sendAutomated(ctx: TenantContext, conversationId: string, input: AutomatedMessage): Promise<{ message: MessageView; created: boolean }> {
    const [conversation] = await this.data(ctx.clinicId).pick({ numberId: conversations.numberId }, conversations, eq(conversations.id, conversationId));
    if (!conversation) throw notFound('Conversation');
    await this.channels.forNumber(ctx.clinicId, conversation.numberId);
    return this.data(ctx.clinicId).transaction(async (data, tx) => {
      const [created] = await data
        .insert(messages, {
          conversationId,
          numberId: conversation.numberId,
          direction: 'outbound',
          sender: input.sender,
          type: 'text',
          text: input.text,
          meta: input.meta ?? null,
          automationKey: input.key,
          status: 'pending',
        })
        .onConflictDoNothing({ target: [messages.clinicId, messages.automationKey], where: sql`${messages.automationKey} is not null` })
        .returning();
      if (!created) {
        const [existing] = await data.select(messages, eq(messages.automationKey, input.key));
        if (!existing) throw new Error('automated message neither inserted nor found');
        return { message: messageView(existing), created: false };
      }
      await data.update(conversations, { lastMessageId: created.id, lastMessageAt: created.sentAt, updatedAt: sql`now()` }, eq(conversations.id, conversationId));
      await this.infra.events.publish(tx, 'message.sent', { id: created.id, conversationId, numberId: created.numberId, sender: input.sender }, ctx);
      return { message: messageView(created), created: true };
    });
  }

  /** A new attempt for a `failed` or `unconfirmed` message, asked by a member (a timed-out send may then arrive twice: their call). */
  async resend(ctx: TenantContext, conversationId: string, messageId: string, keyed: boolean): Promise<MessageView> {
    const conversation = await this.conversations.get(viewerOf(ctx), conversationId);
    requireKey(keyed);
    const [current] = await this.data(ctx.clinicId).select(messages, eq(messages.id, messageId), eq(messages.conversationId, conversationId));
    if (!current) throw notFound('Message');
    await this.channels.forNumber(ctx.clinicId, conversation.number.id);
    const row = await this.data(ctx.clinicId).transaction(async (data, tx) => {
      const [updated] = await data
        .update(
          messages,
          { status: 'pending', error: null, sendingAt: null, sendAttempt: sql`${messages.sendAttempt} + 1`, updatedAt: sql`now()` },
          eq(messages.id, messageId),
          eq(messages.direction, 'outbound'),
          inArray(messages.sender, ['user', 'ai', 'system']),
          inArray(messages.status, ['failed', 'unconfirmed']),
          isNull(messages.externalId),
        )
        .returning();
      if (updated) await publishUpdated(this.infra, tx, updated, ctx);
      return updated;
    });
    if (!row) throw conflict('message_not_resendable', 'Só mensagens que falharam ou não foram confirmadas podem ser reenviadas', { status: current.status });
    return messageView(row);
  }

  private async media(ctx: TenantContext, fileId: string, caption: string | undefined) {
    const file = await this.files.get(ctx.clinicId, fileId);
    await this.files.checkGuards(ctx, fileId, 'read');
    const kind = MEDIA_KINDS[file.contentType];
    if (!kind) throw badRequest('unsupported_media_type', 'O WhatsApp não aceita arquivos deste tipo', { contentType: file.contentType });
    if (kind !== 'document' && file.size > MAX_MEDIA_BYTES) throw badRequest('media_too_large', 'O WhatsApp aceita imagens, áudios e vídeos de até 16 MB');
    if (kind === 'audio' && caption !== undefined) throw badRequest('caption_not_allowed', 'Mensagens de voz não têm legenda');
    return { fileId, type: kind as MessageType, mimetype: file.contentType, fileName: file.filename };
  }

  private async replyTarget(clinicId: string, conversationId: string, id: string) {
    const [target] = await this.data(clinicId).pick({ id: messages.id, externalId: messages.externalId }, messages, eq(messages.id, id), eq(messages.conversationId, conversationId));
    if (!target) throw notFound('Message');
    if (!target.externalId) throw badRequest('reply_target_not_sent', 'Só é possível responder a mensagens que já estão no WhatsApp');
    return target;
  }
}

export function publishUpdated(infra: Infra, tx: Tx, m: MessageRow, meta: { clinicId: string }) {
  return infra.events.publish(tx, 'message.updated', { id: m.id, conversationId: m.conversationId, numberId: m.numberId, status: m.status, mediaState: m.mediaState }, meta);
}

/** Used by the send job: the outbound messages it may send. */
export const sendable = and(eq(messages.direction, 'outbound'), eq(messages.status, 'pending'), isNull(messages.externalId));
/** Used by the gateway lookup: the outbound messages that may or may not have gone out. */
export const unconfirmedSend = and(eq(messages.direction, 'outbound'), eq(messages.status, 'unconfirmed'), isNull(messages.externalId));
