import { desc, eq, gt, inArray, isNull, sql, type SQL } from 'drizzle-orm';
import type { AnyPgColumn } from 'drizzle-orm/pg-core';
import type { MessageStatus } from '../../../shared/schema/index.js';
import { contactWhatsappIds, contacts, conversations, messages, whatsappEarlyStatuses } from '../../../shared/schema/index.js';
import { ClinicData } from '../../infra/clinic-data.js';
import type { Tx } from '../../infra/db.js';
import type { Infra } from '../../infra/index.js';
import type { JobContext } from '../../infra/queue.js';
import type { ContactWriter } from '../contacts/service.js';
import type { PendingEvent } from '../../infra/outbox.js';
import type { SettleDelivery, WebhookEvent } from '../integrations/webhooks.js';
import { conversationEvent, UNNAMED_LEAD, type WhatsappContacts } from './contacts.js';
import type { NumberLookup, NumberRow } from './lookup.js';
import { eventName, items, laterStatus, parseContact, parseDelete, parseEdit, parseMessage, parseStatusUpdate, type ParsedEdit, type ParsedMessage } from './normalize.js';

export type { NumberRow };

/** What the numbers module does with a connection event (its state machine). */
export type ConnectionEventHandler = (scope: ContactWriter, number: NumberRow, event: 'connection.update' | 'qrcode.updated', data: Record<string, unknown>) => Promise<void>;

/** Media types fetched after the message is stored. */
export const MEDIA_TYPES = new Set(['image', 'audio', 'video', 'document', 'sticker']);

/** How long a send that timed out waits for its webhook to name it (wa-inbox's reconciliation rule). */
const RECONCILE_WINDOW_MS = 10 * 60_000;

/** The forward order of statuses, in SQL; error and deleted (9) are never replaced. */
const rank = (status: SQL | AnyPgColumn) =>
  sql`(case ${status} when 'server_ack' then 1 when 'delivery_ack' then 2 when 'read' then 3 when 'played' then 4 when 'error' then 9 when 'deleted' then 9 else 0 end)`;

/**
 * One message's rows are written one transaction at a time (a status racing its message). A
 * delivery's messages are locked at once, in a fixed order, so two deliveries never wait on each other in a cycle.
 */
const lockMessages = (tx: Tx, numberId: string, externalIds: string[]) => {
  const keys = [...new Set(externalIds)].sort().map((id) => sql`${`${numberId}:${id}`}`);
  // unnest keeps the array's order.
  return tx.execute(sql`select pg_advisory_xact_lock(hashtextextended(k, 7245)) from unnest(array[${sql.join(keys, sql`, `)}]::text[]) as k`);
};

/** One change a delivery makes, planned before its transaction (contacts are resolved by then). */
type Change = { kind: 'message'; m: ParsedMessage; contactId: string } | { kind: 'status'; externalId: string; status: MessageStatus } | { kind: 'edit'; edit: ParsedEdit };

const MESSAGE_EVENTS = new Set(['messages.upsert', 'send.message', 'messages.update', 'messages.delete', 'messages.edited', 'send.message.update']);

/**
 * The webhook processor of Evolution deliveries (run by the integrations inbox job, safe twice):
 * messages stored once per (number, WhatsApp id) with their conversation, statuses moved forward
 * only, edits applied, media fetched by a job, connection events handed to the numbers module.
 * A delivery's message changes, their events and its `processed_at` commit in one transaction.
 */
export class WhatsappIngest {
  constructor(
    private readonly infra: Pick<Infra, 'db' | 'events' | 'queue'>,
    private readonly who: WhatsappContacts,
    private readonly lookup: Pick<NumberLookup, 'find'>,
    private readonly connectionEvents: ConnectionEventHandler,
  ) {}

  readonly process = async (event: WebhookEvent, job: JobContext, settle: SettleDelivery): Promise<void> => {
    const envelope = event.payload as { event: string; instance: string; data: unknown };
    const name = eventName(envelope.event);
    const number = await this.lookup.find(event.clinicId, event.connectionId, envelope.instance);
    if (!number) {
      job.log.info({ event: name }, 'evolution event for a number that is gone');
      return;
    }
    const scope: ContactWriter = { clinicId: event.clinicId, actor: null, requestId: job.requestId };
    const list = items(envelope.data);
    if (!MESSAGE_EVENTS.has(name)) {
      for (const item of list) {
        if (name === 'contacts.upsert' || name === 'contacts.update') await this.nameLead(scope, item);
        else if (name === 'connection.update' || name === 'qrcode.updated') await this.connectionEvents(scope, number, name, item);
      }
      return;
    }
    const changes: Change[] = [];
    for (const item of list) changes.push(...(await this.plan(scope, number, name, item)));
    if (changes.length === 0) return;
    const media = await new ClinicData(scope.clinicId, this.infra.db).transaction(async (data, tx) => {
      // Another run got here first: its writes stand.
      if (!(await settle(tx))) return [];
      await lockMessages(tx, number.id, changes.map((c) => (c.kind === 'message' ? c.m.externalId : c.kind === 'status' ? c.externalId : c.edit.externalId)));
      const events: PendingEvent[] = [];
      const fetch: string[] = [];
      for (const c of changes) {
        if (c.kind === 'message') {
          const stored = await this.store(data, number, c.m, c.contactId, events);
          if (stored?.media) fetch.push(stored.id);
        } else if (c.kind === 'status') await this.applyStatus(data, number.id, c.externalId, c.status, events);
        else await this.applyEdit(data, number.id, c.edit, events);
      }
      await this.infra.events.publishMany(tx, events, scope);
      return fetch;
    });
    for (const messageId of media) await this.infra.queue.add('whatsapp.media', { messageId }, { jobId: `media:${messageId}`, context: scope });
  };

  /** What one item of a message event changes; a message's sender is resolved here, before the transaction (the contacts service owns its own). */
  private async plan(scope: ContactWriter, number: NumberRow, name: string, item: Record<string, unknown>): Promise<Change[]> {
    const edit = parseEdit(item);
    if (name === 'messages.edited' || name === 'send.message.update') return edit ? [{ kind: 'edit', edit }] : [];
    if (name === 'messages.update') {
      const update = parseStatusUpdate(item);
      return [...(update ? [{ kind: 'status' as const, ...update }] : []), ...(edit ? [{ kind: 'edit' as const, edit }] : [])];
    }
    if (name === 'messages.delete') {
      const id = parseDelete(item);
      return id ? [{ kind: 'status', externalId: id, status: 'deleted' }] : [];
    }
    // messages.upsert, send.message: an edit that came as a message is an edit, not a new message.
    if (edit) return [{ kind: 'edit', edit }];
    const m = parseMessage(item);
    if (!m) return [];
    if (m.chat === 'status@broadcast' || m.chat.endsWith('@newsletter') || m.chat.endsWith('@broadcast')) return [];
    if (m.group && !number.groupsEnabled) return [];
    if (!m.group && !m.phoneJid && !m.lid) return [];
    const contactId = await this.who.resolve(scope, m.group ? { groupJid: m.chat } : { ...(m.phoneJid ? { phoneJid: m.phoneJid } : {}), ...(m.lid ? { lid: m.lid } : {}), ...(m.pushName ? { pushName: m.pushName } : {}) });
    return [{ kind: 'message', m, contactId }];
  }

  /** Stores one message (or attaches its id to the send that timed out); a duplicate changes nothing. */
  private async store(data: ClinicData, number: NumberRow, m: ParsedMessage, contactId: string, events: PendingEvent[]): Promise<{ id: string; media: boolean } | undefined> {
    const [conv] = await data
      .insert(conversations, { numberId: number.id, contactId })
      .onConflictDoUpdate({ target: [conversations.numberId, conversations.contactId], set: { numberId: sql`excluded.number_id` } })
      .returning({ id: conversations.id });
    if (!conv) throw new Error('conversation upsert returned nothing');

    if (m.fromMe) {
      const reconciled = await this.reconcile(data, number.id, conv.id, m, events);
      if (reconciled) return { id: reconciled, media: false };
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
      return existing ? { id: existing.id, media: existing.mediaState === 'pending' && existing.attempts === 0 } : undefined;
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
    if (inbound) events.push({ name: 'message.received', payload: { id: row.id, conversationId: conv.id, contactId, numberId: number.id, externalId: m.externalId } });
    else events.push({ name: 'message.sent', payload: { id: row.id, conversationId: conv.id, numberId: number.id, sender: 'phone' } });
    if (updated) events.push({ name: 'conversation.updated', payload: conversationEvent(updated) });
    return { id: row.id, media };
  }

  /**
   * A `fromMe` message we have no id for may be our own send that timed out: the oldest outbound
   * message of this conversation still pending or unconfirmed, without an id, of the same type and
   * text, from the last 10 minutes, takes the id (status at least server_ack).
   */
  private async reconcile(data: ClinicData, numberId: string, conversationId: string, m: ParsedMessage, events: PendingEvent[]): Promise<string | undefined> {
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
    events.push({ name: 'message.updated', payload: { id: candidate.id, conversationId, numberId, status, mediaState: candidate.mediaState } });
    return candidate.id;
  }

  /** Moves a message's status forward only; one not stored yet keeps the status for when it comes. */
  private async applyStatus(data: ClinicData, numberId: string, externalId: string, status: MessageStatus, events: PendingEvent[]): Promise<void> {
    const [row] = await data
      .update(messages, { status, updatedAt: new Date() }, eq(messages.numberId, numberId), eq(messages.externalId, externalId), sql`${rank(messages.status)} < ${rank(sql`${status}`)}`)
      .returning({ id: messages.id, conversationId: messages.conversationId, mediaState: messages.mediaState });
    if (row) {
      events.push({ name: 'message.updated', payload: { id: row.id, conversationId: row.conversationId, numberId, status, mediaState: row.mediaState } });
      return;
    }
    const [exists] = await data.pick({ id: messages.id }, messages, eq(messages.numberId, numberId), eq(messages.externalId, externalId));
    if (exists) return;
    await data
      .insert(whatsappEarlyStatuses, { numberId, externalId, status })
      .onConflictDoUpdate({
        target: [whatsappEarlyStatuses.numberId, whatsappEarlyStatuses.externalId],
        set: { status: sql`case when ${rank(whatsappEarlyStatuses.status)} < ${rank(sql`excluded.status`)} then excluded.status else ${whatsappEarlyStatuses.status} end` },
      });
  }

  /**
   * The sender edited a message: its text (or caption) is replaced and `edited_at` set; the text
   * before is not kept (docs/whatsapp.md). An older edit arriving after a newer one changes
   * nothing; so does an edit of a message we do not have, or one deleted.
   */
  private async applyEdit(data: ClinicData, numberId: string, edit: ParsedEdit, events: PendingEvent[]): Promise<void> {
    const at = edit.editedAt ?? new Date();
    const [row] = await data
      .update(
        messages,
        { text: edit.text, editedAt: at, updatedAt: new Date() },
        eq(messages.numberId, numberId),
        eq(messages.externalId, edit.externalId),
        sql`${messages.status} <> 'deleted'`,
        sql`(${messages.editedAt} is null or ${messages.editedAt} < ${at.toISOString()}::timestamptz)`,
        sql`${messages.text} is distinct from ${edit.text}`,
      )
      .returning({ id: messages.id, conversationId: messages.conversationId, status: messages.status, mediaState: messages.mediaState });
    if (row) events.push({ name: 'message.updated', payload: { id: row.id, conversationId: row.conversationId, numberId, status: row.status, mediaState: row.mediaState, editedAt: at.toISOString() } });
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

