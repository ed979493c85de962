import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { and, eq } from 'drizzle-orm';
import { messages } from '../../../shared/schema/index.js';
import { ClinicData } from '../../../server/infra/clinic-data.js';
import type { JobContext } from '../../../server/infra/queue.js';
import { LOOKUP_AFTER_MS } from '../../../server/modules/inbox/sending.js';
import { FakeEvolution } from '../../fakes/evolution.js';
import { buildTestApp, type TestApp } from '../../helpers/app.js';
import { createClinic, type Agent, type TestClinic } from '../../helpers/clinic.js';
import { linkNumber, messageRow, seedConversation, seedNumber, setNumberState, type SeededConversation, type SeededNumber } from '../../helpers/inbox.js';
import { until } from '../../helpers/until.js';

/** The send tests use a short client timeout: a held answer turns into a timeout quickly. */
const TIMEOUT_MS = 400;

let fake: FakeEvolution;
let app: TestApp;
let clinic: TestClinic;

async function linkedNumber(target: TestClinic, opts: { professionalId?: string } = {}): Promise<SeededNumber> {
  const number = await seedNumber(target, opts);
  await linkNumber(fake, number);
  return number;
}

const post = (agent: Agent, conversationId: string, body: object, key: string = randomUUID()) =>
  agent.post(`/api/conversations/${conversationId}/messages`).set('Idempotency-Key', key).send(body);

const sendRequests = (instance: string, route = 'message/sendText') => fake.requests.filter((r) => r.route === route && r.path.endsWith(`/${instance}`));

const jobContext = (attempt = 1): JobContext => ({ jobId: 'manual', attempt, clinicId: clinic.id, requestId: null, log: app.infra.log });

const statusOf = async (id: string) => (await messageRow(clinic, id)).status;

async function stored(conversationId: string) {
  return app.infra.db.select().from(messages).where(and(eq(messages.conversationId, conversationId), eq(messages.direction, 'outbound')));
}

beforeAll(async () => {
  fake = await new FakeEvolution().start();
  app = await buildTestApp({ env: { EVOLUTION_API_URL: fake.url, EVOLUTION_API_KEY: fake.apiKey, EVOLUTION_TIMEOUT_MS: String(TIMEOUT_MS), WHATSAPP_SEND_RATE_PER_SECOND: '50' } });
  clinic = await createClinic({ app });
});
afterAll(async () => {
  await app.close();
  await fake.stop();
});

describe('POST /conversations/:id/messages sends exactly once', () => {
  let number: SeededNumber;
  let c: SeededConversation;

  beforeAll(async () => {
    number = await linkedNumber(clinic);
    c = await seedConversation(clinic, number);
  });

  /** A send whose worker died mid-call, as the watchdog leaves it: `unconfirmed`, the gateway never reached. */
  async function interruptedSend(text: string) {
    const [row] = await new ClinicData(clinic.id, app.infra.db)
      .insert(messages, { conversationId: c.id, numberId: number.id, direction: 'outbound', sender: 'user', type: 'text', text, sendingAt: new Date(Date.now() - 6 * 60_000) })
      .returning();
    if (!row) throw new Error('no row');
    await app.modules.services.inbox.sender.watchdog(row.id, jobContext());
    return row;
  }

  it('stores the message pending, sends it once, stores the WhatsApp id; a retried request replays', async () => {
    const key = randomUUID();
    const res = await post(clinic.receptionist.agent, c.id, { text: 'Sua consulta está confirmada para amanhã às 14h.' }, key);
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ status: 'pending', direction: 'outbound', sender: 'user', authorUserId: clinic.receptionist.id });
    await until(async () => (await statusOf(res.body.id)) === 'server_ack');
    const row = await messageRow(clinic, res.body.id);
    const sent = fake.sent.filter((s) => s.instance === number.instanceName);
    expect(sent).toHaveLength(1);
    expect(row.externalId).toBe(sent[0]?.externalId);
    expect(sent[0]?.number.replace(/\D/g, '')).toBe(c.jid.replace(/\D/g, ''));

    const retry = await post(clinic.receptionist.agent, c.id, { text: 'Sua consulta está confirmada para amanhã às 14h.' }, key);
    expect(retry.status).toBe(201);
    expect(retry.headers['idempotent-replayed']).toBe('true');
    expect(retry.body.id).toBe(res.body.id);
    // The job running again (a redelivery, a second worker) finds it sent.
    await app.modules.services.inbox.sender.send(res.body.id, jobContext());
    expect(fake.sentCount(number.instanceName)).toBe(1);
    expect(await stored(c.id)).toHaveLength(1);
  });

  it('requires an Idempotency-Key and stores nothing without it', async () => {
    const other = await seedConversation(clinic, number);
    const res = await clinic.receptionist.agent.post(`/api/conversations/${other.id}/messages`).send({ text: 'Olá' });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('idempotency_key_required');
    expect(await stored(other.id)).toHaveLength(0);
  });

  it('quotes the message it replies to', async () => {
    const [inbound] = (await clinic.receptionist.agent.get(`/api/conversations/${c.id}/messages`)).body.items.filter((m: { direction: string }) => m.direction === 'inbound');
    const row = await messageRow(clinic, inbound.id);
    const res = await post(clinic.receptionist.agent, c.id, { text: 'Claro, podemos marcar.', replyTo: inbound.id });
    expect(res.status).toBe(201);
    expect(res.body.replyToId).toBe(inbound.id);
    await until(async () => (await statusOf(res.body.id)) === 'server_ack');
    const request = sendRequests(number.instanceName).at(-1)?.body as { quoted?: unknown };
    expect(JSON.stringify(request.quoted)).toContain(row.externalId);
  });

  it('a timeout leaves it unconfirmed and does not resend it blindly; the user may resend at once', async () => {
    const before = fake.sentCount(number.instanceName);
    fake.timeoutNext('message/sendText');
    const res = await post(clinic.receptionist.agent, c.id, { text: 'Podemos confirmar seu horário?' });
    await until(async () => (await statusOf(res.body.id)) === 'unconfirmed');
    // The gateway did send it: the fake counted it.
    expect(fake.sentCount(number.instanceName)).toBe(before + 1);
    await app.modules.services.inbox.sender.send(res.body.id, jobContext(2));
    expect(fake.sentCount(number.instanceName)).toBe(before + 1);
    expect(sendRequests(number.instanceName).length).toBe(before + 1);

    const resend = await clinic.receptionist.agent.post(`/api/conversations/${c.id}/messages/${res.body.id}/resend`).set('Idempotency-Key', randomUUID());
    expect(resend.status).toBe(200);
    expect(resend.body.status).toBe('pending');
    await until(async () => (await statusOf(res.body.id)) === 'server_ack');
    expect(fake.sentCount(number.instanceName)).toBe(before + 2);
  });

  it('a late answer (after our timeout) is still one send', async () => {
    const before = fake.sentCount(number.instanceName);
    fake.delayNext('message/sendText', TIMEOUT_MS * 2);
    const res = await post(clinic.receptionist.agent, c.id, { text: 'Lembrete: traga seus exames.' });
    await until(async () => (await statusOf(res.body.id)) === 'unconfirmed');
    // Let the held answer go out to the closed connection: nothing may follow from it.
    await new Promise((r) => setTimeout(r, TIMEOUT_MS * 2));
    expect(fake.sentCount(number.instanceName)).toBe(before + 1);
    expect((await messageRow(clinic, res.body.id)).externalId).toBeNull();
  });

  it('a 5xx is retried with backoff and then sent once', async () => {
    const before = fake.sentCount(number.instanceName);
    const requests = sendRequests(number.instanceName).length;
    fake.failNext('message/sendText', { status: 500 });
    fake.failNext('message/sendText', { status: 503 });
    const res = await post(clinic.receptionist.agent, c.id, { text: 'Estamos à disposição.' });
    await until(async () => (await statusOf(res.body.id)) === 'server_ack');
    expect(sendRequests(number.instanceName).length).toBe(requests + 3);
    expect(fake.sentCount(number.instanceName)).toBe(before + 1);
  });

  it('a job that runs twice at once sends once', async () => {
    const before = fake.sentCount(number.instanceName);
    fake.delayNext('message/sendText', 100);
    const res = await post(clinic.receptionist.agent, c.id, { text: 'Confirmado!' });
    const sender = app.modules.services.inbox.sender;
    await Promise.all([sender.send(res.body.id, jobContext()), sender.send(res.body.id, jobContext())]);
    await until(async () => (await statusOf(res.body.id)) === 'server_ack');
    expect(fake.sentCount(number.instanceName)).toBe(before + 1);
  });

  it('a send whose worker died mid-call becomes unconfirmed, never resent blindly', async () => {
    const before = fake.sentCount(number.instanceName);
    // As a crashed worker leaves it: claimed long ago, still pending, no WhatsApp id.
    const [row] = await new ClinicData(clinic.id, app.infra.db)
      .insert(messages, { conversationId: c.id, numberId: number.id, direction: 'outbound', sender: 'user', type: 'text', text: 'Até amanhã', sendingAt: new Date(Date.now() - 6 * 60_000) })
      .returning();
    if (!row) throw new Error('no row');
    const sender = app.modules.services.inbox.sender;
    await sender.send(row.id, jobContext(2));
    expect(await statusOf(row.id)).toBe('pending');
    await sender.watchdog(row.id, jobContext());
    expect(await messageRow(clinic, row.id)).toMatchObject({ status: 'unconfirmed', error: 'send_interrupted', sendingAt: null });
    expect(fake.sentCount(number.instanceName)).toBe(before);
    // A claim still within its time is left to its holder.
    const [held] = await new ClinicData(clinic.id, app.infra.db)
      .insert(messages, { conversationId: c.id, numberId: number.id, direction: 'outbound', sender: 'user', type: 'text', text: 'Em breve', sendingAt: new Date() })
      .returning();
    await sender.watchdog(held?.id ?? '', jobContext());
    expect(await statusOf(held?.id ?? '')).toBe('pending');
  });

  it('an unconfirmed send is looked up on the gateway later; found there, it takes its id and is not sent again', async () => {
    const add = vi.spyOn(app.infra.queue, 'add');
    const before = fake.sentCount(number.instanceName);
    fake.timeoutNext('message/sendText');
    const res = await post(clinic.receptionist.agent, c.id, { text: 'Chegou o resultado do seu exame.' });
    await until(async () => (await statusOf(res.body.id)) === 'unconfirmed');
    await until(async () => add.mock.calls.some(([name]) => name === 'inbox.send_lookup'));
    expect(add.mock.calls.find(([name]) => name === 'inbox.send_lookup')).toEqual(['inbox.send_lookup', { messageId: res.body.id, attempt: 1 }, expect.objectContaining({ jobId: `send-lookup:${res.body.id}:1`, delayMs: LOOKUP_AFTER_MS })]);
    add.mockRestore();

    await app.modules.services.inbox.sender.lookUp(res.body.id, 1, jobContext());
    const sent = fake.sent.filter((s) => s.instance === number.instanceName);
    expect(sent).toHaveLength(before + 1);
    expect(await messageRow(clinic, res.body.id)).toMatchObject({ status: 'server_ack', externalId: sent.at(-1)?.externalId, sendAttempt: 1 });
    // A second lookup (a redelivered job) finds nothing left to do.
    await app.modules.services.inbox.sender.lookUp(res.body.id, 1, jobContext());
    expect(fake.sentCount(number.instanceName)).toBe(before + 1);
  });

  it('one the gateway never got (its connection cut before it acted) is sent again once; the same text sent before is not taken for it', async () => {
    const text = 'Até amanhã, às 9h.';
    const first = await post(clinic.receptionist.agent, c.id, { text });
    await until(async () => (await statusOf(first.body.id)) === 'server_ack');
    const before = fake.sentCount(number.instanceName);
    fake.cutNext('message/sendText');
    const res = await post(clinic.receptionist.agent, c.id, { text });
    await until(async () => (await statusOf(res.body.id)) === 'unconfirmed');
    expect(fake.sentCount(number.instanceName)).toBe(before);
    await app.modules.services.inbox.sender.lookUp(res.body.id, 1, jobContext());
    await until(async () => (await statusOf(res.body.id)) === 'server_ack');
    const sent = fake.sent.filter((s) => s.instance === number.instanceName);
    expect(sent).toHaveLength(before + 1);
    expect(await messageRow(clinic, res.body.id)).toMatchObject({ externalId: sent.at(-1)?.externalId, sendAttempt: 2 });
    expect((await messageRow(clinic, first.body.id)).externalId).not.toBe(sent.at(-1)?.externalId);
  });

  it('a gateway that keeps no messages proves nothing: the send stays unconfirmed for the staff', async () => {
    const before = fake.sentCount(number.instanceName);
    const kept = fake.stored.splice(0);
    fake.savesMessages = false;
    try {
      const row = await interruptedSend('Confirmado.');
      await app.modules.services.inbox.sender.lookUp(row.id, 1, jobContext());
      expect(await messageRow(clinic, row.id)).toMatchObject({ status: 'unconfirmed', externalId: null, sendAttempt: 1 });
      expect(fake.sentCount(number.instanceName)).toBe(before);
    } finally {
      fake.savesMessages = true;
      fake.stored.unshift(...kept);
    }
  });

  it('a window holding more of our messages than a lookup reads leaves the send to the staff', async () => {
    const before = fake.sentCount(number.instanceName);
    const filler = Array.from({ length: 2001 }, (_, i) => ({
      instance: number.instanceName,
      record: { key: { remoteJid: '5511900000000@s.whatsapp.net', fromMe: true, id: `FILLER${i}` }, message: { conversation: 'Outro paciente' }, messageType: 'conversation', messageTimestamp: Math.floor(Date.now() / 1000) },
    }));
    fake.stored.push(...filler);
    try {
      const row = await interruptedSend('Bom dia!');
      const requests = fake.requests.length;
      await app.modules.services.inbox.sender.lookUp(row.id, 1, jobContext());
      expect(fake.requests.slice(requests).filter((r) => r.route === 'chat/findMessages')).toHaveLength(20);
      expect(await messageRow(clinic, row.id)).toMatchObject({ status: 'unconfirmed', sendAttempt: 1 });
      expect(fake.sentCount(number.instanceName)).toBe(before);
    } finally {
      fake.stored.splice(fake.stored.length - filler.length);
    }
  });

  it('a lookup while the gateway is down fails to be retried, and changes nothing', async () => {
    const row = await interruptedSend('Obrigado!');
    const sender = app.modules.services.inbox.sender;
    await fake.down();
    try {
      await expect(sender.lookUp(row.id, 1, jobContext())).rejects.toMatchObject({ code: 'unavailable', retryable: true });
    } finally {
      await fake.up();
    }
    expect(await messageRow(clinic, row.id)).toMatchObject({ status: 'unconfirmed', sendAttempt: 1 });
  });

  it('a send the gateway accepted while the database was down is stored as sent once it is back, not sent again', async () => {
    const before = fake.sentCount(number.instanceName);
    const [row] = await new ClinicData(clinic.id, app.infra.db)
      .insert(messages, { conversationId: c.id, numberId: number.id, direction: 'outbound', sender: 'user', type: 'text', text: 'Confirmado para as 15h' })
      .returning();
    if (!row) throw new Error('no row');
    // Every transaction fails as the outage gate fails them (Postgres unreachable) for 1.5 s from now:
    // the send's claim and reads are plain statements, its outcome a transaction.
    const db = app.infra.db;
    const transaction = db.transaction.bind(db);
    const downUntil = Date.now() + 1500;
    db.transaction = ((run, config) => (Date.now() < downUntil ? Promise.reject(Object.assign(new Error('database unreachable'), { code: 'DATABASE_DOWN' })) : transaction(run, config))) as typeof db.transaction;
    try {
      await app.modules.services.inbox.sender.send(row.id, jobContext());
    } finally {
      db.transaction = transaction;
    }
    expect(Date.now()).toBeGreaterThanOrEqual(downUntil);
    expect(await messageRow(clinic, row.id)).toMatchObject({ status: 'server_ack', sendingAt: null, externalId: expect.any(String) });
    expect(fake.sentCount(number.instanceName)).toBe(before + 1);
  });

  it('a number without WhatsApp fails with not_on_whatsapp, without retries', async () => {
    const lead = await seedConversation(clinic, number);
    const digits = lead.jid.replace(/\D/g, '');
    fake.notOnWhatsapp.add(digits);
    const requests = sendRequests(number.instanceName).length;
    const res = await post(clinic.receptionist.agent, lead.id, { text: 'Olá!' });
    await until(async () => (await statusOf(res.body.id)) === 'failed');
    expect((await messageRow(clinic, res.body.id)).error).toBe('not_on_whatsapp');
    expect(sendRequests(number.instanceName).length).toBe(requests + 1);
    const view = (await clinic.receptionist.agent.get(`/api/conversations/${lead.id}/messages`)).body.items[0];
    expect(view).toMatchObject({ status: 'failed', error: 'not_on_whatsapp' });
    fake.notOnWhatsapp.delete(digits);
  });

  it('answers 409 number_not_connected when the number is not open, and stores nothing', async () => {
    const closed = await linkedNumber(clinic);
    const conversation = await seedConversation(clinic, closed);
    await setNumberState(clinic, closed.id, 'close');
    const res = await post(clinic.receptionist.agent, conversation.id, { text: 'Olá' });
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('number_not_connected');
    expect(await stored(conversation.id)).toHaveLength(0);
    expect(fake.sentCount(closed.instanceName)).toBe(0);
  });

  it('refuses a resend of a message that was delivered', async () => {
    const res = await post(clinic.receptionist.agent, c.id, { text: 'Até logo' });
    await until(async () => (await statusOf(res.body.id)) === 'server_ack');
    const again = await clinic.receptionist.agent.post(`/api/conversations/${c.id}/messages/${res.body.id}/resend`).set('Idempotency-Key', randomUUID());
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('message_not_resendable');
  });
});

describe('files', () => {
  let number: SeededNumber;
  let c: SeededConversation;

  beforeAll(async () => {
    number = await linkedNumber(clinic);
    c = await seedConversation(clinic, number);
  });

  const upload = async (target: TestClinic, name: string, type: string, bytes: Buffer) => {
    const res = await target.receptionist.agent.post('/api/files').attach('file', bytes, { filename: name, contentType: type });
    expect(res.status).toBe(201);
    return res.body.id as string;
  };

  it('an image goes to sendMedia with its caption, a PDF as a document with its name, audio as a voice note', async () => {
    const png = Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex');
    const image = await post(clinic.receptionist.agent, c.id, { fileId: await upload(clinic, 'receita.png', 'image/png', png), text: 'Sua receita' });
    expect(image.status).toBe(201);
    expect(image.body).toMatchObject({ type: 'image', media: { mimetype: 'image/png', fileName: 'receita.png' } });
    await until(async () => (await statusOf(image.body.id)) === 'server_ack');
    const media = sendRequests(number.instanceName, 'message/sendMedia').at(-1)?.body as Record<string, unknown>;
    expect(media).toMatchObject({ mediatype: 'image', caption: 'Sua receita', media: png.toString('base64') });

    const pdf = await post(clinic.receptionist.agent, c.id, { fileId: await upload(clinic, 'atestado.pdf', 'application/pdf', Buffer.from('%PDF-1.4 atestado')) });
    await until(async () => (await statusOf(pdf.body.id)) === 'server_ack');
    expect(sendRequests(number.instanceName, 'message/sendMedia').at(-1)?.body).toMatchObject({ mediatype: 'document', fileName: 'atestado.pdf' });

    const voice = await post(clinic.receptionist.agent, c.id, { fileId: await upload(clinic, 'recado.ogg', 'audio/ogg', Buffer.from('OggS recado')) });
    expect(voice.body.type).toBe('audio');
    await until(async () => (await statusOf(voice.body.id)) === 'server_ack');
    expect(sendRequests(number.instanceName, 'message/sendWhatsAppAudio')).toHaveLength(1);
  });

  it('a worker that dies while reading what to send leaves no claim: the next run sends it once', async () => {
    const storage = app.infra.storage;
    const read = storage.read.bind(storage);
    let reading!: () => void;
    const held = new Promise<void>((resolve) => (reading = resolve));
    let die!: (err: Error) => void;
    storage.read = () => {
      storage.read = read;
      reading();
      return new Promise((_, reject) => (die = reject));
    };
    const before = sendRequests(number.instanceName, 'message/sendMedia').length;
    const png = Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex');
    const res = await post(clinic.receptionist.agent, c.id, { fileId: await upload(clinic, 'exame.png', 'image/png', png) });
    expect(res.status).toBe(201);
    await held;
    // The file is being read: had the worker died here, a claim would make a send that never left look ambiguous.
    expect(await messageRow(clinic, res.body.id)).toMatchObject({ status: 'pending', sendingAt: null });
    die(new Error('worker died'));
    await until(async () => (await statusOf(res.body.id)) === 'server_ack');
    expect(sendRequests(number.instanceName, 'message/sendMedia')).toHaveLength(before + 1);
  });

  it("a file of another clinic is 404 and a type WhatsApp refuses is 400; nothing is stored or sent", async () => {
    const other = await createClinic({ app });
    const foreign = await upload(other, 'exame.pdf', 'application/pdf', Buffer.from('%PDF-1.4'));
    const before = (await stored(c.id)).length;
    const sentBefore = fake.sentCount(number.instanceName);
    const res = await post(clinic.receptionist.agent, c.id, { fileId: foreign });
    expect(res.status).toBe(404);
    const heic = await post(clinic.receptionist.agent, c.id, { fileId: await upload(clinic, 'foto.heic', 'image/heic', Buffer.from('heic')) });
    expect(heic.status).toBe(400);
    expect(heic.body.error.code).toBe('unsupported_media_type');
    expect((await stored(c.id)).length).toBe(before);
    expect(fake.sentCount(number.instanceName)).toBe(sentBefore);
  });
});

describe('read and typing', () => {
  let number: SeededNumber;

  beforeAll(async () => {
    number = await linkedNumber(clinic);
  });

  it("zeroes unread and marks the patient's messages read on WhatsApp", async () => {
    const c = await seedConversation(clinic, number, { texts: ['Oi', 'Tudo bem?'] });
    const inbound = await app.infra.db.select().from(messages).where(eq(messages.conversationId, c.id));
    const res = await clinic.receptionist.agent.post(`/api/conversations/${c.id}/read`);
    expect(res.status).toBe(200);
    expect((await clinic.receptionist.agent.get(`/api/conversations/${c.id}`)).body.unreadCount).toBe(0);
    await until(() => fake.reads.some((r) => r.instance === number.instanceName));
    const read = fake.reads.find((r) => r.instance === number.instanceName)?.readMessages as { id: string; remoteJid: string; fromMe: boolean }[];
    expect(read.map((m) => m.id).sort()).toEqual(inbound.map((m) => m.externalId).sort());
    expect(read.every((m) => m.remoteJid === c.jid && m.fromMe === false)).toBe(true);
  });

  it('a failing read receipt does not fail the request', async () => {
    const c = await seedConversation(clinic, number);
    fake.failNext('chat/markMessageAsRead', { status: 500 });
    const res = await clinic.receptionist.agent.post(`/api/conversations/${c.id}/read`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ id: c.id, unreadCount: 0 });
  });

  it('typing shows the presence on the patient\'s phone', async () => {
    const c = await seedConversation(clinic, number);
    const res = await clinic.receptionist.agent.post(`/api/conversations/${c.id}/typing`).send({});
    expect(res.status).toBe(202);
    await until(() => fake.presences.some((p) => p.instance === number.instanceName && p.presence === 'composing'));
    expect(fake.presences.find((p) => p.instance === number.instanceName)?.number.replace(/\D/g, '')).toBe(c.jid.replace(/\D/g, ''));
  });
});

describe('rate limit per number', () => {
  let slow: TestApp;
  let fakeClinic: TestClinic;

  beforeAll(async () => {
    slow = await buildTestApp({ env: { EVOLUTION_API_URL: fake.url, EVOLUTION_API_KEY: fake.apiKey } });
    fakeClinic = await createClinic({ app: slow });
  });
  afterAll(() => slow.close());

  it('sends one message per second per number by default, and two numbers do not slow each other', async () => {
    {
      const [a, b] = [await linkedNumber(fakeClinic), await linkedNumber(fakeClinic)];
      const [ca, cb] = [await seedConversation(fakeClinic, a), await seedConversation(fakeClinic, b)];
      const t0 = Date.now();
      for (let i = 0; i < 3; i++) expect((await post(fakeClinic.receptionist.agent, ca.id, { text: `mensagem ${i}` })).status).toBe(201);
      expect((await post(fakeClinic.receptionist.agent, cb.id, { text: 'outra linha' })).status).toBe(201);
      await until(() => fake.sentCount(b.instanceName) === 1);
      expect(fake.sentCount(a.instanceName)).toBeLessThan(3);
      await until(() => fake.sentCount(a.instanceName) === 3);
      // Three sends at one per second span at least two windows.
      expect(Date.now() - t0).toBeGreaterThanOrEqual(1800);
    }
  });
});
