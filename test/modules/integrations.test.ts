import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { and, eq } from 'drizzle-orm';
import { integrationConnections, integrationWebhookEvents } from '../../shared/schema/index.js';
import { newWebhookSecret, type IntegrationService } from '../../server/modules/integrations/service.js';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { createClinic, type TestClinic } from '../helpers/clinic.js';
import { listen, type RunningServer } from '../helpers/server.js';
import { sendStandardWebhook } from '../fakes/webhook-sender.js';
import { until } from '../helpers/until.js';

let app: TestApp;
let server: RunningServer;
let connections: IntegrationService;
let clinic: TestClinic;

beforeAll(async () => {
  app = await buildTestApp();
  server = await listen(app);
  connections = app.modules.services.integrations.connections;
  clinic = await createClinic({ app });
});
afterAll(async () => {
  await server.close();
});


async function n8nConnection(clinicId = clinic.id) {
  const secret = newWebhookSecret();
  const connection = await connections.create(clinicId, { provider: 'n8n', label: 'Fluxos', credentials: { webhookSecret: secret }, webhook: true });
  return { connection, secret, url: `${server.url}/api/webhooks/n8n/${connection.webhookRef}` };
}

const eventsOf = (connectionId: string) => app.infra.db.select().from(integrationWebhookEvents).where(eq(integrationWebhookEvents.connectionId, connectionId));

describe('integration connections', () => {
  it('keeps credentials sealed in the database and out of every answer', async () => {
    const created = await connections.create(clinic.id, { provider: 'openai', credentials: { apiKey: 'chave-teste-segredo-123' }, config: { model: 'gpt-4o-mini' } });
    expect(created).toMatchObject({ provider: 'openai', status: 'connecting', hasCredentials: true, ownerUserId: null, config: { model: 'gpt-4o-mini' } });
    for (const answer of [created, await connections.get(clinic.id, created.id), await connections.list(clinic.id, { provider: 'openai' })]) {
      expect(JSON.stringify(answer)).not.toContain('chave-teste-segredo-123');
      expect(JSON.stringify(answer)).not.toContain('credentials');
    }
    const [row] = await app.infra.db.select().from(integrationConnections).where(eq(integrationConnections.id, created.id));
    expect(row?.credentials).toMatch(/^v1\./);
    expect(row?.credentials).not.toContain('segredo');
    expect(await connections.credentials(clinic.id, created.id)).toEqual({ apiKey: 'chave-teste-segredo-123' });

    await connections.rotateCredentials(clinic.id, created.id, { apiKey: 'chave-nova' });
    expect(await connections.credentials(clinic.id, created.id)).toEqual({ apiKey: 'chave-nova' });
  });

  it('belongs to one clinic: another clinic cannot read, list or change it', async () => {
    const other = await createClinic({ app });
    const created = await connections.create(clinic.id, { provider: 'evolution', config: { instance: 'clinica-principal' } });
    await expect(connections.get(other.id, created.id)).rejects.toMatchObject({ status: 404 });
    await expect(connections.credentials(other.id, created.id)).rejects.toMatchObject({ status: 404 });
    await expect(connections.recordError(other.id, created.id, 'x')).rejects.toMatchObject({ status: 404 });
    expect((await connections.list(other.id)).map((c) => c.id)).not.toContain(created.id);
  });

  it('a professional owns theirs; a user of another clinic cannot be the owner', async () => {
    const other = await createClinic({ app });
    const own = await connections.create(clinic.id, { provider: 'google_calendar', ownerUserId: clinic.professional.id });
    expect(own.ownerUserId).toBe(clinic.professional.id);
    expect((await connections.list(clinic.id, { ownerUserId: clinic.professional.id })).map((c) => c.id)).toEqual([own.id]);
    await expect(connections.create(clinic.id, { provider: 'google_calendar', ownerUserId: other.professional.id })).rejects.toMatchObject({ status: 404 });
  });

  it('records the last error as broken, and active clears it', async () => {
    const created = await connections.create(clinic.id, { provider: 'evolution' });
    const broken = await connections.recordError(clinic.id, created.id, 'evolution 401 unauthorized');
    expect(broken).toMatchObject({ status: 'broken', lastError: 'evolution 401 unauthorized' });
    expect(broken.lastErrorAt).toBeInstanceOf(Date);
    expect(await connections.setStatus(clinic.id, created.id, 'active')).toMatchObject({ status: 'active', lastError: null, lastErrorAt: null });
  });
});

describe('inbound webhook route kind (N8N, Standard Webhooks)', () => {
  it('a bad signature is a 401 and nothing is stored or enqueued', async () => {
    const { connection, secret, url } = await n8nConnection();
    const add = vi.spyOn(app.infra.queue, 'add');
    try {
      const payload = { type: 'lead.created', data: { name: 'Maria' } };
      const tries = [
        await sendStandardWebhook(url, newWebhookSecret(), payload), // another key
        await sendStandardWebhook(url, secret, payload, { signature: 'v1,bm90LWEtc2lnbmF0dXJl' }),
        await sendStandardWebhook(url, secret, payload, { headers: { 'webhook-signature': '' } }),
        // Signed, then altered on the way.
        await sendStandardWebhook(url, secret, payload, { signature: (await signed(secret, 'msg_1', payload)).signature, id: 'msg_1', rawBody: JSON.stringify({ ...payload, type: 'x' }) }),
        // Correctly signed but replayed 10 minutes later.
        await sendStandardWebhook(url, secret, payload, { at: new Date(Date.now() - 10 * 60_000) }),
      ];
      for (const res of tries) {
        expect(res.status).toBe(401);
        expect(res.body).toMatchObject({ error: { code: 'invalid_signature' } });
      }
      expect(add).not.toHaveBeenCalled();
    } finally {
      add.mockRestore();
    }
    expect(await eventsOf(connection.id)).toEqual([]);
    expect((await connections.get(clinic.id, connection.id)).status).toBe('connecting');
  });

  it('refuses the shared fixture (signed in 2025) as too old, though its signature is right', async () => {
    const fixture = JSON.parse(readFileSync(new URL('../fixtures/standard-webhooks.appointment.created.json', import.meta.url), 'utf8')) as {
      secret: string;
      request: { headers: Record<string, string>; body: string };
    };
    const connection = await connections.create(clinic.id, { provider: 'n8n', credentials: { webhookSecret: fixture.secret }, webhook: true });
    const res = await fetch(`${server.url}/api/webhooks/n8n/${connection.webhookRef}`, { method: 'POST', headers: fixture.request.headers, body: fixture.request.body });
    expect(res.status).toBe(401);
    expect(await eventsOf(connection.id)).toEqual([]);
  });

  it('a good delivery is answered 200 at once; a job stores nothing more but processes it and marks the connection active', async () => {
    const { connection, secret, url } = await n8nConnection();
    const other = await createClinic({ app });
    const add = vi.spyOn(app.infra.queue, 'add');
    let res;
    try {
      // A clinicId in the payload is data, never the tenant.
      res = await sendStandardWebhook(url, secret, { type: 'lead.created', clinicId: other.id, data: { source: 'site' } });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ received: true, duplicate: false });
      // The clinic's drain is asked for just after the answer, not once per delivery inside it.
      await until(async () => add.mock.calls.length > 0);
      expect(add).toHaveBeenCalledTimes(1);
      const [name, data, opts] = add.mock.calls[0] as unknown as [string, object, { context: { clinicId: string; requestId: string } }];
      expect(name).toBe('integrations.webhooks.drain');
      // Nothing in the payload; clinic (from the connection) and request id beside it.
      expect(data).toEqual({});
      expect(opts.context.clinicId).toBe(clinic.id);
      expect(opts.context.requestId).toBe(res.headers.get('x-request-id'));
    } finally {
      add.mockRestore();
    }
    const [event] = await eventsOf(connection.id);
    expect(event).toMatchObject({ clinicId: clinic.id, externalId: res.id, type: 'lead.created' });
    await until(async () => (await eventsOf(connection.id))[0]?.processedAt != null);
    await until(async () => (await connections.get(clinic.id, connection.id)).status === 'active');
  });

  it('a redelivery of the same webhook-id is a no-op', async () => {
    const { connection, secret, url } = await n8nConnection();
    const first = await sendStandardWebhook(url, secret, { type: 'lead.created' }, { id: 'msg_repeat' });
    const again = await sendStandardWebhook(url, secret, { type: 'lead.created' }, { id: 'msg_repeat' });
    expect([first.status, again.status]).toEqual([200, 200]);
    expect(again.body).toEqual({ received: true, duplicate: true });
    expect(await eventsOf(connection.id)).toHaveLength(1);
  });

  it('unknown, disabled or wrong-provider references are 404; a signed non-JSON body is a 400', async () => {
    const { connection, secret, url } = await n8nConnection();
    const unknown = await sendStandardWebhook(`${server.url}/api/webhooks/n8n/${'a'.repeat(43)}`, secret, { type: 'x' });
    expect(unknown.status).toBe(404);
    const evolution = await connections.create(clinic.id, { provider: 'evolution', credentials: { webhookSecret: secret }, webhook: true });
    expect((await sendStandardWebhook(`${server.url}/api/webhooks/n8n/${evolution.webhookRef}`, secret, { type: 'x' })).status).toBe(404);
    const notJson = await sendStandardWebhook(url, secret, null, { rawBody: 'type=x' });
    expect(notJson.status).toBe(400);
    expect(notJson.body).toMatchObject({ error: { code: 'invalid_json' } });
    const noType = await sendStandardWebhook(url, secret, { data: 1 });
    expect(noType.status).toBe(400);
    await connections.setStatus(clinic.id, connection.id, 'disabled');
    expect((await sendStandardWebhook(url, secret, { type: 'x' })).status).toBe(404);
    expect(await eventsOf(connection.id)).toEqual([]);
    expect(await app.infra.db.select().from(integrationWebhookEvents).where(and(eq(integrationWebhookEvents.connectionId, evolution.id)))).toEqual([]);
  });

  it('is documented as a webhook: no session security, 401 for a refused signature', async () => {
    const doc = (await (await fetch(`${server.url}/api/openapi.json`)).json()) as { paths: Record<string, Record<string, { security?: unknown[]; responses: Record<string, unknown> }>> };
    const op = doc.paths['/api/webhooks/n8n/{ref}']?.post;
    expect(op?.security).toEqual([]);
    expect(Object.keys(op?.responses ?? {})).toEqual(expect.arrayContaining(['200', '400', '401', '404']));
  });
});

async function signed(secret: string, id: string, payload: unknown) {
  const { Webhook } = await import('standardwebhooks');
  return { signature: new Webhook(secret).sign(id, new Date(), JSON.stringify(payload)) };
}
