import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import { SignJWT } from 'jose';
import { outbox } from '../../../shared/schema/index.js';
import { buildTestApp, type TestApp } from '../../helpers/app.js';
import { anonymous, createClinic, type TestClinic } from '../../helpers/clinic.js';
import { createNumber, deliver, deliveriesOf, fixture, ingest, jwtFor, messagesOf, processed, textMessage, type TestNumber } from '../../helpers/whatsapp-webhooks.js';

let app: TestApp;
let clinic: TestClinic;
let lines: string[];

beforeAll(async () => {
  lines = [];
  app = await buildTestApp({ logTo: { write: (line: string) => void lines.push(line) } });
  clinic = await createClinic({ app });
});
afterAll(async () => {
  await app.close();
});

describe('Evolution webhook receiver', () => {
  let number: TestNumber;
  beforeAll(async () => {
    number = await createNumber(app, clinic.id);
  });

  it('refuses a missing, wrong, expired, unsigned, endless or foreign JWT and a wrong instance token with 401, storing nothing', async () => {
    const body = textMessage(number, 'Oi');
    const claims = { app: 'evolution', action: 'webhook' };
    const expired = await jwtFor(number.webhookSecret, claims, Math.floor(Date.now() / 1000) - 5);
    const part = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const unsigned = `${part({ alg: 'none', typ: 'JWT' })}.${part({ ...claims, exp: Math.floor(Date.now() / 1000) + 600 })}.`;
    const endless = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).setIssuedAt().sign(new TextEncoder().encode(number.webhookSecret));
    const otherAlgorithm = await new SignJWT(claims).setProtectedHeader({ alg: 'HS512', typ: 'JWT' }).setExpirationTime('10m').sign(new TextEncoder().encode(number.webhookSecret));
    const cases = [
      await deliver(app, number, body, { auth: 'none' }),
      await deliver(app, number, body, { token: await jwtFor('outro-segredo-qualquer-com-32-bytes') }),
      await deliver(app, number, body, { token: expired }),
      await deliver(app, number, body, { token: unsigned }),
      await deliver(app, number, body, { token: endless }),
      await deliver(app, number, body, { token: otherAlgorithm }),
      await deliver(app, number, body, { token: await jwtFor(number.webhookSecret, { app: 'outra', action: 'webhook' }) }),
      await deliver(app, number, { ...body, apikey: 'B6D8E1F2-0000-0000-0000-000000000000' }, { auth: 'apikey' }),
      await deliver(app, number, body, { global: true, auth: 'none' }),
    ];
    for (const res of cases) expect(res.status).toBe(401);
    expect(cases[0]!.body.error.code).toBe('invalid_signature');
    expect(await deliveriesOf(app, number)).toHaveLength(0);
  });

  it('accepts the JWT or the instance token in the body, answers at once and keeps no token with the payload', async () => {
    const viaJwt = await deliver(app, number, textMessage(number, 'Primeira'));
    const viaToken = await deliver(app, number, textMessage(number, 'Segunda'), { auth: 'apikey' });
    expect(viaJwt.status).toBe(200);
    expect(viaJwt.body).toEqual({ received: true, duplicate: false });
    expect(viaToken.status).toBe(200);
    await processed(app, number);
    const stored = await deliveriesOf(app, number);
    expect(stored).toHaveLength(2);
    expect(JSON.stringify(stored.map((s) => s.payload))).not.toContain(number.instanceToken);
    expect((await messagesOf(app, number)).map((m) => m.text).sort()).toEqual(['Primeira', 'Segunda']);
  });

  it('an instance nobody has is answered 200 (so Evolution stops retrying), logged without the payload, nothing stored', async () => {
    const other = await createNumber(app, clinic.id);
    const stranger = { ...textMessage(other, 'Mensagem secreta para ninguém'), instance: 'instancia-desconhecida' };
    const global = await deliver(app, other, stranger, { global: true });
    expect(global.status).toBe(200);
    expect(global.body).toEqual({ received: true, ignored: true });
    // The number's own URL with another instance's payload: not this number's, ignored too.
    const own = await deliver(app, other, stranger);
    expect(own.body).toEqual({ received: true, ignored: true });
    expect(await deliveriesOf(app, other)).toHaveLength(0);
    expect(lines.some((l) => l.includes('ignored'))).toBe(true);
    expect(lines.join('\n')).not.toContain('Mensagem secreta');
  });

  it('a malformed body is 400 and one over the limit 413, nothing stored', async () => {
    const other = await createNumber(app, clinic.id);
    const token = await jwtFor(other.webhookSecret);
    const post = (path: string) => anonymous(app).post(path).set('Authorization', `Bearer ${token}`).set('Content-Type', 'application/json');
    for (const path of [`/api/webhooks/evolution/${other.ref}`, '/api/webhooks/evolution']) {
      expect((await post(path).send('{"event": "messages.upsert", "instance": ')).status).toBe(400);
      expect((await post(path).send(JSON.stringify({ event: 'messages.upsert', instance: other.instance, data: 'texto' }))).status).toBe(400);
      expect((await post(path).send(JSON.stringify({ event: 42, instance: other.instance, data: {} }))).status).toBe(400);
      // Postgres keeps no NUL in text: refused at the door, not failed later.
      expect((await post(path).send(JSON.stringify(textMessage(other, 'antes\u0000depois')))).status).toBe(400);
      const huge = textMessage(other, 'x'.repeat(1024 * 1024 + 10));
      const res = await post(path).send(JSON.stringify(huge));
      expect(res.status).toBe(413);
      expect(res.body.error.code).toBe('payload_too_large');
    }
    expect(await deliveriesOf(app, other)).toHaveLength(0);
  });

  it('the same event twice, and through the global and the instance webhook, is stored once', async () => {
    const other = await createNumber(app, clinic.id);
    const body = textMessage(other, 'Quero remarcar');
    const first = await deliver(app, other, body);
    const again = await deliver(app, other, body);
    const global = await deliver(app, other, { ...body, destination: 'https://global.example/webhooks/evolution' }, { global: true });
    expect([first.body.duplicate, again.body.duplicate, global.body.duplicate]).toEqual([false, true, true]);
    await processed(app, other);
    expect(await deliveriesOf(app, other)).toHaveLength(1);
    expect(await messagesOf(app, other)).toHaveLength(1);
  });

  it('concurrent deliveries (the same event twice among them) are each answered, stored once, one copy not a duplicate', async () => {
    const other = await createNumber(app, clinic.id);
    const twice = textMessage(other, 'Ao mesmo tempo');
    const burst = Array.from({ length: 8 }, (_, i) => textMessage(other, `Rajada ${i}`));
    const answers = await Promise.all([twice, twice, ...burst].map((body) => deliver(app, other, body)));
    expect(answers.map((a) => a.status)).toEqual(answers.map(() => 200));
    expect(answers.slice(0, 2).map((a) => a.body.duplicate).sort()).toEqual([false, true]);
    expect(answers.slice(2).map((a) => a.body.duplicate)).toEqual(burst.map(() => false));
    await processed(app, other);
    expect(await deliveriesOf(app, other)).toHaveLength(9);
    expect((await messagesOf(app, other)).map((m) => m.text).sort()).toEqual(['Ao mesmo tempo', ...burst.map((_, i) => `Rajada ${i}`)].sort());
  });

  it('takes UPPER_CASE names and arrays of messages; unhandled events are answered and dropped', async () => {
    const other = await createNumber(app, clinic.id);
    const a = textMessage(other, 'Um');
    const b = textMessage(other, 'Dois', { remoteJid: '5521998765432@s.whatsapp.net' });
    const res = await ingest(app, other, { ...a, event: 'MESSAGES_UPSERT', data: [a.data, b.data] });
    expect(res.body.duplicate).toBe(false);
    expect((await messagesOf(app, other)).map((m) => m.text).sort()).toEqual(['Dois', 'Um']);
    const presence = await deliver(app, other, { ...a, event: 'PRESENCE_UPDATE', data: { id: 'x', presences: {} } });
    expect(presence.body).toEqual({ received: true, ignored: true });
    expect(await deliveriesOf(app, other)).toHaveLength(1);
  });

  it('the cached connection follows a change made in this process: new secret, disabled, deleted', async () => {
    const other = await createNumber(app, clinic.id);
    const connections = app.modules.services.integrations.connections;
    expect((await deliver(app, other, textMessage(other, 'Um'))).status).toBe(200);
    const rotated = 'segredo-novo-com-mais-de-32-bytes-0001';
    await connections.rotateCredentials(clinic.id, other.connectionId, { webhookSecret: rotated, instanceToken: other.instanceToken });
    expect((await deliver(app, other, textMessage(other, 'Dois'))).status).toBe(401);
    expect((await deliver(app, other, textMessage(other, 'Três'), { token: await jwtFor(rotated) })).status).toBe(200);
    // (Its job marks the connection active: done before the connection is disabled.)
    await processed(app, other);
    await connections.setStatus(clinic.id, other.connectionId, 'disabled');
    expect((await deliver(app, other, textMessage(other, 'Quatro'), { token: await jwtFor(rotated) })).status).toBe(404);
    await connections.setStatus(clinic.id, other.connectionId, 'active');
    // A deleted connection (its number goes with it) is unknown at once, though both were just cached.
    expect((await deliver(app, other, textMessage(other, 'Cinco'), { global: true, token: await jwtFor(rotated) })).body).toMatchObject({ received: true, duplicate: false });
    await processed(app, other);
    await connections.remove(clinic.id, other.connectionId);
    expect((await deliver(app, other, textMessage(other, 'Seis'), { global: true, token: await jwtFor(rotated) })).body).toEqual({ received: true, ignored: true });
  });

  it('a received message publishes message.received and conversation.updated in its transaction', async () => {
    const other = await createNumber(app, clinic.id);
    await ingest(app, other, fixture('webhook.messages.upsert.text', other));
    const [message] = await messagesOf(app, other);
    const events = await app.infra.db.select().from(outbox).where(eq(outbox.aggregateId, message!.conversationId));
    expect(events.map((e) => e.name)).toEqual(['message.received', 'conversation.updated']);
    expect(events[0]!.payload).toMatchObject({ id: message!.id, externalId: '3A5C0E8F1B2D4A6C9E01', numberId: other.id });
    expect(JSON.stringify(events.map((e) => e.payload))).not.toContain('consulta');
    // Logs (trace level, every line of request, job and services) hold neither the text nor the phone.
    const logs = lines.join('\n');
    expect(logs).not.toContain('queria marcar');
    expect(logs).not.toContain('987654321');
    expect(logs).not.toContain(other.instanceToken);
  });
});
