import { and, desc, eq, gt, inArray, isNull, or, sql, type SQL } from 'drizzle-orm';
import type { AnyPgColumn } from 'drizzle-orm/pg-core';
import type { MessageStatus, mediaStateEnum } from '../../../shared/schema/index.js';
import { contactWhatsappIds, contacts, conversations, messages, whatsappEarlyStatuses } from '../../../shared/schema/index.js';
import { ClinicData } from '../../infra/clinic-data.js';
import { rowsOf, type Tx } from '../../infra/db.js';
import type { Infra } from '../../infra/index.js';
import type { ContactWriter } from '../contacts/service.js';
import type { PendingEvent } from '../../infra/outbox.js';
import type { WebhookProcessor } from '../integrations/webhooks.js';
import { conversationEvent, UNNAMED_LEAD, type ConversationEvent, type Sender, type WhatsappContacts } from './contacts.js';
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

/** One change a delivery makes, planned before its transaction; a message's sender is resolved with the batch's. */
type Change = { kind: 'message'; m: ParsedMessage; sender: Sender } | { kind: 'status'; externalId: string; status: MessageStatus } | { kind: 'edit'; edit: ParsedEdit };

/** A message to store, its sender resolved. */
type Incoming = { number: NumberRow; m: ParsedMessage; contactId: string };
type MessageKey = { numberId: string; externalId: string };

const MESSAGE_EVENTS = new Set(['messages.upsert', 'send.message', 'messages.update', 'messages.delete', 'messages.edited', 'send.message.update']);

const keyOf = (numberId: string, externalId: string) => `${numberId}:${externalId}`;

/** `table`'s rows of these (number, WhatsApp id) pairs: one `external_id in (...)` per number, on the unique index. */
function byMessage(table: { numberId: AnyPgColumn; externalId: AnyPgColumn }, keys: readonly MessageKey[]): SQL {
  const byNumber = new Map<string, string[]>();
  for (const k of keys) byNumber.set(k.numberId, [...(byNumber.get(k.numberId) ?? []), k.externalId]);
  return or(...[...byNumber].map(([numberId, ids]) => and(eq(table.numberId, numberId), inArray(table.externalId, ids)))) as SQL;
}

/**
 * The webhook processor of Evolution deliveries, a batch at a time (the integrations inbox's drain,
 * oldest first; safe twice): messages stored once per (number, WhatsApp id) with their
 * conversation, statuses moved forward only, edits applied, media fetched by a job, connection
 * events handed to the numbers module. A batch's message changes, their events and its deliveries'
 * `processed_at` commit in one transaction, with set-based statements.
 */
export class WhatsappIngest {
  constructor(
    private readonly infra: Pick<Infra, 'db' | 'events' | 'queue'>,
    private readonly who: WhatsappContacts,
    private readonly lookup: Pick<NumberLookup, 'find'>,
    private readonly connectionEvents: ConnectionEventHandler,
  ) {}

  readonly process: WebhookProcessor = async (deliveries, job, settle) => {
    const clinicId = deliveries[0]?.clinicId;
    if (!clinicId) return;
    const scope: ContactWriter = { clinicId, actor: null, requestId: job.requestId };
    const planned: { id: string; number: NumberRow; changes: Change[] }[] = [];
    for (const delivery of deliveries) {
      const envelope = delivery.payload as { event: string; instance: string; data: unknown };
      const name = eventName(envelope.event);
      const number = await this.lookup.find(clinicId, delivery.connectionId, envelope.instance);
      if (!number) {
        job.log.info({ event: name }, 'evolution event for a number that is gone');
        continue;
      }
      const list = items(envelope.data);
      if (!MESSAGE_EVENTS.has(name)) {
        // Their services' own transactions, safe to run again; marked processed by the inbox after.
        for (const item of list) {
          if (name === 'contacts.upsert' || name === 'contacts.update') await this.nameLead(scope, item);
          else if (name === 'connection.update' || name === 'qrcode.updated') await this.connectionEvents(scope, number, name, item);
        }
        continue;
      }
      const changes = list.flatMap((item) => this.plan(number, name, item));
      if (changes.length > 0) planned.push({ id: delivery.id, number, changes });
    }
    if (planned.length === 0) return;
    // Every sender of the batch at once, before the transaction (the contacts service owns its own).
    const senders = planned.flatMap((p) => p.changes.filter((c) => c.kind === 'message'));
    const contactIds = await this.who.resolveMany(scope, senders.map((c) => c.sender));
    const contactOf = new Map(senders.map((c, i) => [c, contactIds[i]!]));
    const media = await new ClinicData(clinicId, this.infra.db).transaction(async (data, tx) => {
      // Deliveries another run took first: its writes stand.
      const mine = await settle(tx, planned.map((p) => p.id));
      const work = planned.filter((p) => mine.has(p.id));
      const events: PendingEvent[] = [];
      const all = <K extends Change['kind']>(kind: K) => work.flatMap((p) => p.changes.flatMap((c) => (c.kind === kind ? [{ number: p.number, change: c as Extract<Change, { kind: K }> }] : [])));
      const fetch = await this.store(data, tx, all('message').map(({ number, change }) => ({ number, m: change.m, contactId: contactOf.get(change)! })), events);
      // Statuses after the batch's messages (a status before its message in the same batch applies), edits last (a delete wins).
      await this.applyStatuses(data, tx, all('status').map(({ number, change }) => ({ numberId: number.id, externalId: change.externalId, status: change.status })), events);
      for (const { number, change } of all('edit')) await this.applyEdit(data, number.id, change.edit, events);
      await this.infra.events.publishMany(tx, events, scope);
      return fetch;
    });
    for (const messageId of media) await this.infra.queue.add('whatsapp.media', { messageId }, { jobId: `media:${messageId}`, context: scope });
  };

  /** What one item of a message event changes. */
  private plan(number: NumberRow, name: string, item: Record<string, unknown>): Change[] {
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
    const sender: Sender = m.group ? { groupJid: m.chat } : { ...(m.phoneJid ? { phoneJid: m.phoneJid } : {}), ...(m.lid ? { lid: m.lid } : {}), ...(m.pushName ? { pushName: m.pushName } : {}) };
    return [{ kind: 'message', m, sender }];
  }

  /**
   * Stores the batch's messages (or attaches an id to the send that timed out); a duplicate, in the
   * batch or stored before, changes nothing. Answers the messages whose media to fetch.
   */
  private async store(data: ClinicData, tx: Tx, list: Incoming[], events: PendingEvent[]): Promise<string[]> {
    const seen = new Set<string>();
    const unique = list.filter(({ number, m }) => {
      const key = keyOf(number.id, m.externalId);
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    });
    if (unique.length === 0) return [];
    const pairs = new Map(unique.map(({ number, contactId }) => [keyOf(number.id, contactId), { numberId: number.id, contactId }]));
    // Batches are written as one jsonb parameter: drizzle's values() builds a parameter per row and
    // column on every batch (130 us a message row, all of it blocking the acks); this text is fixed.
    // Every string comes from a payload already stored as jsonb, so each is valid in jsonb again.
    const convs = rowsOf<{ id: string; numberId: string; contactId: string }>(
      await tx.execute(sql`
        insert into conversations (clinic_id, number_id, contact_id)
        select ${data.clinicId}::uuid, r.number_id, r.contact_id
        from jsonb_to_recordset(${JSON.stringify([...pairs.values()].map((p) => ({ number_id: p.numberId, contact_id: p.contactId })))}::jsonb) as r(number_id uuid, contact_id uuid)
        on conflict (number_id, contact_id) do update set number_id = excluded.number_id
        returning id, number_id as "numberId", contact_id as "contactId"`),
    );
    const conversationOf = new Map(convs.map((c) => [keyOf(c.numberId, c.contactId), c.id]));

    const rows: (Incoming & { conversationId: string })[] = [];
    for (const item of unique) {
      const conversationId = conversationOf.get(keyOf(item.number.id, item.contactId));
      if (!conversationId) throw new Error('conversation upsert returned nothing');
      if (item.m.fromMe && (await this.reconcile(data, item.number.id, conversationId, item.m, events))) continue;
      rows.push({ ...item, conversationId });
    }
    if (rows.length === 0) return [];
    const keys = rows.map((r) => ({ numberId: r.number.id, externalId: r.m.externalId }));
    const early = await data.delete(whatsappEarlyStatuses, byMessage(whatsappEarlyStatuses, keys)).returning({ numberId: whatsappEarlyStatuses.numberId, externalId: whatsappEarlyStatuses.externalId, status: whatsappEarlyStatuses.status });
    const earlyOf = new Map(early.map((e) => [keyOf(e.numberId, e.externalId), e.status]));
    const quoted = rows.flatMap((r) => (r.m.quotedExternalId ? [{ numberId: r.number.id, externalId: r.m.quotedExternalId }] : []));
    const replies = quoted.length > 0 ? await data.pick({ id: messages.id, numberId: messages.numberId, externalId: messages.externalId }, messages, byMessage(messages, quoted)) : [];
    const replyOf = new Map(replies.map((r) => [keyOf(r.numberId, r.externalId ?? ''), r.id]));

    const batch = rows.map(({ number, m, conversationId }) => {
      const found = earlyOf.get(keyOf(number.id, m.externalId));
      const status: MessageStatus = m.status ?? (m.fromMe ? 'server_ack' : 'delivery_ack');
      return {
        conversation_id: conversationId,
        number_id: number.id,
        external_id: m.externalId,
        direction: m.fromMe ? 'outbound' : 'inbound',
        sender: m.fromMe ? 'phone' : 'contact',
        type: m.type,
        raw_type: m.rawType,
        text: m.text,
        content: m.group ? { ...m.content, participant: { jid: m.phoneJid ?? m.lid ?? null, name: m.pushName ?? null } } : m.content,
        quoted_external_id: m.quotedExternalId,
        reply_to_id: (m.quotedExternalId && replyOf.get(keyOf(number.id, m.quotedExternalId))) ?? null,
        status: found ? laterStatus(status, found) : status,
        media_state: MEDIA_TYPES.has(m.type) ? 'pending' : null,
        media_mimetype: m.media?.mimetype ?? null,
        media_file_name: m.media?.fileName ?? null,
        sent_at: m.sentAt.toISOString(),
      };
    });
    const inserted = rowsOf<{ id: string; numberId: string; externalId: string | null }>(
      await tx.execute(sql`
        insert into messages (clinic_id, conversation_id, number_id, external_id, direction, sender, type, raw_type, text, content,
          quoted_external_id, reply_to_id, status, media_state, media_mimetype, media_file_name, sent_at)
        select ${data.clinicId}::uuid, r.conversation_id, r.number_id, r.external_id, r.direction, r.sender, r.type, r.raw_type, r.text, r.content,
          r.quoted_external_id, r.reply_to_id, r.status, r.media_state, r.media_mimetype, r.media_file_name, r.sent_at
        from jsonb_to_recordset(${JSON.stringify(batch)}::jsonb) as r(conversation_id uuid, number_id uuid, external_id text, direction message_direction,
          sender message_sender, type message_type, raw_type text, text text, content jsonb, quoted_external_id text, reply_to_id uuid,
          status message_status, media_state media_state, media_mimetype text, media_file_name text, sent_at timestamptz)
        on conflict (number_id, external_id) where external_id is not null do nothing
        returning id, number_id as "numberId", external_id as "externalId"`),
    );
    const idOf = new Map(inserted.map((r) => [keyOf(r.numberId, r.externalId ?? ''), r.id]));

    const fetch: string[] = [];
    // Stored before: a media fetch whose job was never added (a crash after commit) is added now.
    const old = rows.filter((r) => !idOf.has(keyOf(r.number.id, r.m.externalId)) && MEDIA_TYPES.has(r.m.type));
    if (old.length > 0) {
      const existing = await data.pick({ id: messages.id, mediaState: messages.mediaState, attempts: messages.mediaAttempts }, messages, byMessage(messages, old.map((r) => ({ numberId: r.number.id, externalId: r.m.externalId }))));
      fetch.push(...existing.filter((e) => e.mediaState === 'pending' && e.attempts === 0).map((e) => e.id));
    }
    /** Per conversation: its newest stored message (a later one wins a tie, as one at a time would) and the patient's count. */
    const moves = new Map<string, { at: Date; messageId: string; unread: number }>();
    for (const r of rows) {
      const id = idOf.get(keyOf(r.number.id, r.m.externalId));
      if (!id) continue;
      const inbound = !r.m.fromMe;
      // A reply to a message stored earlier in this batch (rare: the ids were not known before the insert).
      const target = r.m.quotedExternalId ? idOf.get(keyOf(r.number.id, r.m.quotedExternalId)) : undefined;
      if (target && !replyOf.has(keyOf(r.number.id, r.m.quotedExternalId!))) await data.update(messages, { replyToId: target }, eq(messages.id, id));
      if (MEDIA_TYPES.has(r.m.type)) fetch.push(id);
      const move = moves.get(r.conversationId) ?? { at: r.m.sentAt, messageId: id, unread: 0 };
      if (r.m.sentAt >= move.at) Object.assign(move, { at: r.m.sentAt, messageId: id });
      move.unread += inbound ? 1 : 0;
      moves.set(r.conversationId, move);
      if (inbound) events.push({ name: 'message.received', payload: { id, conversationId: r.conversationId, contactId: r.contactId, numberId: r.number.id, externalId: r.m.externalId } });
      else events.push({ name: 'message.sent', payload: { id, conversationId: r.conversationId, numberId: r.number.id, sender: 'phone' } });
    }
    if (moves.size === 0) return fetch;
    // One statement for every conversation: last message moved only forward in time; a patient's message adds to unread and reopens a resolved or snoozed one.
    const values = sql.join([...moves].map(([id, v]) => sql`(${id}::uuid, ${v.at.toISOString()}::timestamptz, ${v.messageId}::uuid, ${v.unread}::int)`), sql`, `);
    const reopen = sql`v.unread > 0 and conversations.status in ('resolved', 'snoozed')`;
    const updated = rowsOf<ConversationEvent>(
      await tx.execute(sql`
        update conversations set
          last_message_at = greatest(conversations.last_message_at, v.at),
          last_message_id = case when conversations.last_message_at is null or conversations.last_message_at <= v.at then v.message_id else conversations.last_message_id end,
          unread_count = conversations.unread_count + v.unread,
          status = case when ${reopen} then 'open'::conversation_status else conversations.status end,
          snoozed_until = case when ${reopen} then null else conversations.snoozed_until end,
          updated_at = now()
        from (values ${values}) as v(id, at, message_id, unread)
        where ${data.owns(conversations)} and conversations.id = v.id
        returning conversations.id, conversations.contact_id as "contactId", conversations.number_id as "numberId", conversations.status, conversations.assignee_id as "assigneeId", conversations.unread_count as "unreadCount"`),
    );
    for (const c of updated) events.push({ name: 'conversation.updated', payload: conversationEvent(c) });
    return fetch;
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

  /**
   * Moves statuses forward only (a message's furthest status in the batch); one for a message not
   * stored yet is kept for when it comes. One statement for the batch.
   */
  private async applyStatuses(data: ClinicData, tx: Tx, list: (MessageKey & { status: MessageStatus })[], events: PendingEvent[]): Promise<void> {
    const furthest = new Map<string, MessageKey & { status: MessageStatus }>();
    for (const s of list) {
      const before = furthest.get(keyOf(s.numberId, s.externalId));
      furthest.set(keyOf(s.numberId, s.externalId), { ...s, status: before ? laterStatus(before.status, s.status) : s.status });
    }
    if (furthest.size === 0) return;
    const values = sql.join([...furthest.values()].map((s) => sql`(${s.numberId}::uuid, ${s.externalId}::text, ${s.status}::message_status)`), sql`, `);
    const same = sql`messages.number_id = v.number_id and messages.external_id = v.external_id`;
    const moved = rowsOf<{ id: string; conversationId: string; numberId: string; status: MessageStatus; mediaState: (typeof mediaStateEnum.enumValues)[number] | null }>(
      await tx.execute(sql`
        with v(number_id, external_id, status) as (values ${values}),
        moved as (
          update messages set status = v.status, updated_at = now() from v
          where ${data.owns(messages)} and ${same} and ${rank(sql`messages.status`)} < ${rank(sql`v.status`)}
          returning messages.id, messages.conversation_id as "conversationId", messages.number_id as "numberId", messages.status, messages.media_state as "mediaState"),
        early as (
          insert into whatsapp_early_statuses (clinic_id, number_id, external_id, status)
          select ${data.clinicId}::uuid, v.number_id, v.external_id, v.status from v
          where not exists (select 1 from messages where ${data.owns(messages)} and ${same})
          on conflict (number_id, external_id) do update
          set status = case when ${rank(sql`whatsapp_early_statuses.status`)} < ${rank(sql`excluded.status`)} then excluded.status else whatsapp_early_statuses.status end)
        select * from moved`),
    );
    for (const m of moved) events.push({ name: 'message.updated', payload: { id: m.id, conversationId: m.conversationId, numberId: m.numberId, status: m.status, mediaState: m.mediaState } });
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

