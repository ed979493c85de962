import { eq, inArray } from 'drizzle-orm';
import type { AnyDeliveredEvent } from '../../../shared/api/domain-events.js';
import type { MessageNewEvent } from '../../../shared/api/events.js';
import { conversations, messages, whatsappNumbers } from '../../../shared/schema/index.js';
import { ClinicData } from '../../infra/clinic-data.js';
import type { Infra } from '../../infra/index.js';
import { groupBy } from '../../lib/group-by.js';
import { defineSubscriber } from '../module.js';
import { preview } from './conversations.js';
import { sendable, unconfirmedSend } from './messages.js';
import { LOOKUP_AFTER_MS } from './sending.js';

const INBOX_EVENTS = ['message.received', 'message.sent', 'message.updated', 'conversation.updated'] as const;
type InboxEvent = AnyDeliveredEvent<(typeof INBOX_EVENTS)[number]>;

/**
 * Inbox events to sockets: `message:new`, `message:updated`, `conversation:updated` go to the
 * clinic's `conversations:read` room, or, for a private number, to its professional and the
 * admins only (the same rule as the REST API). A redelivery emits again; screens redraw from it.
 * A claimed batch is read with one query per kind (this is the inbox's hot path), then emitted in order.
 */
export const inboxRealtime = (infra: Infra) => {
  const emitAll = async (events: InboxEvent[]) => {
    for (const [clinicId, list] of groupBy(events, (e) => e.clinicId)) {
      const data = new ClinicData(clinicId, infra.db);
      const ids = (keep: (e: InboxEvent) => boolean) => [...new Set(list.filter(keep).map((e) => e.payload.id))];
      const fresh = (e: InboxEvent) => e.name === 'message.received' || e.name === 'message.sent';
      const [news, owners, texts] = await Promise.all([
        newMessages(data, ids(fresh)),
        ownersOf(data, [...new Set(list.filter((e) => !fresh(e)).map((e) => e.payload.numberId))]),
        // An edit: the screens get the new text's preview, as for a new message.
        textsOf(data, ids((e) => e.name === 'message.updated' && !!e.payload.editedAt)),
      ]);
      const emitFor = (owner: string | null): typeof infra.realtime.emitToClinic => (clinic, name, payload) =>
        owner ? infra.realtime.emitToOwner(clinic, owner, name, payload) : infra.realtime.emitToClinic(clinic, name, payload);
      for (const event of list) {
        if (event.name === 'message.received' || event.name === 'message.sent') {
          const found = news.get(event.payload.id);
          if (found) emitFor(found.owner)(clinicId, 'message:new', found.payload);
          continue;
        }
        const owner = owners.get(event.payload.numberId);
        if (owner === undefined) continue;
        const emit = emitFor(owner);
        if (event.name === 'conversation.updated') emit(clinicId, 'conversation:updated', event.payload);
        else if (!event.payload.editedAt) emit(clinicId, 'message:updated', event.payload);
        else emit(clinicId, 'message:updated', { ...event.payload, preview: preview(texts.get(event.payload.id) ?? null) });
      }
    }
  };
  return defineSubscriber({ name: 'inbox-realtime', events: INBOX_EVENTS, handle: (event) => emitAll([event]), handleBatch: emitAll });
};

/** The `message:new` payloads and their number's owner (null for a shared number), by message id. */
async function newMessages(data: ClinicData, ids: string[]): Promise<Map<string, { payload: MessageNewEvent; owner: string | null }>> {
  if (ids.length === 0) return new Map();
  const rows = await data
    .pick(
      {
        id: messages.id,
        conversationId: messages.conversationId,
        numberId: messages.numberId,
        contactId: conversations.contactId,
        direction: messages.direction,
        sender: messages.sender,
        type: messages.type,
        status: messages.status,
        text: messages.text,
        sentAt: messages.sentAt,
        owner: whatsappNumbers.professionalId,
      },
      messages,
      inArray(messages.id, ids),
    )
    .innerJoin(conversations, data.owns(conversations, eq(conversations.id, messages.conversationId)))
    .innerJoin(whatsappNumbers, data.owns(whatsappNumbers, eq(whatsappNumbers.id, messages.numberId)));
  return new Map(rows.map(({ text, sentAt, owner, ...rest }) => [rest.id, { payload: { ...rest, preview: preview(text), sentAt: sentAt.toISOString() }, owner }]));
}

/** Each number's owner (null: shared); a number gone is absent. */
async function ownersOf(data: ClinicData, numberIds: string[]): Promise<Map<string, string | null>> {
  if (numberIds.length === 0) return new Map();
  const rows = await data.pick({ id: whatsappNumbers.id, owner: whatsappNumbers.professionalId }, whatsappNumbers, inArray(whatsappNumbers.id, numberIds));
  return new Map(rows.map((r) => [r.id, r.owner]));
}

async function textsOf(data: ClinicData, ids: string[]): Promise<Map<string, string | null>> {
  if (ids.length === 0) return new Map();
  const rows = await data.pick({ id: messages.id, text: messages.text }, messages, inArray(messages.id, ids));
  return new Map(rows.map((r) => [r.id, r.text]));
}

/**
 * A stored outbound message (from a member or the assistant), or one a member asked to resend,
 * gets its send job; one left `unconfirmed` gets its gateway lookup, LOOKUP_AFTER_MS later. Both are
 * keyed by message and attempt, so a redelivered event enqueues nothing new.
 */
export const inboxSend = (infra: Infra) =>
  defineSubscriber({
    name: 'inbox-send',
    events: ['message.sent', 'message.updated'],
    async handle(event) {
      if (event.name === 'message.sent' && event.payload.sender === 'phone') return;
      const unconfirmed = event.name === 'message.updated' && event.payload.status === 'unconfirmed';
      if (event.name === 'message.updated' && event.payload.status !== 'pending' && !unconfirmed) return;
      const data = new ClinicData(event.clinicId, infra.db);
      const [m] = await data.pick({ numberId: messages.numberId, attempt: messages.sendAttempt }, messages, eq(messages.id, event.payload.id), unconfirmed ? unconfirmedSend : sendable);
      if (!m) return;
      const context = { clinicId: event.clinicId, requestId: event.requestId };
      if (unconfirmed) {
        await infra.queue.add('inbox.send_lookup', { messageId: event.payload.id, attempt: m.attempt }, { jobId: `send-lookup:${event.payload.id}:${m.attempt}`, delayMs: LOOKUP_AFTER_MS, context });
        return;
      }
      await infra.queue.add('inbox.send', { messageId: event.payload.id, numberId: m.numberId }, { jobId: `inbox-send:${event.payload.id}:${m.attempt}`, context });
    },
  });
