import { expect } from 'vitest';
import { randomUUID } from 'node:crypto';
import { eq, sql } from 'drizzle-orm';
import { contactWhatsappIds, conversations, messages, whatsappNumbers } from '../../shared/schema/index.js';
import type { MessageStatus, MessageType, WhatsappNumberState } from '../../shared/schema/whatsapp.js';
import { ClinicData } from '../../server/infra/clinic-data.js';
import type { FakeEvolution } from '../fakes/evolution.js';
import type { TestClinic } from './clinic.js';
import { createPatient, type Patient } from './patients.js';

/**
 * Inbox rows seeded the way the WhatsApp module stores them (a number on an integration
 * connection, a conversation, messages) and published like an ingested webhook, so inbox tests do
 * not depend on the webhook path.
 */
export interface SeededNumber {
  id: string;
  instanceName: string;
  instanceToken: string;
}

export async function seedNumber(clinic: TestClinic, opts: { professionalId?: string; state?: WhatsappNumberState; name?: string } = {}): Promise<SeededNumber> {
  const instanceName = `clinica-${randomUUID().slice(0, 12)}`;
  const instanceToken = randomUUID().toUpperCase();
  const connection = await clinic.app.modules.services.integrations.connections.create(clinic.id, {
    provider: 'evolution',
    label: opts.name ?? 'Recepção',
    credentials: { instanceToken, webhookSecret: randomUUID() },
    webhook: true,
    config: { instanceName },
  });
  const [number] = await data(clinic)
    .insert(whatsappNumbers, {
      connectionId: connection.id,
      instanceName,
      name: opts.name ?? 'Recepção',
      professionalId: opts.professionalId ?? null,
      phone: '5511955550000',
      state: opts.state ?? 'open',
    })
    .returning();
  if (!number) throw new Error('no number');
  return { id: number.id, instanceName, instanceToken };
}

/** Creates the number's instance on the fake gateway and scans its QR: the number can send. */
export async function linkNumber(evolution: FakeEvolution, number: SeededNumber) {
  const res = await fetch(`${evolution.url}/instance/create`, {
    method: 'POST',
    headers: { apikey: evolution.apiKey, 'content-type': 'application/json' },
    body: JSON.stringify({ instanceName: number.instanceName, token: number.instanceToken, integration: 'WHATSAPP-BAILEYS', qrcode: true }),
  });
  expect(res.status).toBe(201);
  evolution.scan(number.instanceName);
}

export async function setNumberState(clinic: TestClinic, numberId: string, state: WhatsappNumberState) {
  await data(clinic).update(whatsappNumbers, { state }, eq(whatsappNumbers.id, numberId));
}

export interface SeededConversation {
  id: string;
  numberId: string;
  contact: Patient;
  jid: string;
}

/** A patient writing to the number: conversation plus `count` inbound messages (unread), a minute apart. */
export async function seedConversation(
  clinic: TestClinic,
  number: { id: string },
  opts: { contact?: Patient; texts?: string[]; at?: Date; status?: 'open' | 'pending' | 'snoozed' | 'resolved'; assigneeId?: string } = {},
): Promise<SeededConversation> {
  const contact = opts.contact ?? (await createPatient(clinic));
  const jid = `${(contact.phone ?? '').replace(/\D/g, '')}@s.whatsapp.net`;
  const texts = opts.texts ?? ['Olá, gostaria de marcar uma consulta'];
  const at = opts.at ?? new Date();
  const id = await data(clinic).transaction(async (scoped, tx) => {
    await scoped.insert(contactWhatsappIds, { contactId: contact.id, jid }).onConflictDoNothing();
    const [conversation] = await scoped
      .insert(conversations, { numberId: number.id, contactId: contact.id, status: opts.status ?? 'open', assigneeId: opts.assigneeId ?? null })
      .returning();
    if (!conversation) throw new Error('no conversation');
    for (const [i, text] of texts.entries()) {
      await insertMessage(clinic, tx, conversation.id, number.id, { direction: 'inbound', text, sentAt: new Date(at.getTime() - (texts.length - 1 - i) * 60_000) });
    }
    return conversation.id;
  });
  return { id, numberId: number.id, contact, jid };
}

/** One message, as ingestion stores it: conversation preview and unread count updated, events published. */
export async function insertMessage(
  clinic: TestClinic,
  tx: Parameters<Parameters<ClinicData['transaction']>[0]>[1],
  conversationId: string,
  numberId: string,
  m: { direction: 'inbound' | 'outbound'; text?: string; sentAt?: Date; type?: MessageType; status?: MessageStatus; externalId?: string | null; sender?: 'user' | 'phone' },
) {
  const scoped = new ClinicData(clinic.id, tx);
  const inbound = m.direction === 'inbound';
  const [row] = await scoped
    .insert(messages, {
      conversationId,
      numberId,
      externalId: m.externalId === undefined ? `3EB0${randomUUID().replace(/-/g, '').slice(0, 16).toUpperCase()}` : m.externalId,
      direction: m.direction,
      sender: inbound ? 'contact' : (m.sender ?? 'phone'),
      type: m.type ?? 'text',
      text: m.text ?? null,
      status: m.status ?? (inbound ? 'delivery_ack' : 'server_ack'),
      sentAt: m.sentAt ?? new Date(),
    })
    .returning();
  if (!row) throw new Error('no message');
  const [conversation] = await scoped
    .update(
      conversations,
      { lastMessageId: row.id, lastMessageAt: row.sentAt, unreadCount: inbound ? sql`${conversations.unreadCount} + 1` : conversations.unreadCount },
      eq(conversations.id, conversationId),
    )
    .returning();
  if (!conversation) throw new Error('no conversation');
  const events = clinic.app.infra.events;
  const meta = { clinicId: clinic.id };
  if (inbound) await events.publish(tx, 'message.received', { id: row.id, conversationId, contactId: conversation.contactId, numberId, externalId: row.externalId ?? '' }, meta);
  else await events.publish(tx, 'message.sent', { id: row.id, conversationId, numberId, sender: 'phone' }, meta);
  const { status, assigneeId, unreadCount, contactId } = conversation;
  await events.publish(tx, 'conversation.updated', { id: conversationId, contactId, numberId, status, assigneeId, unreadCount }, meta);
  return row;
}

/** "A webhook arrived": the patient writes again, in one transaction with its events. */
export async function receive(clinic: TestClinic, conversation: { id: string; numberId: string }, text: string) {
  return addMessage(clinic, conversation, { direction: 'inbound', text });
}

/** One message in the conversation, in a transaction of its own. */
export async function addMessage(clinic: TestClinic, conversation: { id: string; numberId: string }, m: Parameters<typeof insertMessage>[4]) {
  return data(clinic).transaction((_scoped, tx) => insertMessage(clinic, tx, conversation.id, conversation.numberId, m));
}

export async function messageRow(clinic: TestClinic, id: string) {
  const [row] = await data(clinic).select(messages, eq(messages.id, id));
  if (!row) throw new Error(`no message ${id}`);
  return row;
}

const data = (clinic: TestClinic) => new ClinicData(clinic.id, clinic.app.infra.db);
