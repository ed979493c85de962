import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp, type TestApp } from '../../helpers/app.js';
import { anonymous, createClinic, type TestClinic } from '../../helpers/clinic.js';

/** Subscriptions as an admin manages them: targets judged against the inside, events against the catalog, secrets shown once. */

let app: TestApp;
let clinic: TestClinic;
let other: TestClinic;

beforeAll(async () => {
  // No OUTBOUND_ALLOW_HOSTS: what production refuses is refused here too.
  app = await buildTestApp();
  [clinic, other] = await Promise.all([createClinic({ app }), createClinic({ app })]);
});
afterAll(() => app?.close());

// A literal public address: no lookup needed, and `active: false` keeps anything from being sent to it.
const PUBLIC_URL = 'https://93.184.215.14/webhook/clinica';
const create = (c: TestClinic, body: Record<string, unknown>) => c.admin.agent.post('/api/webhook-subscriptions').send({ url: PUBLIC_URL, events: ['appointment.created'], active: false, ...body });

describe('webhook subscriptions', () => {
  it('shows the whsec_ secret in the creation answer only, never in reads', async () => {
    const res = await create(clinic, { events: ['appointment.created', 'contact.created'], description: 'Fluxo de confirmação' });
    expect(res.status).toBe(201);
    expect(res.body.secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
    expect(Buffer.from(res.body.secret.slice(6), 'base64')).toHaveLength(32);
    const one = await clinic.admin.agent.get(`/api/webhook-subscriptions/${res.body.id}`);
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({ url: PUBLIC_URL, events: ['appointment.created', 'contact.created'], authMode: 'standard', active: false });
    const list = await clinic.admin.agent.get('/api/webhook-subscriptions');
    for (const text of [JSON.stringify(one.body), JSON.stringify(list.body)]) {
      expect(text).not.toContain(res.body.secret);
      expect(text).not.toContain('whsec_');
    }
  });

  it('takes a secret the admin brings (API map: secret?), and refuses one that is not whsec_ base64 of 24-64 bytes', async () => {
    const mine = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;
    expect((await create(clinic, { secret: mine })).body.secret).toBe(mine);
    const short = await create(clinic, { secret: `whsec_${Buffer.alloc(8).toString('base64')}` });
    expect(short.status).toBe(400);
    expect((await create(clinic, { secret: 'segredo' })).status).toBe(400);
  });

  it('refuses unknown events with 400 naming them, and changes nothing', async () => {
    const before = (await clinic.admin.agent.get('/api/webhook-subscriptions')).body.items.length;
    const res = await create(clinic, { events: ['appointment.created', 'appointment.deleted', 'paciente.criado'] });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('unknown_event');
    expect(res.body.error.message).toContain('appointment.deleted');
    expect(res.body.error.message).toContain('paciente.criado');
    expect((await clinic.admin.agent.get('/api/webhook-subscriptions')).body.items).toHaveLength(before);
  });

  it.each([
    ['http://127.0.0.1:5678/webhook/x', 'url_not_allowed'],
    ['http://169.254.169.254/latest/meta-data/', 'url_not_allowed'],
    ['http://10.0.0.5/webhook', 'url_not_allowed'],
    ['http://192.168.1.20:5678/webhook', 'url_not_allowed'],
    ['http://[::1]/webhook', 'url_not_allowed'],
    ['http://[::ffff:127.0.0.1]/webhook', 'url_not_allowed'],
    ['http://localhost:5678/webhook', 'url_not_allowed'],
    ['ftp://n8n.example.com/webhook', 'invalid_url'],
    ['file:///etc/passwd', 'invalid_url'],
    ['https://user:senha@93.184.215.14/webhook', 'invalid_url'],
    ['não é url', 'invalid_url'],
  ])('refuses %s (%s)', async (url, code) => {
    const res = await create(clinic, { url });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe(code);
    const existing = (await create(clinic, {})).body.id as string;
    const patch = await clinic.admin.agent.patch(`/api/webhook-subscriptions/${existing}`).send({ url });
    expect(patch.status).toBe(400);
    expect((await clinic.admin.agent.get(`/api/webhook-subscriptions/${existing}`)).body.url).toBe(PUBLIC_URL);
  });

  it('needs the header name and value in header mode, and never shows the value', async () => {
    expect((await create(clinic, { authMode: 'header' })).body.error.code).toBe('header_required');
    const res = await create(clinic, { authMode: 'header', headerName: 'X-Clinica-Token', headerValue: 'f3b9c2d1e0a4' });
    expect(res.status).toBe(201);
    expect(res.body.headerName).toBe('x-clinica-token');
    expect(JSON.stringify((await clinic.admin.agent.get(`/api/webhook-subscriptions/${res.body.id}`)).body)).not.toContain('f3b9c2d1e0a4');
    expect((await create(clinic, { authMode: 'header', headerName: 'webhook-signature', headerValue: 'x' })).status).toBe(400);
  });

  it("answers 404 for another clinic's subscription on every route, and leaves it as it was", async () => {
    const id = (await create(clinic, {})).body.id as string;
    const agent = other.admin.agent;
    expect((await agent.get(`/api/webhook-subscriptions/${id}`)).status).toBe(404);
    expect((await agent.patch(`/api/webhook-subscriptions/${id}`).send({ active: true })).status).toBe(404);
    expect((await agent.post(`/api/webhook-subscriptions/${id}/rotate-secret`).send({})).status).toBe(404);
    expect((await agent.post(`/api/webhook-subscriptions/${id}/test`).send({})).status).toBe(404);
    expect((await agent.get(`/api/webhook-subscriptions/${id}/deliveries`)).status).toBe(404);
    expect((await agent.delete(`/api/webhook-subscriptions/${id}`)).status).toBe(404);
    expect((await clinic.admin.agent.get(`/api/webhook-subscriptions/${id}`)).body.active).toBe(false);
  });

  it('is for admins signed in: other roles and API keys get 403', async () => {
    expect((await clinic.receptionist.agent.get('/api/webhook-subscriptions')).status).toBe(403);
    expect((await clinic.professional.agent.post('/api/webhook-subscriptions').send({ url: PUBLIC_URL, events: ['contact.created'] })).status).toBe(403);
    const key = await clinic.admin.agent.post('/api/api-keys').send({ name: 'n8n', scopes: ['contacts:read', 'appointments:read'] });
    expect((await anonymous(app).get('/api/webhook-subscriptions').set('Authorization', `Bearer ${key.body.key}`)).status).toBe(403);
  });

  it('deletes a subscription', async () => {
    const id = (await create(clinic, {})).body.id as string;
    expect((await clinic.admin.agent.delete(`/api/webhook-subscriptions/${id}`)).status).toBe(204);
    expect((await clinic.admin.agent.get(`/api/webhook-subscriptions/${id}`)).status).toBe(404);
  });

  it('publishes every catalog payload in the OpenAPI webhooks section', async () => {
    const doc = (await anonymous(app).get('/api/openapi.json')).body;
    expect(Object.keys(doc.webhooks)).toEqual(expect.arrayContaining(['appointment.created', 'appointment.status_changed', 'conversation.assigned', 'medical_record.signed', 'opportunity.lost', 'webhook.test']));
    const schema = doc.webhooks['appointment.status_changed'].post.requestBody.content['application/json'].schema;
    expect(schema.properties.type.const).toBe('appointment.status_changed');
    expect(schema.properties.data.required).toEqual(expect.arrayContaining(['appointmentId', 'previousStatus']));
  });
});
