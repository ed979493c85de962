import { eq } from 'drizzle-orm';
import type { MessageNewEvent } from '../../../shared/api/events.js';
import { conversations, messages, whatsappNumbers } from '../../../shared/schema/index.js';
import { ClinicData } from '../../infra/clinic-data.js';
import type { Infra } from '../../infra/index.js';
import { defineSubscriber } from '../module.js';
import { preview } from './conversations.js';
import { sendable } from './messages.js';

/**
 * Inbox events to sockets: `message:new`, `message:updated`, `conversation:updated` go to the
 * clinic's `conversations:read` room, or, for a private number, to its professional and the
 * admins only (the same rule as the REST API). A redelivery emits again; screens redraw from it.
 */
export const inboxRealtime = (infra: Infra) =>
  defineSubscriber({
    name: 'inbox-realtime',
    events: ['message.received', 'message.sent', 'message.updated', 'conversation.updated'],
    async handle(event) {
      const data = new ClinicData(event.clinicId, infra.db);
      const emitFor = (owner: string | null): typeof infra.realtime.emitToClinic => (clinicId, name, payload) =>
        owner ? infra.realtime.emitToOwner(clinicId, owner, name, payload) : infra.realtime.emitToClinic(clinicId, name, payload);
      if (event.name === 'message.received' || event.name === 'message.sent') {
        // One query for the socket payload and whom it goes to: this is the inbox's hot path.
        const found = await newMessage(data, event.payload.id);
        if (found) emitFor(found.owner)(event.clinicId, 'message:new', found.payload);
        return;
      }
      const [number] = await data.pick({ owner: whatsappNumbers.professionalId }, whatsappNumbers, eq(whatsappNumbers.id, event.payload.numberId));
      if (!number) return;
      const emit = emitFor(number.owner);
      if (event.name === 'conversation.updated') return emit(event.clinicId, 'conversation:updated', event.payload);
      if (!event.payload.editedAt) return emit(event.clinicId, 'message:updated', event.payload);
      // An edit: the screens get the new text's preview, as for a new message.
      const [m] = await data.pick({ text: messages.text }, messages, eq(messages.id, event.payload.id));
      return emit(event.clinicId, 'message:updated', { ...event.payload, preview: preview(m?.text ?? null) });
    },
  });

/** The `message:new` payload and the number's owner (null for a shared number). */
async function newMessage(data: ClinicData, id: string): Promise<{ payload: MessageNewEvent; owner: string | null } | undefined> {
  const [m] = await data
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
      eq(messages.id, id),
    )
    .innerJoin(conversations, data.owns(conversations, eq(conversations.id, messages.conversationId)))
    .innerJoin(whatsappNumbers, data.owns(whatsappNumbers, eq(whatsappNumbers.id, messages.numberId)));
  if (!m) return undefined;
  const { text, sentAt, owner, ...rest } = m;
  return { payload: { ...rest, preview: preview(text), sentAt: sentAt.toISOString() }, owner };
}

/**
 * A stored outbound message (from a member or the assistant), or one a member asked to resend,
 * gets its send job: keyed by message and attempt, so a redelivered event enqueues nothing new.
 */
export const inboxSend = (infra: Infra) =>
  defineSubscriber({
    name: 'inbox-send',
    events: ['message.sent', 'message.updated'],
    async handle(event) {
      if (event.name === 'message.sent' && event.payload.sender === 'phone') return;
      if (event.name === 'message.updated' && event.payload.status !== 'pending') return;
      const data = new ClinicData(event.clinicId, infra.db);
      const [m] = await data.pick({ numberId: messages.numberId, attempt: messages.sendAttempt }, messages, eq(messages.id, event.payload.id), sendable);
      if (!m) return;
      await infra.queue.add(
        'inbox.send',
        { messageId: event.payload.id, numberId: m.numberId },
        { jobId: `inbox-send:${event.payload.id}:${m.attempt}`, context: { clinicId: event.clinicId, requestId: event.requestId } },
      );
    },
  });
