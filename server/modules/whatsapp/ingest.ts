import { desc, eq, gt, inArray, isNull, sql, type SQL } from 'drizzle-orm';
import type { AnyPgColumn } from 'drizzle-orm/pg-core';
import type { MessageStatus } from '../../../shared/schema/index.js';
import { contactWhatsappIds, contacts, conversations, messages, whatsappEarlyStatuses, whatsappNumbers } from '../../../shared/schema/index.js';
import { ClinicData } from '../../infra/clinic-data.js';
import type { Tx } from '../../infra/db.js';
import type { Infra } from '../../infra/index.js';
import type { JobContext } from '../../infra/queue.js';
import type { ContactWriter } from '../contacts/service.js';
import type { WebhookEvent } from '../integrations/webhooks.js';
import { conversationEvent, UNNAMED_LEAD, type WhatsappContacts } from './contacts.js';
import { eventName, items, laterStatus, parseContact, parseDelete, parseMessage, parseStatusUpdate, type ParsedMessage } from './normalize.js';

export type NumberRow = { id: string; instanceName: string; groupsEnabled: boolean };

/** What the numbers module does with a connection event (its state machine). */
export type ConnectionEventHandler = (scope: ContactWriter, number: NumberRow, event: 'connection.update' | 'qrcode.updated', data: Record<string, unknown>) => Promise<void>;

/** Media types fetched after the message is stored. */
export const MEDIA_TYPES = new Set(['image', 'audio', 'video', 'document', 'sticker']);

/** How long a send that timed out waits for its webhook to name it (wa-inbox's reconciliation rule). */
const RECONCILE_WINDOW_MS = 10 * 60_000;

/** The forward order of statuses, in SQL; error and deleted (9) are never replaced. */
const rank = (status: SQL | AnyPgColumn) =>
  sql`(case ${status} when 'server_ack' then 1 when 'delivery_ack' then 2 when 'read' then 3 when 'played' then 4 when 'error' then 9 when 'deleted' then 9 else 0 end)`;

/** One message's rows are written one transaction at a time (a status racing its message). */
const lockMessage = (tx: Tx, numberId: string, externalId: string) => tx.execute(sql`select pg_advisory_xact_lock(hashtextextended(${`${numberId}:${externalId}`}, 7245))`);

/**
 * The webhook processor of Evolution deliveries (run by the integrations inbox job, safe twice):
 * messages stored once per (number, WhatsApp id) with their conversation, statuses moved forward
 * only, media fetched by a job, connection events handed to the numbers module.
 */
export class WhatsappIngest {
  constructor(
    private readonly infra: Pick<Infra, 'db' | 'events' | 'queue'>,
    private readonly who: WhatsappContacts,
    private readonly connectionEvents: ConnectionEventHandler,
  ) {}

  readonly process = async (event: WebhookEvent, job: JobContext): Promise<void> => {
    const envelope = event.payload as { event: string; instance: string; data: unknown };
    const name = eventName(envelope.event);
    const data = new ClinicData(event.clinicId, this.infra.db);
    const [number] = await data.pick(
      { id: whatsappNumbers.id, instanceName: whatsappNumbers.instanceName, groupsEnabled: whatsappNumbers.groupsEnabled },
      whatsappNumbers,
      eq(whatsappNumbers.connectionId, event.connectionId),
      eq(whatsappNumbers.instanceName, envelope.instance),
    );
    if (!number) {
      job.log.info({ event: name }, 'evolution event for a number that is gone');
      return;
    }
    const scope: ContactWriter = { clinicId: event.clinicId, actor: null, requestId: job.requestId };
    for (const item of items(envelope.data)) {
      switch (name) {
        case 'messages.upsert':
        case 'send.message': {
          const parsed = parseMessage(item);
          if (parsed) await this.store(scope, number, parsed);
          break;
        }
        case 'messages.update': {
          const update = parseStatusUpdate(item);
          if (update) await this.applyStatus(scope, number.id, update.externalId, update.status);
          break;
        }
        case 'messages.delete': {
          const id = parseDelete(item);
          if (id) await this.applyStatus(scope, number.id, id, 'deleted');
          break;
        }
        case 'contacts.upsert':
        case 'contacts.update':
          await this.nameLead(scope, item);
          break;
        case 'connection.update':
        case 'qrcode.updated':
          await this.connectionEvents(scope, number, name, item);
          break;
      }
    }
  };

  /** Stores one message (or attaches its id to the send that timed out); a duplicate changes nothing. */
  async store(scope: ContactWriter, number: NumberRow, m: ParsedMessage): Promise<{ id: string; duplicate: boolean } | undefined> {
    if (m.chat === 'status@broadcast' || m.chat.endsWith('@newsletter') || m.chat.endsWith('@broadcast')) return undefined;
    if (m.group && !number.groupsEnabled) return undefined;
    if (!m.group && !m.phoneJid && !m.lid) return undefined;
    const contactId = await this.who.resolve(scope, m.group ? { groupJid: m.chat } : { ...(m.phoneJid ? { phoneJid: m.phoneJid } : {}), ...(m.lid ? { lid: m.lid } : {}), ...(m.pushName ? { pushName: m.pushName } : {}) });
    const stored = await new ClinicData(scope.clinicId, this.infra.db).transaction(async (data, tx) => {
      await lockMessage(tx, number.id, m.externalId);
      const [conv] = await data
        .insert(conversations, { numberId: number.id, contactId })
        .onConflictDoUpdate({ target: [conversations.numberId, conversations.contactId], set: { numberId: sql`excluded.number_id` } })
        .returning({ id: conversations.id });
      if (!conv) throw new Error('conversation upsert returned nothing');

      if (m.fromMe) {
        const reconciled = await this.reconcile(data, tx, scope, number.id, conv.id, m);
        if (reconciled) return { id: reconciled, duplicate: false, media: false };
      }
      const [early] = await data
        .delete(whatsappEarlyStatuses, eq(whatsappEarlyStatuses.numberId, number.id), eq(whatsappEarlyStatuses.externalId, m.externalId))
        .returning({ status: whatsappEarlyStatuses.status });
      let status: MessageStatus = m.status ?? (m.fromMe ? 'server_ack' : 'delivery_ack');
      if (early) status = laterStatus(status, early.status);
      const media = MEDIA_TYPES.has(m.type);
      const replyTo = m.quotedExternalId
        ? (await data.pick({ id: messages.id }, messages, eq(messages.numberId, number.id), eq(messages.externalId, m.quotedExternalId)))[0]?.id
        : undefined;
      const content = m.group ? { ...m.content, participant: { jid: m.phoneJid ?? m.lid ?? null, name: m.pushName ?? null } } : m.content;
      const [row] = await data
        .insert(messages, {
          conversationId: conv.id,
          numberId: number.id,
          externalId: m.externalId,
          direction: m.fromMe ? 'outbound' : 'inbound',
          sender: m.fromMe ? 'phone' : 'contact',
          type: m.type,
          rawType: m.rawType,
          text: m.text,
          content,
          quotedExternalId: m.quotedExternalId,
          replyToId: replyTo ?? null,
          status,
          mediaState: media ? 'pending' : null,
          mediaMimetype: m.media?.mimetype ?? null,
          mediaFileName: m.media?.fileName ?? null,
          sentAt: m.sentAt,
        })
        .onConflictDoNothing({ target: [messages.numberId, messages.externalId], where: sql`${messages.externalId} is not null` })
        .returning({ id: messages.id });
      if (!row) {
        // Stored before; a media fetch whose job was never added (a crash after commit) is added now.
        const [existing] = await data.pick({ id: messages.id, mediaState: messages.mediaState, attempts: messages.mediaAttempts }, messages, eq(messages.numberId, number.id), eq(messages.externalId, m.externalId));
        return existing ? { id: existing.id, duplicate: true, media: existing.mediaState === 'pending' && existing.attempts === 0 } : undefined;
      }
      const inbound = !m.fromMe;
      const [updated] = await data
        .update(
          conversations,
          {
            lastMessageAt: sql`greatest(${conversations.lastMessageAt}, ${m.sentAt.toISOString()}::timestamptz)`,
            lastMessageId: sql`case when ${conversations.lastMessageAt} is null or ${conversations.lastMessageAt} <= ${m.sentAt.toISOString()}::timestamptz then ${row.id}::uuid else ${conversations.lastMessageId} end`,
            unreadCount: inbound ? sql`${conversations.unreadCount} + 1` : conversations.unreadCount,
            // A patient's message reopens a resolved or snoozed conversation.
            ...(inbound ? { status: sql`case when ${conversations.status} in ('resolved', 'snoozed') then 'open'::conversation_status else ${conversations.status} end`, snoozedUntil: sql`case when ${conversations.status} in ('resolved', 'snoozed') then null else ${conversations.snoozedUntil} end` } : {}),
            updatedAt: new Date(),
          },
          eq(conversations.id, conv.id),
        )
        .returning();
      if (inbound) await this.infra.events.publish(tx, 'message.received', { id: row.id, conversationId: conv.id, contactId, numberId: number.id, externalId: m.externalId }, scope);
      else await this.infra.events.publish(tx, 'message.sent', { id: row.id, conversationId: conv.id, numberId: number.id, sender: 'phone' }, scope);
      if (updated) await this.infra.events.publish(tx, 'conversation.updated', conversationEvent(updated), scope);
      return { id: row.id, duplicate: false, media };
    });
    if (stored?.media) await this.infra.queue.add('whatsapp.media', { messageId: stored.id }, { jobId: `media:${stored.id}`, context: scope });
    return stored && { id: stored.id, duplicate: stored.duplicate };
  }

  /**
   * A `fromMe` message we have no id for may be our own send that timed out: the oldest outbound
   * message of this conversation still pending or unconfirmed, without an id, of the same type and
   * text, from the last 10 minutes, takes the id (status at least server_ack).
   */
  private async reconcile(data: ClinicData, tx: Tx, scope: ContactWriter, numberId: string, conversationId: string, m: ParsedMessage): Promise<string | undefined> {
    const [known] = await data.pick({ id: messages.id }, messages, eq(messages.numberId, numberId), eq(messages.externalId, m.externalId));
    if (known) return undefined;
    const [candidate] = await data
      .pick({ id: messages.id, status: messages.status, mediaState: messages.mediaState }, messages, eq(messages.conversationId, conversationId), isNull(messages.externalId), eq(messages.direction, 'outbound'), inArray(messages.status, ['pending', 'unconfirmed']), eq(messages.type, m.type), m.text === null ? isNull(messages.text) : eq(messages.text, m.text), gt(messages.createdAt, new Date(Date.now() - RECONCILE_WINDOW_MS)))
      .orderBy(messages.createdAt)
      .limit(1)
      .for('update');
    if (!candidate) return undefined;
    const status = laterStatus('server_ack', m.status ?? 'server_ack');
    await data.update(messages, { externalId: m.externalId, status, error: null, updatedAt: new Date() }, eq(messages.id, candidate.id));
    await this.infra.events.publish(tx, 'message.updated', { id: candidate.id, conversationId, numberId, status, mediaState: candidate.mediaState }, scope);
    return candidate.id;
  }

  /** Moves a message's status forward only; one not stored yet keeps the status for when it comes. */
  async applyStatus(scope: ContactWriter, numberId: string, externalId: string, status: MessageStatus): Promise<boolean> {
    return new ClinicData(scope.clinicId, this.infra.db).transaction(async (data, tx) => {
      await lockMessage(tx, numberId, externalId);
      const [row] = await data
        .update(messages, { status, updatedAt: new Date() }, eq(messages.numberId, numberId), eq(messages.externalId, externalId), sql`${rank(messages.status)} < ${rank(sql`${status}`)}`)
        .returning({ id: messages.id, conversationId: messages.conversationId, mediaState: messages.mediaState });
      if (row) {
        await this.infra.events.publish(tx, 'message.updated', { id: row.id, conversationId: row.conversationId, numberId, status, mediaState: row.mediaState }, scope);
        return true;
      }
      const [exists] = await data.pick({ id: messages.id }, messages, eq(messages.numberId, numberId), eq(messages.externalId, externalId));
      if (exists) return false;
      await data
        .insert(whatsappEarlyStatuses, { numberId, externalId, status })
        .onConflictDoUpdate({
          target: [whatsappEarlyStatuses.numberId, whatsappEarlyStatuses.externalId],
          set: { status: sql`case when ${rank(whatsappEarlyStatuses.status)} < ${rank(sql`excluded.status`)} then excluded.status else ${whatsappEarlyStatuses.status} end` },
        });
      return false;
    });
  }

  /** An address-book name fills a lead we had to call "Contato do WhatsApp"; a registered patient's name is never touched. */
  private async nameLead(scope: ContactWriter, item: Record<string, unknown>) {
    const contact = parseContact(item);
    if (!contact?.pushName || contact.jid.endsWith('@g.us')) return;
    const data = new ClinicData(scope.clinicId, this.infra.db);
    const [lead] = await data
      .pick({ id: contacts.id }, contacts, eq(contacts.status, 'lead'), eq(contacts.name, UNNAMED_LEAD), isNull(contacts.deletedAt))
      .innerJoin(contactWhatsappIds, data.owns(contactWhatsappIds, eq(contactWhatsappIds.contactId, contacts.id), eq(contactWhatsappIds.jid, contact.jid)))
      .orderBy(desc(contacts.createdAt))
      .limit(1);
    if (lead) await this.who.rename(scope, lead.id, contact.pushName);
  }
}

