import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import { whatsappNumbers } from '../../../shared/schema/index.js';
import { FakeEvolution } from '../../fakes/evolution.js';
import { buildTestApp, type TestApp } from '../../helpers/app.js';
import { createClinic, type TestClinic } from '../../helpers/clinic.js';
import { linkNumber, messageRow, seedConversation, seedNumber, type SeededConversation, type SeededNumber } from '../../helpers/inbox.js';
import { TcpProxy } from '../../helpers/tcp-proxy.js';
import { until } from '../../helpers/until.js';

/** Evolution behind a proxy: `drop()` is the gateway gone (connections refused), `resume()` its return. */
let fake: FakeEvolution;
let proxy: TcpProxy;
let app: TestApp;
let clinic: TestClinic;
let number: SeededNumber;
let c: SeededConversation;

beforeAll(async () => {
  fake = await new FakeEvolution().start();
  proxy = await TcpProxy.start({ host: '127.0.0.1', port: Number(new URL(fake.url).port) });
  app = await buildTestApp({ env: { EVOLUTION_API_URL: `http://127.0.0.1:${proxy.port}`, EVOLUTION_API_KEY: fake.apiKey, WHATSAPP_SEND_RATE_PER_SECOND: '50' } });
  clinic = await createClinic({ app });
  number = await seedNumber(clinic);
  await linkNumber(fake, number);
  c = await seedConversation(clinic, number);
});
afterAll(async () => {
  await app?.close();
  await proxy?.close();
  await fake?.stop();
});

const sendRequests = () => fake.requests.filter((r) => r.route === 'message/sendText' && r.path.endsWith(`/${number.instanceName}`));
const numberRow = async () => (await app.infra.db.select().from(whatsappNumbers).where(eq(whatsappNumbers.id, number.id)))[0]!;

describe('when the Evolution API is down for a while', () => {
  it('sends wait through the outage, then each goes out exactly once', async () => {
    const before = { sent: fake.sentCount(number.instanceName), requests: sendRequests().length };
    await proxy.drop();
    const texts = ['Confirmado para amanhã às 10h.', 'Traga seus exames, por favor.'];
    const ids: string[] = [];
    for (const text of texts) {
      const res = await clinic.receptionist.agent.post(`/api/conversations/${c.id}/messages`).set('Idempotency-Key', randomUUID()).send({ text });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      ids.push(res.body.id);
    }
    // Attempts are refused for a while (tests double from 10 ms; production from 1 s, capped at 30 s, over three minutes).
    await new Promise((r) => setTimeout(r, 2500));
    for (const id of ids) expect(await messageRow(clinic, id)).toMatchObject({ status: 'pending', externalId: null });

    await proxy.resume();
    await until(async () => (await Promise.all(ids.map((id) => messageRow(clinic, id)))).every((m) => m.status === 'server_ack'), 20_000, 50);
    expect(fake.sentCount(number.instanceName) - before.sent).toBe(2);
    expect(sendRequests().length - before.requests).toBe(2);
    expect(fake.sent.filter((m) => m.instance === number.instanceName).map((m) => m.request.text).sort()).toEqual([...texts].sort());
  });

  it('the probe shows the outage on the number and its connection, and clears it when the gateway answers', async () => {
    const probe = app.modules.services.whatsapp.probe;
    const connections = app.modules.services.integrations.connections;
    const { connectionId } = await numberRow();
    await proxy.drop();
    try {
      expect(await probe.probe(clinic.id, number.id)).toBe('unreachable');
      const res = await clinic.admin.agent.get(`/api/whatsapp/numbers/${number.id}`);
      expect(res.body).toMatchObject({ state: 'open', gatewayError: 'gateway_unavailable' });
      expect(await connections.get(clinic.id, connectionId)).toMatchObject({ lastError: 'gateway_unavailable: Evolution API did not answer the state probe' });
    } finally {
      await proxy.resume();
    }
    await probe.probe(clinic.id, number.id);
    expect((await clinic.admin.agent.get(`/api/whatsapp/numbers/${number.id}`)).body).toMatchObject({ state: 'open', gatewayError: null });
    expect(await connections.get(clinic.id, connectionId)).toMatchObject({ lastError: null });
  });
});
