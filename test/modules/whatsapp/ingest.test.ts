import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { eq, inArray } from 'drizzle-orm';
import { contacts, conversations, messages, outbox, whatsappEarlyStatuses } from '../../../shared/schema/index.js';
import { WEBHOOK_MAX_ATTEMPTS } from '../../../server/modules/integrations/webhooks.js';
import { buildTestApp, type TestApp } from '../../helpers/app.js';
import { createClinic, type TestClinic } from '../../helpers/clinic.js';
import { createPatient } from '../../helpers/patients.js';
import { contactOf, conversationsOf, createNumber, deliveriesOf, drainNow, fixture, ingest, jidsOf, messageByExternal, messagesOf, store, textMessage, type TestNumber } from '../../helpers/whatsapp-webhooks.js';

let app: TestApp;
let clinic: TestClinic;

beforeAll(async () => {
  app = await buildTestApp();
  clinic = await createClinic({ app });
});
afterAll(async () => {
  await app.close();
});

const LID = '207954312345678@lid';
const newId = () => `3A${randomBytes(9).toString('hex').toUpperCase()}`;
const statusUpdate = (number: TestNumber, keyId: string, status: string, fromMe = true) =>
  fixture('webhook.messages.update.read', number, (d) => {
    d.keyId = keyId;
    d.status = status;
    d.fromMe = fromMe;
  });

describe('messages from the patient', () => {
  it('a text: a lead named by pushName with the E.164 phone, its addresses remembered, a conversation with one unread, time from messageTimestamp', async () => {
    const number = await createNumber(app, clinic.id);
    await ingest(app, number, fixture('webhook.messages.upsert.text', number));
    const [message] = await messagesOf(app, number);
    expect(message).toMatchObject({ direction: 'inbound', sender: 'contact', type: 'text', text: 'Oi, queria marcar uma consulta para quinta', status: 'delivery_ack', externalId: '3A5C0E8F1B2D4A6C9E01' });
    // messageTimestamp 1763760161, not the envelope's local date_time (18:22:41 written as UTC).
    expect(message!.sentAt.toISOString()).toBe(new Date(1763760161 * 1000).toISOString());
    const [conversation] = await conversationsOf(app, number);
    expect(conversation).toMatchObject({ status: 'open', unreadCount: 1, lastMessageId: message!.id });
    const contact = await contactOf(app, conversation!.contactId);
    expect(contact).toMatchObject({ name: 'Maria Souza', phone: '+5511987654321', status: 'lead' });
    expect(await jidsOf(app, contact!.id)).toEqual([LID, '5511987654321@s.whatsapp.net']);
  });

  it('every type: reply with quote, image caption, voice note, document, sticker, location, contact card, unknown kept as unsupported', async () => {
    const number = await createNumber(app, clinic.id);
    const base = (message: Record<string, unknown>, messageType: string, extra: Record<string, unknown> = {}) =>
      textMessage(number, '', { id: newId() }, { message, messageType, ...extra });
    const bodies = [
      fixture('webhook.messages.upsert.extended-text-reply', number),
      fixture('webhook.messages.upsert.image-caption', number),
      fixture('webhook.messages.upsert.audio-ptt', number),
      base({ documentWithCaptionMessage: { message: { documentMessage: { fileName: 'exame.pdf', mimetype: 'application/pdf', caption: 'Resultado', fileLength: '439195' } } } }, 'documentMessage'),
      base({ stickerMessage: { mimetype: 'image/webp', fileLength: { low: 1000, high: 0 } } }, 'stickerMessage'),
      base({ locationMessage: { degreesLatitude: -23.56, degreesLongitude: -46.65, name: 'Clínica' } }, 'locationMessage'),
      base({ contactMessage: { displayName: 'Dr. João', vcard: 'BEGIN:VCARD\nEND:VCARD' } }, 'contactMessage'),
      base({ reactionMessage: { text: '👍', key: { id: 'X' } } }, 'reactionMessage'),
      // ≤2.1 and other gateways keep extendedTextMessage with its own contextInfo.
      base({ extendedTextMessage: { text: 'Sim, confirmo', contextInfo: { stanzaId: 'ABC', quotedMessage: { conversation: 'Confirma?' } } } }, 'extendedTextMessage'),
    ];
    for (const body of bodies) await ingest(app, number, body);
    const rows = await messagesOf(app, number);
    const byRaw = Object.fromEntries(rows.map((m) => [m.rawType, m]));
    expect(byRaw.conversation).toMatchObject({ type: 'text', text: 'Pode ser às 14h? https://maps.app.goo.gl/xyz', quotedExternalId: '3EB0A1B2C3D4E5F60718', content: { quoted: { externalId: '3EB0A1B2C3D4E5F60718', preview: 'Temos horário na quinta às 10h ou 14h.' } } });
    expect(byRaw.imageMessage).toMatchObject({ type: 'image', text: 'Pedido do exame', mediaMimetype: 'image/jpeg', content: { width: 1200, height: 1600 } });
    expect(byRaw.audioMessage).toMatchObject({ type: 'audio', text: null, content: { voiceNote: true, seconds: 7 } });
    expect(byRaw.documentMessage).toMatchObject({ type: 'document', text: 'Resultado', mediaFileName: 'exame.pdf', mediaMimetype: 'application/pdf' });
    expect(byRaw.stickerMessage).toMatchObject({ type: 'sticker', mediaMimetype: 'image/webp' });
    // Media go to the media job (media.test.ts); text and locations have none.
    expect(rows.filter((m) => m.mediaState !== null).map((m) => m.type).sort()).toEqual(['audio', 'document', 'image', 'sticker']);
    expect(byRaw.locationMessage).toMatchObject({ type: 'location', content: { latitude: -23.56, longitude: -46.65, name: 'Clínica' } });
    expect(byRaw.contactMessage).toMatchObject({ type: 'contact', content: { contacts: [{ name: 'Dr. João', vcard: 'BEGIN:VCARD\nEND:VCARD' }] } });
    expect(byRaw.reactionMessage).toMatchObject({ type: 'unsupported', text: null });
    expect(byRaw.extendedTextMessage).toMatchObject({ type: 'text', text: 'Sim, confirmo', quotedExternalId: 'ABC', content: { quoted: { preview: 'Confirma?' } } });
    const [conversation] = await conversationsOf(app, number);
    expect(conversation!.unreadCount).toBe(bodies.length);
  });

  it('a reply to a stored message points at it', async () => {
    const number = await createNumber(app, clinic.id);
    const first = textMessage(number, 'Temos horário na quinta', { fromMe: true, id: '3EB0A1B2C3D4E5F60718' });
    await ingest(app, number, first);
    await ingest(app, number, fixture('webhook.messages.upsert.extended-text-reply', number));
    const original = await messageByExternal(app, number, '3EB0A1B2C3D4E5F60718');
    const reply = await messageByExternal(app, number, '3AB1F7E2C94D0A5B6E12');
    expect(reply!.replyToId).toBe(original!.id);
  });

  it('a patient message reopens a resolved or snoozed conversation', async () => {
    const number = await createNumber(app, clinic.id);
    await ingest(app, number, textMessage(number, 'Obrigada'));
    const [conversation] = await conversationsOf(app, number);
    await app.infra.db.update(conversations).set({ status: 'snoozed', snoozedUntil: new Date(Date.now() + 86_400_000), unreadCount: 0 }).where(eq(conversations.id, conversation!.id));
    await ingest(app, number, textMessage(number, 'Mais uma dúvida'));
    const [after] = await conversationsOf(app, number);
    expect(after).toMatchObject({ id: conversation!.id, status: 'open', snoozedUntil: null, unreadCount: 1 });
  });
});

describe('statuses only move forward', () => {
  it('whatever order they arrive in; error and deleted are terminal', async () => {
    const number = await createNumber(app, clinic.id);
    const id = newId();
    await ingest(app, number, textMessage(number, 'Lembrete', { fromMe: true, id }, { status: 'SERVER_ACK' }));
    for (const status of ['READ', 'DELIVERY_ACK', 'SERVER_ACK', 'PENDING']) await ingest(app, number, statusUpdate(number, id, status));
    expect((await messageByExternal(app, number, id))!.status).toBe('read');
    await ingest(app, number, statusUpdate(number, id, 'PLAYED'));
    expect((await messageByExternal(app, number, id))!.status).toBe('played');
    await ingest(app, number, fixture('webhook.messages.delete', number, (d) => void (d.id = id)));
    await ingest(app, number, statusUpdate(number, id, 'READ'));
    await ingest(app, number, { ...statusUpdate(number, id, 'ERROR'), event: 'MESSAGES_UPDATE' });
    expect((await messageByExternal(app, number, id))!.status).toBe('deleted');
  });

  it('an update that arrives before its message is applied when the message comes', async () => {
    const number = await createNumber(app, clinic.id);
    const id = newId();
    await ingest(app, number, statusUpdate(number, id, 'DELIVERY_ACK'));
    await ingest(app, number, statusUpdate(number, id, 'READ'));
    expect(await messagesOf(app, number)).toHaveLength(0);
    await ingest(app, number, textMessage(number, 'Até amanhã', { fromMe: true, id }, { status: 'SERVER_ACK' }));
    expect((await messageByExternal(app, number, id))!.status).toBe('read');
  });
});

describe('edits', () => {
  const edited = (number: TestNumber, id: string, text: string, timestampMs: string, fromMe = false) =>
    fixture('webhook.messages.edited', number, (d) => {
      d.key = { ...d.key, id, fromMe };
      d.editedMessage = { conversation: text };
      d.timestampMs = timestampMs;
    });
  const editEvents = async (messageId: string) =>
    (await app.infra.db.select().from(outbox).where(eq(outbox.name, 'message.updated'))).filter((e) => (e.payload as { id: string; editedAt?: string }).id === messageId && (e.payload as { editedAt?: string }).editedAt);

  it('messages.edited replaces the text, sets edited_at and publishes message.updated without the text; a redelivery changes nothing', async () => {
    const number = await createNumber(app, clinic.id);
    await ingest(app, number, fixture('webhook.messages.upsert.text', number));
    const body = fixture('webhook.messages.edited', number);
    await ingest(app, number, body);
    await ingest(app, number, { ...body, event: 'MESSAGES_EDITED' });
    const message = await messageByExternal(app, number, '3A5C0E8F1B2D4A6C9E01');
    expect(message).toMatchObject({ text: 'Oi, queria marcar uma consulta para sexta', status: 'delivery_ack' });
    expect(message!.editedAt?.toISOString()).toBe(new Date(1763760300000).toISOString());
    expect(await messagesOf(app, number)).toHaveLength(1);
    const events = await editEvents(message!.id);
    expect(events).toHaveLength(1);
    expect(JSON.stringify(events[0]!.payload)).not.toContain('sexta');
    // The inbox shows the edited text and when it was edited.
    const page = await clinic.receptionist.agent.get(`/api/conversations/${message!.conversationId}/messages`);
    expect(page.body.items[0]).toMatchObject({ text: 'Oi, queria marcar uma consulta para sexta', editedAt: new Date(1763760300000).toISOString() });
  });

  it('an edit inside messages.upsert (2.2 editedMessage wrapper) or messages.update (2.3) is an edit, not a new message; an older edit after a newer one is ignored', async () => {
    const number = await createNumber(app, clinic.id);
    const id = newId();
    await ingest(app, number, textMessage(number, 'Consulta às 10h', { id }));
    const protocol = (text: string, ms: string) => ({ key: { remoteJid: '5511987654321@s.whatsapp.net', fromMe: false, id }, type: 14, editedMessage: { extendedTextMessage: { text } }, timestampMs: ms });
    await ingest(app, number, textMessage(number, '', { id: newId() }, { message: { editedMessage: { message: { protocolMessage: protocol('Consulta às 11h', '1763760400000') } } }, messageType: 'editedMessage' }));
    expect((await messageByExternal(app, number, id))!.text).toBe('Consulta às 11h');
    await ingest(app, number, statusUpdate(number, id, 'SERVER_ACK', false));
    const update = statusUpdate(number, id, 'SERVER_ACK', false);
    update.data.message = { editedMessage: { message: { protocolMessage: protocol('Consulta às 15h', '1763760500000') } } };
    await ingest(app, number, update);
    expect((await messageByExternal(app, number, id))!.text).toBe('Consulta às 15h');
    await ingest(app, number, edited(number, id, 'Consulta às 12h', '1763760450000'));
    const rows = await messagesOf(app, number);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ text: 'Consulta às 15h', type: 'text' });
    expect(rows[0]!.editedAt?.toISOString()).toBe(new Date(1763760500000).toISOString());
  });

  it('a revoke or another protocol message is not an edit; an edit of a deleted message changes nothing', async () => {
    const number = await createNumber(app, clinic.id);
    const id = newId();
    await ingest(app, number, textMessage(number, 'Texto original', { id }));
    await ingest(app, number, fixture('webhook.messages.edited', number, (d) => {
      d.key.id = id;
      d.type = 'REVOKE';
      delete d.editedMessage;
    }));
    await ingest(app, number, fixture('webhook.messages.delete', number, (d) => void (d.id = id)));
    await ingest(app, number, edited(number, id, 'Texto novo', '1763760600000'));
    expect(await messageByExternal(app, number, id)).toMatchObject({ text: 'Texto original', status: 'deleted', editedAt: null });
  });
});

describe('who is writing', () => {
  it('matches a patient registered with the 9th digit when WhatsApp sends the old 12-digit JID, and keeps the name', async () => {
    const number = await createNumber(app, clinic.id);
    const patient = await createPatient(clinic, { name: 'Joana Prado', phone: '(31) 98877-6655' });
    await ingest(app, number, textMessage(number, 'Bom dia', { remoteJid: '553188776655@s.whatsapp.net' }, { pushName: 'Jojo 🌸' }));
    const [conversation] = await conversationsOf(app, number);
    expect(conversation!.contactId).toBe(patient.id);
    expect(await contactOf(app, patient.id)).toMatchObject({ name: 'Joana Prado', phone: '+5531988776655', status: 'active' });
  });

  it('@lid in each version shape reaches the same patient; a lid-only lead merges into the patient once the phone is learned', async () => {
    const number = await createNumber(app, clinic.id);
    const patient = await createPatient(clinic, { name: 'Carla Dias', phone: '(21) 97766-5544' });
    const lid = '123456789012345@lid';
    const pn = '5521977665544@s.whatsapp.net';
    // ≤2.2.3 / 2.3.0: only the lid; nobody knows the phone yet -> a lead with its own conversation.
    await ingest(app, number, textMessage(number, 'Oi, é a Carla', { remoteJid: lid }, { pushName: 'Carla' }));
    const [lidOnly] = await conversationsOf(app, number);
    const lead = await contactOf(app, lidOnly!.contactId);
    expect(lead).toMatchObject({ name: 'Carla', phone: null, status: 'lead' });
    // A later lid-only message reaches the same conversation.
    await ingest(app, number, textMessage(number, 'Alguém aí?', { remoteJid: lid }));
    expect(await conversationsOf(app, number)).toHaveLength(1);
    // 2.3.5-2.3.6: remoteJid lid, remoteJidAlt phone -> merged into the patient's conversation.
    await ingest(app, number, textMessage(number, 'Meu número', { remoteJid: lid, remoteJidAlt: pn, addressingMode: 'lid' }));
    const after = await conversationsOf(app, number);
    expect(after).toHaveLength(1);
    expect(after[0]!.contactId).toBe(patient.id);
    expect(after[0]!.unreadCount).toBe(3);
    expect((await messagesOf(app, number)).every((m) => m.conversationId === after[0]!.id)).toBe(true);
    expect(await contactOf(app, lead!.id)).toBeUndefined();
    expect(await jidsOf(app, patient.id)).toEqual([lid, pn]);
    // 2.4: swapped; 2.3.1-2.3.4: senderPn; 2.3.7: both the phone; and lid-only again: all the same conversation.
    await ingest(app, number, textMessage(number, 'v2.4', { remoteJid: pn, remoteJidAlt: lid, addressingMode: 'pn' }));
    await ingest(app, number, textMessage(number, 'v2.3.3', { remoteJid: pn, senderPn: pn, previousRemoteJid: lid }));
    await ingest(app, number, textMessage(number, 'v2.3.7', { remoteJid: pn, remoteJidAlt: pn, addressingMode: 'lid' }));
    await ingest(app, number, textMessage(number, 'só lid', { remoteJid: lid }));
    const all = await conversationsOf(app, number);
    expect(all).toHaveLength(1);
    expect(all[0]!.unreadCount).toBe(7);
    expect(await contactOf(app, patient.id)).toMatchObject({ name: 'Carla Dias' });
  });

  it('a lid-only lead with no patient learns its phone when a message carries it', async () => {
    const number = await createNumber(app, clinic.id);
    const lid = '998877665544332@lid';
    await ingest(app, number, textMessage(number, 'Olá', { remoteJid: lid }, { pushName: 'Rafa' }));
    await ingest(app, number, textMessage(number, 'Olá de novo', { remoteJid: lid, remoteJidAlt: '5511955554444@s.whatsapp.net' }));
    const [conversation] = await conversationsOf(app, number);
    expect(await contactOf(app, conversation!.contactId)).toMatchObject({ name: 'Rafa', phone: '+5511955554444' });
  });

  it('contacts.upsert names a lead nobody named, never a registered patient', async () => {
    const number = await createNumber(app, clinic.id);
    const patient = await createPatient(clinic, { name: 'Beatriz Lima', phone: '(11) 96655-4433' });
    await ingest(app, number, textMessage(number, 'Oi', { remoteJid: '5511966554433@s.whatsapp.net' }, { pushName: undefined }));
    await ingest(app, number, textMessage(number, 'Oi', { remoteJid: '5511944443333@s.whatsapp.net' }, { pushName: undefined }));
    const leadConv = (await conversationsOf(app, number)).find((c) => c.contactId !== patient.id)!;
    expect((await contactOf(app, leadConv.contactId))!.name).toBe('Contato do WhatsApp');
    const sync = fixture('webhook.contacts.upsert', number, () => {});
    sync.data = [
      { remoteJid: '5511966554433@s.whatsapp.net', pushName: 'Bia' },
      { remoteJid: '5511944443333@s.whatsapp.net', pushName: 'Pedro Alves' },
    ];
    await ingest(app, number, sync);
    // data as a single object (the message path) and the UPPER form.
    await ingest(app, number, { ...sync, event: 'CONTACTS_UPDATE', data: { remoteJid: '5511966554433@s.whatsapp.net', pushName: 'Bia 2' } });
    expect((await contactOf(app, leadConv.contactId))!.name).toBe('Pedro Alves');
    expect((await contactOf(app, patient.id))!.name).toBe('Beatriz Lima');
  });

  it('fromMe typed on the clinic phone is outbound by a human and leaves the unread count alone', async () => {
    const number = await createNumber(app, clinic.id);
    await ingest(app, number, textMessage(number, 'Oi'));
    // For fromMe, remoteJidAlt is the clinic's own lid: not the patient's.
    await ingest(app, number, textMessage(number, 'Respondendo do celular', { fromMe: true, remoteJidAlt: '111111111111111@lid' }, { status: 'SERVER_ACK', pushName: 'Clínica' }));
    const rows = await messagesOf(app, number);
    expect(rows.map((m) => [m.direction, m.sender])).toEqual([
      ['inbound', 'contact'],
      ['outbound', 'phone'],
    ]);
    const [conversation] = await conversationsOf(app, number);
    expect(conversation!.unreadCount).toBe(1);
    expect(conversation!.lastMessageId).toBe(rows[1]!.id);
    expect(await jidsOf(app, conversation!.contactId)).not.toContain('111111111111111@lid');
  });

  it('send.message naming a send that timed out attaches its id instead of storing it twice', async () => {
    const number = await createNumber(app, clinic.id);
    await ingest(app, number, textMessage(number, 'Oi'));
    const [conversation] = await conversationsOf(app, number);
    const text = 'Olá Maria, sua consulta está confirmada para 27/11 às 14:00.';
    const [pending] = await app.infra.db
      .insert(messages)
      .values({ clinicId: clinic.id, conversationId: conversation!.id, numberId: number.id, direction: 'outbound', sender: 'user', type: 'text', text, status: 'unconfirmed' })
      .returning();
    await ingest(app, number, fixture('webhook.send.message', number));
    const rows = await messagesOf(app, number);
    expect(rows).toHaveLength(2);
    expect(await messageByExternal(app, number, '3EB015B6A7698E6BEB009B')).toMatchObject({ id: pending!.id, status: 'server_ack', sender: 'user' });
    // The same send.message again, and the fromMe upsert of it: still one message.
    await ingest(app, number, { ...fixture('webhook.send.message', number), event: 'SEND_MESSAGE' });
    await ingest(app, number, textMessage(number, text, { fromMe: true, id: '3EB015B6A7698E6BEB009B' }));
    expect(await messagesOf(app, number)).toHaveLength(2);
  });

  it('groups are ignored unless the number opts in', async () => {
    const quiet = await createNumber(app, clinic.id);
    const groupMessage = (n: TestNumber) => textMessage(n, 'Mensagem no grupo', { remoteJid: '120363041967849074@g.us', participant: '5511987654321@s.whatsapp.net' });
    await ingest(app, quiet, groupMessage(quiet));
    expect(await messagesOf(app, quiet)).toHaveLength(0);
    const groups = await createNumber(app, clinic.id, { groupsEnabled: true });
    await ingest(app, groups, groupMessage(groups));
    const [message] = await messagesOf(app, groups);
    expect(message).toMatchObject({ text: 'Mensagem no grupo', content: { participant: { jid: '5511987654321@s.whatsapp.net', name: 'Maria Souza' } } });
    const [conversation] = await conversationsOf(app, groups);
    expect(await contactOf(app, conversation!.contactId)).toMatchObject({ name: 'Grupo do WhatsApp', phone: null });
  });
});

describe('batches (many deliveries in one drain)', () => {
  const eventsOf = async (name: string, ids: string[]) => (await app.infra.db.select().from(outbox).where(eq(outbox.name, name))).filter((e) => ids.includes((e.payload as { id: string }).id));
  /** One batch sets every delivery's processed_at in one statement: the same instant. */
  const oneBatch = async (number: TestNumber) => {
    const rows = await deliveriesOf(app, number);
    expect(rows.every((r) => r.processedAt !== null)).toBe(true);
    expect(new Set(rows.map((r) => r.processedAt!.toISOString())).size).toBe(1);
  };

  it('a message twice in the batch (an array and alone) and one stored before are each stored once, with one event each', async () => {
    const number = await createNumber(app, clinic.id);
    const before = textMessage(number, 'Já guardada');
    await ingest(app, number, before);
    const x = textMessage(number, 'Primeira');
    const y = textMessage(number, 'Segunda', { remoteJid: '5521998765432@s.whatsapp.net' }, { pushName: 'João' });
    await store(app, number, [x, { ...x, data: [x.data, y.data] }, { ...before, data: [before.data, y.data] }]);
    await drainNow(app, number);
    const rows = await messagesOf(app, number);
    expect(rows.map((m) => m.text).sort()).toEqual(['Já guardada', 'Primeira', 'Segunda']);
    expect(await eventsOf('message.received', rows.map((m) => m.id))).toHaveLength(3);
    const convs = await conversationsOf(app, number);
    expect(convs.map((c) => c.unreadCount).sort()).toEqual([1, 2]);
    // Two senders, one lead each (João's first seen in this batch, twice).
    const leads = await app.infra.db.select().from(contacts).where(inArray(contacts.id, convs.map((c) => c.contactId)));
    expect(leads.map((c) => c.name).sort()).toEqual(['João', 'Maria Souza']);
    const joao = convs.find((c) => c.contactId === leads.find((l) => l.name === 'João')!.id)!;
    expect(joao.lastMessageId).toBe(rows.find((m) => m.text === 'Segunda')!.id);
  });

  it('one batch of new senders: a lead each; the same phone in both 9th-digit forms, and a lid that learns its phone, end on one contact each', async () => {
    const number = await createNumber(app, clinic.id);
    const lid = '301234567890123@lid';
    const batch = [
      textMessage(number, 'Ana aqui', { remoteJid: '5511981110001@s.whatsapp.net' }, { pushName: 'Ana' }),
      textMessage(number, 'Bruno aqui', { remoteJid: '5511981110002@s.whatsapp.net' }, { pushName: 'Bruno' }),
      // Ana again, in the old 12-digit form.
      textMessage(number, 'Ana de novo', { remoteJid: '551181110001@s.whatsapp.net' }),
      textMessage(number, 'Sou a Célia', { remoteJid: lid }, { pushName: 'Célia' }),
      textMessage(number, 'Meu número', { remoteJid: lid, remoteJidAlt: '5511981110003@s.whatsapp.net', addressingMode: 'lid' }),
    ];
    await store(app, number, [{ ...batch[0]!, data: batch.map((m) => m.data) }]);
    await drainNow(app, number);
    const convs = await conversationsOf(app, number);
    const people = await app.infra.db.select().from(contacts).where(inArray(contacts.id, convs.map((c) => c.contactId)));
    expect(people.map((c) => `${c.name} ${c.phone}`).sort()).toEqual(['Ana +5511981110001', 'Bruno +5511981110002', 'Célia +5511981110003']);
    expect(convs.map((c) => c.unreadCount).sort()).toEqual([1, 2, 2]);
  });

  it('statuses before their message in the same batch are applied to it; one for a message still to come is kept', async () => {
    const number = await createNumber(app, clinic.id);
    const id = newId();
    const later = newId();
    await store(app, number, [statusUpdate(number, id, 'READ'), statusUpdate(number, id, 'DELIVERY_ACK'), statusUpdate(number, later, 'DELIVERY_ACK'), textMessage(number, 'Até amanhã', { fromMe: true, id }, { status: 'SERVER_ACK' })]);
    await drainNow(app, number);
    await oneBatch(number);
    const message = await messageByExternal(app, number, id);
    expect(message!.status).toBe('read');
    expect(await eventsOf('message.updated', [message!.id])).toMatchObject([{ payload: { status: 'read' } }]);
    const early = await app.infra.db.select().from(whatsappEarlyStatuses).where(eq(whatsappEarlyStatuses.numberId, number.id));
    expect(early.map((e) => [e.externalId, e.status])).toEqual([[later, 'delivery_ack']]);
    await ingest(app, number, textMessage(number, 'Depois', { fromMe: true, id: later }, { status: 'SERVER_ACK' }));
    expect((await messageByExternal(app, number, later))!.status).toBe('delivery_ack');
  });

  it('a batch that dies mid-transaction leaves nothing half-done: the rerun stores each message, lead and event once', async () => {
    const number = await createNumber(app, clinic.id);
    const bodies = [textMessage(number, 'Um', { remoteJid: '5511911112222@s.whatsapp.net' }, { pushName: 'Ana' }), textMessage(number, 'Dois', { remoteJid: '5511933334444@s.whatsapp.net' }, { pushName: 'Bruno' }), textMessage(number, 'Três', { remoteJid: '5511911112222@s.whatsapp.net' })];
    await store(app, number, bodies);
    // The crash: after the messages and conversations are written, before the commit (the batch, then each delivery alone).
    const publish = vi.spyOn(app.infra.events, 'publishMany').mockRejectedValue(new Error('connection lost'));
    try {
      await drainNow(app, number);
    } finally {
      publish.mockRestore();
    }
    expect(await messagesOf(app, number)).toHaveLength(0);
    expect(await conversationsOf(app, number)).toHaveLength(0);
    const failed = await deliveriesOf(app, number);
    expect(failed.map((d) => [d.processedAt, d.attempts, d.lastError])).toEqual(bodies.map(() => [null, 1, 'connection lost']));
    await drainNow(app, number);
    const rows = await messagesOf(app, number);
    expect(rows.map((m) => m.text).sort()).toEqual(['Dois', 'Três', 'Um']);
    const convs = await conversationsOf(app, number);
    expect(convs.map((c) => c.unreadCount).sort()).toEqual([1, 2]);
    const people = await app.infra.db.select().from(contacts).where(inArray(contacts.id, convs.map((c) => c.contactId)));
    expect(people.map((c) => c.name).sort()).toEqual(['Ana', 'Bruno']);
    expect(await eventsOf('message.received', rows.map((m) => m.id))).toHaveLength(3);
    await oneBatch(number);
  });

  it('a delivery that fails on its own does not hold back the others, and is left aside after its attempts', async () => {
    const number = await createNumber(app, clinic.id);
    // One sender the contacts service keeps refusing (as if its lead could not be created).
    const service = app.modules.services.contacts;
    const create = service.create.bind(service);
    const refuse = vi.spyOn(service, 'create').mockImplementation(async (scope, input) => (input.name === 'Quebra' ? Promise.reject(new Error('lead refused')) : create(scope, input)));
    await store(app, number, [textMessage(number, 'Antes'), textMessage(number, 'Não passa', { remoteJid: '5511977778888@s.whatsapp.net' }, { pushName: 'Quebra' }), textMessage(number, 'Depois')]);
    try {
      await drainNow(app, number);
      expect((await messagesOf(app, number)).map((m) => m.text).sort()).toEqual(['Antes', 'Depois']);
      // The batch and the first run alone, then one run per drain; left aside after that.
      for (let i = 0; i < WEBHOOK_MAX_ATTEMPTS + 2; i++) await drainNow(app, number);
      expect(refuse.mock.calls.filter(([, input]) => input.name === 'Quebra')).toHaveLength(WEBHOOK_MAX_ATTEMPTS + 1);
    } finally {
      refuse.mockRestore();
    }
    const stuck = (await deliveriesOf(app, number)).filter((d) => d.processedAt === null);
    expect(stuck.map((d) => [d.attempts, d.lastError])).toEqual([[WEBHOOK_MAX_ATTEMPTS, 'lead refused']]);
  });
});
