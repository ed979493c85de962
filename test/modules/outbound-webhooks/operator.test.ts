import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../server/config.js';
import { FakeWebhookReceiver } from '../../fakes/webhook-receiver.js';
import { buildTestApp, type TestApp } from '../../helpers/app.js';
import { createClinic } from '../../helpers/clinic.js';
import { createPatient } from '../../helpers/patients.js';
import { until } from '../../helpers/until.js';

/** N8N_WEBHOOK_URL: the operator's own subscription to every clinic's catalog events, signed with N8N_WEBHOOK_SECRET. */

const SECRET = `whsec_${Buffer.alloc(32, 42).toString('base64')}`;
let app: TestApp;
let receiver: FakeWebhookReceiver;

beforeAll(async () => {
  receiver = await new FakeWebhookReceiver().start();
  app = await buildTestApp({ env: { OUTBOUND_ALLOW_HOSTS: '127.0.0.1', N8N_WEBHOOK_URL: `${receiver.url}/webhook/operabase`, N8N_WEBHOOK_SECRET: SECRET } });
});
afterAll(async () => {
  await app?.close();
  await receiver?.stop();
});

describe('the operator N8N webhook', () => {
  it("receives every clinic's events, each carrying its clinic id; the clinics never see these deliveries", async () => {
    const [a, b] = await Promise.all([createClinic({ app }), createClinic({ app })]);
    const [pa, pb] = await Promise.all([createPatient(a), createPatient(b)]);
    await until(async () => {
      await app.infra.events.flush();
      return receiver.of('contact.created', (d) => d.contactId === pa.id || d.contactId === pb.id).length >= 2;
    });
    const hits = receiver.of('contact.created', (d) => d.contactId === pa.id || d.contactId === pb.id);
    const bodies = hits.map((h) => new Webhook(SECRET).verify(h.raw, FakeWebhookReceiver.signed(h)) as { clinicId: string; data: { contactId: string } });
    expect(bodies.map((x) => [x.clinicId, x.data.contactId]).sort()).toEqual([[a.id, pa.id], [b.id, pb.id]].sort());
    expect(hits.every((h) => h.path === '/webhook/operabase')).toBe(true);

    expect((await a.admin.agent.get('/api/webhook-subscriptions')).body.items).toEqual([]);
    const mine = hits.find((h) => h.body.clinicId === a.id);
    expect((await a.admin.agent.get(`/api/webhook-deliveries/${String(mine?.headers['webhook-id'])}`)).status).toBe(404);
  });

  it('needs its secret: one without the other stops the boot', () => {
    expect(() => loadConfig({ NODE_ENV: 'test', N8N_WEBHOOK_URL: 'https://n8n.example.com/webhook/x' })).toThrow(/N8N_WEBHOOK_SECRET/);
    expect(() => loadConfig({ NODE_ENV: 'test', N8N_WEBHOOK_URL: 'https://n8n.example.com/webhook/x', N8N_WEBHOOK_SECRET: 'segredo' })).toThrow(/N8N_WEBHOOK_SECRET/);
    expect(loadConfig({ NODE_ENV: 'test', N8N_WEBHOOK_URL: 'https://n8n.example.com/webhook/x', N8N_WEBHOOK_SECRET: SECRET }).n8n.webhookSecret).toBe(SECRET);
  });
});
