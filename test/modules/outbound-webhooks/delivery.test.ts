import { randomUUID } from 'node:crypto';
import { eq, inArray } from 'drizzle-orm';
import { jwtVerify } from 'jose';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { webhookDeliveries, webhookSubscriptions } from '../../../shared/schema/index.js';
import { ClinicData } from '../../../server/infra/clinic-data.js';
import { FakeWebhookReceiver, type ReceivedWebhook } from '../../fakes/webhook-receiver.js';
import { buildTestApp, type TestApp } from '../../helpers/app.js';
import { createClinic, type TestClinic } from '../../helpers/clinic.js';
import { seedConversation, seedNumber } from '../../helpers/inbox.js';
import { createPatient } from '../../helpers/patients.js';
import { until } from '../../helpers/until.js';

/**
 * Deliveries to a local N8N stand-in, opened by OUTBOUND_ALLOW_HOSTS as an operator would: every
 * signature checked with the standardwebhooks package's own `Webhook.verify`; retries shortened
 * by WEBHOOK_RETRY_SCHEDULE_MS (three retries, 20 ms apart), two failed deliveries switch a subscription off.
 */

let app: TestApp;
let receiver: FakeWebhookReceiver;

beforeAll(async () => {
  receiver = await new FakeWebhookReceiver().start();
  app = await buildTestApp({ env: { OUTBOUND_ALLOW_HOSTS: '127.0.0.1', WEBHOOK_RETRY_SCHEDULE_MS: '20,20,20', WEBHOOK_DISABLE_AFTER_FAILURES: '2' } });
});
afterAll(async () => {
  await app?.close();
  await receiver?.stop();
});

interface Subscription {
  id: string;
  secret: string;
  path: string;
}

async function subscribe(clinic: TestClinic, body: Record<string, unknown> = {}): Promise<Subscription> {
  const path = `/webhook/${randomUUID()}`;
  const res = await clinic.admin.agent.post('/api/webhook-subscriptions').send({ url: `${receiver.url}${path}`, events: ['contact.created'], ...body });
  if (res.status !== 201) throw new Error(`subscribe: ${res.status} ${JSON.stringify(res.body)}`);
  return { id: res.body.id, secret: res.body.secret, path };
}

const at = (s: Subscription) => receiver.received.filter((r) => r.path === s.path);

async function received(s: Subscription, count: number): Promise<ReceivedWebhook[]> {
  await until(async () => {
    await app.infra.events.flush();
    return at(s).length >= count;
  });
  return at(s);
}

async function deliveriesOf(clinic: TestClinic, s: Subscription) {
  return (await clinic.admin.agent.get(`/api/webhook-subscriptions/${s.id}/deliveries`)).body.items as Record<string, unknown>[];
}

/** Waits for the subscription's newest delivery to leave `pending`. */
async function settled(clinic: TestClinic, s: Subscription) {
  let last: Record<string, unknown> | undefined;
  await until(async () => {
    await app.infra.events.flush();
    [last] = await deliveriesOf(clinic, s);
    return last !== undefined && last.status !== 'pending';
  });
  return last as Record<string, unknown>;
}

const subscriptionOf = async (clinic: TestClinic, s: Subscription) => (await clinic.admin.agent.get(`/api/webhook-subscriptions/${s.id}`)).body;

describe('signed delivery', () => {
  it('delivers a catalog event the reference verification accepts, with ids and no patient data', async () => {
    const clinic = await createClinic({ app });
    const s = await subscribe(clinic);
    const patient = await createPatient(clinic);
    const [hit] = await received(s, 1);
    if (!hit) throw new Error('nothing received');
    const payload = new Webhook(s.secret).verify(hit.raw, FakeWebhookReceiver.signed(hit));
    expect(payload).toEqual({ type: 'contact.created', timestamp: expect.any(String), clinicId: clinic.id, data: { contactId: patient.id, status: 'active' } });
    expect(hit.raw).not.toContain(patient.name);
    expect(hit.raw).not.toContain(String(patient.phone));
    expect(hit.headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
    expect(() => new Webhook(`whsec_${Buffer.alloc(32, 1).toString('base64')}`).verify(hit.raw, FakeWebhookReceiver.signed(hit))).toThrow();

    const delivery = await settled(clinic, s);
    expect(delivery).toMatchObject({ id: hit.headers['webhook-id'], eventType: 'contact.created', status: 'delivered', attempts: 1, responseStatus: 200, responseBody: '{"ok":true}' });
    expect(delivery.durationMs).toBeTypeOf('number');
    const detail = await clinic.admin.agent.get(`/api/webhook-deliveries/${String(delivery.id)}`);
    expect(detail.body.body).toBe(hit.raw);
  });

  it('retries a receiver that fails, then succeeds: one webhook-id over several attempts, each signed', async () => {
    const clinic = await createClinic({ app });
    const s = await subscribe(clinic);
    receiver.respond(s.path, 500, 503);
    await createPatient(clinic);
    const hits = await received(s, 3);
    expect(new Set(hits.map((h) => h.headers['webhook-id'])).size).toBe(1);
    expect(new Set(hits.map((h) => h.raw)).size).toBe(1);
    for (const h of hits) expect(() => new Webhook(s.secret).verify(h.raw, FakeWebhookReceiver.signed(h))).not.toThrow();
    expect(await settled(clinic, s)).toMatchObject({ status: 'delivered', attempts: 3, responseStatus: 200, lastError: null });
    expect((await subscriptionOf(clinic, s)).consecutiveFailures).toBe(0);
  });

  it('switches the subscription off on 410 and mails the admins; later events are not sent', async () => {
    const clinic = await createClinic({ app });
    const s = await subscribe(clinic);
    receiver.respond(s.path, 410);
    await createPatient(clinic);
    await received(s, 1);
    expect(await settled(clinic, s)).toMatchObject({ status: 'failed', attempts: 1, responseStatus: 410 });
    expect(await subscriptionOf(clinic, s)).toMatchObject({ active: false, disabledReason: 'gone' });
    const mail = await app.mail.waitFor(clinic.admin.email);
    expect(mail.subject).toBe('Webhook desativado');
    expect(mail.text).toContain('410');
    await app.mail.waitFor(clinic.doctorAdmin.email);
    expect(app.mail.sent.some((m) => m.to === clinic.receptionist.email)).toBe(false);

    await createPatient(clinic);
    await app.infra.events.flush();
    expect(await deliveriesOf(clinic, s)).toHaveLength(1);
    expect(at(s)).toHaveLength(1);
  });

  it('switches the subscription off after N deliveries failed with every retry spent, and mails the admins', async () => {
    const clinic = await createClinic({ app });
    const s = await subscribe(clinic);
    receiver.respond(s.path, ...Array<number>(4).fill(500));
    await createPatient(clinic);
    await received(s, 4);
    expect(await settled(clinic, s)).toMatchObject({ status: 'failed', attempts: 4, responseStatus: 500, lastError: 'HTTP 500' });
    expect(await subscriptionOf(clinic, s)).toMatchObject({ active: true, consecutiveFailures: 1 });

    receiver.respond(s.path, ...Array<number>(4).fill(500));
    await createPatient(clinic);
    await received(s, 8);
    await until(async () => (await subscriptionOf(clinic, s)).active === false);
    expect(await subscriptionOf(clinic, s)).toMatchObject({ disabledReason: 'failing', consecutiveFailures: 2 });
    expect((await app.mail.waitFor(clinic.admin.email)).text).toContain('2 entregas seguidas falharam');

    // Switched on again by an admin: the count starts over.
    const on = await clinic.admin.agent.patch(`/api/webhook-subscriptions/${s.id}`).send({ active: true });
    expect(on.body).toMatchObject({ active: true, disabledReason: null, consecutiveFailures: 0 });
  });

  it('replays a delivery with the same webhook-id and body; another clinic gets 404 and nothing is sent', async () => {
    const [clinic, other] = await Promise.all([createClinic({ app }), createClinic({ app })]);
    const s = await subscribe(clinic);
    await createPatient(clinic);
    const [first] = await received(s, 1);
    const delivery = await settled(clinic, s);

    expect((await other.admin.agent.post(`/api/webhook-deliveries/${String(delivery.id)}/replay`).send({})).status).toBe(404);
    expect((await other.admin.agent.get(`/api/webhook-deliveries/${String(delivery.id)}`)).status).toBe(404);
    const res = await clinic.admin.agent.post(`/api/webhook-deliveries/${String(delivery.id)}/replay`).send({});
    expect(res.status).toBe(202);
    const [, again] = await received(s, 2);
    expect(again?.headers['webhook-id']).toBe(first?.headers['webhook-id']);
    expect(again?.raw).toBe(first?.raw);
    expect(() => new Webhook(s.secret).verify(again?.raw ?? '', FakeWebhookReceiver.signed(again as ReceivedWebhook))).not.toThrow();
    expect(await settled(clinic, s)).toMatchObject({ id: delivery.id, status: 'delivered' });
    expect(at(s)).toHaveLength(2);
  });

  it('signs with both secrets during a rotation grace period, and with the new one only after it', async () => {
    const clinic = await createClinic({ app });
    const s = await subscribe(clinic);
    const rotated = await clinic.admin.agent.post(`/api/webhook-subscriptions/${s.id}/rotate-secret`).send({ graceHours: 24 });
    expect(rotated.status).toBe(200);
    expect(rotated.body.secret).toMatch(/^whsec_/);
    expect(rotated.body.secret).not.toBe(s.secret);
    expect(rotated.body.previousSecretExpiresAt).toBeTypeOf('string');
    expect(JSON.stringify((await subscriptionOf(clinic, s)))).not.toContain(rotated.body.secret);

    await clinic.admin.agent.post(`/api/webhook-subscriptions/${s.id}/test`).send({});
    const [during] = await received(s, 1);
    expect(String(during?.headers['webhook-signature']).split(' ')).toHaveLength(2);
    for (const secret of [s.secret, rotated.body.secret as string]) expect(() => new Webhook(secret).verify(during?.raw ?? '', FakeWebhookReceiver.signed(during as ReceivedWebhook))).not.toThrow();

    // The grace period ends (as 24 h later, long after this process's cached copy of the subscription expired).
    await new ClinicData(clinic.id, app.infra.db).update(webhookSubscriptions, { previousSecretExpiresAt: new Date(Date.now() - 1000) }, eq(webhookSubscriptions.id, s.id));
    app.modules.services.webhooks.subscriptions.forget(s.id);
    await clinic.admin.agent.post(`/api/webhook-subscriptions/${s.id}/test`).send({});
    const [, after] = await received(s, 2);
    expect(() => new Webhook(rotated.body.secret).verify(after?.raw ?? '', FakeWebhookReceiver.signed(after as ReceivedWebhook))).not.toThrow();
    expect(() => new Webhook(s.secret).verify(after?.raw ?? '', FakeWebhookReceiver.signed(after as ReceivedWebhook))).toThrow();
    expect((await subscriptionOf(clinic, s)).previousSecretExpiresAt).toBeNull();
  });

  it('sends a test event on request, recorded in the log like any delivery', async () => {
    const clinic = await createClinic({ app });
    const s = await subscribe(clinic, { active: false });
    const res = await clinic.admin.agent.post(`/api/webhook-subscriptions/${s.id}/test`).send({});
    expect(res.status).toBe(202);
    const [hit] = await received(s, 1);
    expect(new Webhook(s.secret).verify(hit?.raw ?? '', FakeWebhookReceiver.signed(hit as ReceivedWebhook))).toMatchObject({ type: 'webhook.test', clinicId: clinic.id, data: { subscriptionId: s.id } });
    expect(await settled(clinic, s)).toMatchObject({ id: res.body.id, eventType: 'webhook.test', status: 'delivered' });
  });

  it("keeps only the first 1 KB of the receiver's answer", async () => {
    const clinic = await createClinic({ app });
    const s = await subscribe(clinic);
    receiver.answer = `{"echo":"${'é'.repeat(3000)}"}`;
    try {
      await clinic.admin.agent.post(`/api/webhook-subscriptions/${s.id}/test`).send({});
      const delivery = await settled(clinic, s);
      expect(delivery.status).toBe('delivered');
      expect(Buffer.byteLength(String(delivery.responseBody))).toBeLessThanOrEqual(1024 + 3);
      expect(String(delivery.responseBody)).toMatch(/^\{"echo":"éé/);
    } finally {
      receiver.answer = '{"ok":true}';
    }
  });
});

describe('auth modes for the N8N Webhook node', () => {
  it('header mode adds the Header Auth credential beside the signature', async () => {
    const clinic = await createClinic({ app });
    const s = await subscribe(clinic, { authMode: 'header', headerName: 'X-Clinica-Token', headerValue: 'f3b9c2d1e0a4' });
    await createPatient(clinic);
    const [hit] = await received(s, 1);
    expect(hit?.headers['x-clinica-token']).toBe('f3b9c2d1e0a4');
    expect(() => new Webhook(s.secret).verify(hit?.raw ?? '', FakeWebhookReceiver.signed(hit as ReceivedWebhook))).not.toThrow();
  });

  it('jwt mode sends an HS256 Bearer token signed with the secret, living 5 minutes, its jti the webhook-id', async () => {
    const clinic = await createClinic({ app });
    const s = await subscribe(clinic, { authMode: 'jwt' });
    await createPatient(clinic);
    const [hit] = await received(s, 1);
    const token = String(hit?.headers.authorization).replace(/^Bearer /, '');
    const { payload, protectedHeader } = await jwtVerify(token, new TextEncoder().encode(s.secret), { algorithms: ['HS256'], issuer: 'operabase', audience: 'n8n' });
    expect(protectedHeader.alg).toBe('HS256');
    expect(payload).toMatchObject({ sub: `clinic:${clinic.id}`, jti: hit?.headers['webhook-id'] });
    expect((payload.exp ?? 0) - (payload.iat ?? 0)).toBe(300);
    await expect(jwtVerify(token, new TextEncoder().encode('n8n-jwt-passphrase-change-me'))).rejects.toThrow();
  });
});

describe('catalog events from domain events', () => {
  it('appointment status changes send appointment.updated (or .cancelled) and appointment.status_changed with the previous status', async () => {
    const clinic = await createClinic({ app });
    const s = await subscribe(clinic, { events: ['appointment.created', 'appointment.updated', 'appointment.cancelled', 'appointment.status_changed'] });
    const patient = await createPatient(clinic);
    const booked = await clinic.receptionist.agent.post('/api/appointments').send({ contactId: patient.id, professionalId: clinic.professional.id, startsAt: '2031-03-12T09:00:00-03:00', durationMinutes: 30 });
    expect(booked.status).toBe(201);
    await received(s, 1);
    await clinic.receptionist.agent.patch(`/api/appointments/${booked.body.id}`).send({ durationMinutes: 45 });
    await received(s, 2);
    await clinic.receptionist.agent.post(`/api/appointments/${booked.body.id}/status`).send({ status: 'confirmed' });
    await received(s, 4);
    await clinic.receptionist.agent.post(`/api/appointments/${booked.body.id}/status`).send({ status: 'cancelled', reason: 'Paciente viajou' });
    const hits = await received(s, 6);
    // An edit is an update only; each status change sends its pair (two deliveries, in either order).
    expect(hits.slice(0, 2).map((h) => h.body.type)).toEqual(['appointment.created', 'appointment.updated']);
    expect(hits.slice(2, 4).map((h) => h.body.type).sort()).toEqual(['appointment.status_changed', 'appointment.updated']);
    expect(hits.slice(4, 6).map((h) => h.body.type).sort()).toEqual(['appointment.cancelled', 'appointment.status_changed']);
    const changes = hits.filter((h) => h.body.type === 'appointment.status_changed').map((h) => h.body.data);
    expect(changes).toEqual([
      expect.objectContaining({ appointmentId: booked.body.id, contactId: patient.id, previousStatus: 'scheduled', status: 'confirmed' }),
      expect.objectContaining({ appointmentId: booked.body.id, previousStatus: 'confirmed', status: 'cancelled' }),
    ]);
    expect(hits.map((h) => h.raw).join()).not.toContain('Paciente viajou');
    expect(hits.map((h) => h.raw).join()).not.toContain(patient.name);
  });

  it('a conversation gets conversation.assigned when its assignee changes, not on other updates', async () => {
    const clinic = await createClinic({ app });
    const s = await subscribe(clinic, { events: ['conversation.assigned'] });
    const number = await seedNumber(clinic);
    const conversation = await seedConversation(clinic, number);
    await clinic.receptionist.agent.patch(`/api/conversations/${conversation.id}`).send({ status: 'pending' });
    await clinic.receptionist.agent.patch(`/api/conversations/${conversation.id}`).send({ assigneeId: clinic.professional.id });
    await clinic.receptionist.agent.patch(`/api/conversations/${conversation.id}`).send({ assigneeId: clinic.professional.id, status: 'open' });
    await clinic.receptionist.agent.patch(`/api/conversations/${conversation.id}`).send({ assigneeId: null });
    await received(s, 2);
    // The last change is in once its event was relayed: nothing beyond the two reassignments came.
    await until(async () => (await deliveriesOf(clinic, s)).every((d) => d.status === 'delivered'));
    expect(at(s).map((h) => h.body.data)).toEqual([
      { conversationId: conversation.id, contactId: conversation.contact.id, numberId: number.id, assigneeId: clinic.professional.id, previousAssigneeId: null },
      { conversationId: conversation.id, contactId: conversation.contact.id, numberId: number.id, assigneeId: null, previousAssigneeId: clinic.professional.id },
    ]);
  });
});

describe('targets inside the network at delivery time', () => {
  it('refuses to send when the stored target now points inside (as after a DNS change), and records why', async () => {
    const clinic = await createClinic({ app });
    const s = await subscribe(clinic);
    await new ClinicData(clinic.id, app.infra.db).update(webhookSubscriptions, { url: 'http://169.254.169.254/latest/meta-data/' }, eq(webhookSubscriptions.id, s.id));
    await clinic.admin.agent.post(`/api/webhook-subscriptions/${s.id}/test`).send({});
    const delivery = await settled(clinic, s);
    expect(delivery).toMatchObject({ status: 'failed', responseStatus: null });
    expect(String(delivery.lastError)).toMatch(/^blocked_address/);
  });
});

describe('retention of the delivery log', () => {
  it('deletes finished deliveries of every clinic older than 30 days (the default), hourly and once per cluster; pending ones stay', async () => {
    expect(app.modules.jobs.find((j) => j.name === 'webhooks.prune')).toMatchObject({ queue: 'maintenance', everyMs: 3600_000 });
    const day = 86_400_000;
    const rows: Record<string, string> = {};
    for (const clinic of [await createClinic({ app }), await createClinic({ app })]) {
      const s = await subscribe(clinic, { active: false });
      const seed = async (name: string, status: 'delivered' | 'failed' | 'pending', ageDays: number) => {
        const [row] = await new ClinicData(clinic.id, app.infra.db)
          .insert(webhookDeliveries, { subscriptionId: s.id, eventType: 'contact.created', body: '{}', status, createdAt: new Date(Date.now() - ageDays * day) })
          .returning({ id: webhookDeliveries.id });
        rows[`${clinic.id}:${name}`] = row!.id;
      };
      await seed('delivered-31d', 'delivered', 31);
      await seed('failed-31d', 'failed', 31);
      await seed('pending-31d', 'pending', 31);
      await seed('delivered-29d', 'delivered', 29);
    }
    expect(await app.modules.services.webhooks.deliveries.prune()).toBeGreaterThanOrEqual(4);
    const kept = await app.infra.systemDb.select({ id: webhookDeliveries.id }).from(webhookDeliveries).where(inArray(webhookDeliveries.id, Object.values(rows)));
    const names = Object.entries(rows).filter(([, id]) => kept.some((k) => k.id === id)).map(([name]) => name.split(':')[1]);
    expect(names.sort()).toEqual(['delivered-29d', 'delivered-29d', 'pending-31d', 'pending-31d']);
  });
});

describe('the subscription as deliveries see it (kept per process)', () => {
  it("another instance's change applies here within WEBHOOK_SUBSCRIPTION_CACHE_MS; this process's own at once", async () => {
    const local = await buildTestApp({ env: { OUTBOUND_ALLOW_HOSTS: '127.0.0.1', WEBHOOK_SUBSCRIPTION_CACHE_MS: '400' } });
    try {
      const clinic = await createClinic({ app: local });
      const s = await subscribe(clinic);
      const test = async () => {
        const res = await clinic.admin.agent.post(`/api/webhook-subscriptions/${s.id}/test`).send({});
        await until(async () => (await clinic.admin.agent.get(`/api/webhook-deliveries/${res.body.id}`)).body.status !== 'pending');
      };
      const hits = (path: string) => receiver.received.filter((r) => r.path === path).length;
      await test();
      // Another instance moves the target: this process keeps the copy it read for up to 400 ms...
      const moved = `/webhook/${randomUUID()}`;
      await new ClinicData(clinic.id, local.infra.db).update(webhookSubscriptions, { url: `${receiver.url}${moved}` }, eq(webhookSubscriptions.id, s.id));
      await test();
      expect([hits(s.path), hits(moved)]).toEqual([2, 0]);
      // ...then reads it again.
      await new Promise((r) => setTimeout(r, 450));
      await test();
      expect([hits(s.path), hits(moved)]).toEqual([2, 1]);
      // A change made through this process applies to the next delivery.
      const back = await clinic.admin.agent.patch(`/api/webhook-subscriptions/${s.id}`).send({ url: `${receiver.url}${s.path}` });
      expect(back.status).toBe(200);
      await test();
      expect([hits(s.path), hits(moved)]).toEqual([3, 1]);
    } finally {
      await local.close();
    }
  });
});
