import { Writable } from 'node:stream';
import { and, asc, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { conversations, integrationConnections, outbox, whatsappNumbers } from '../../../shared/schema/index.js';
import { ClinicData } from '../../../server/infra/clinic-data.js';
import { WEBHOOK_EVENTS } from '../../../server/modules/whatsapp/numbers.js';
import { FakeEvolution } from '../../fakes/evolution.js';
import { buildTestApp, type TestApp } from '../../helpers/app.js';
import { anonymous, createClinic, type TestClinic } from '../../helpers/clinic.js';
import { collect, listen, nextEvent, openSocket, sessionCookie, type ClientSocket, type RunningServer } from '../../helpers/server.js';
import { until } from '../../helpers/until.js';
import { createPatient } from '../../helpers/patients.js';
import { connectedNumber, createNumber, evolutionEnv, storedNumber } from '../../helpers/whatsapp.js';
import { TEST_ORIGIN } from '../../helpers/app.js';

const lines: string[] = [];
let evo: FakeEvolution;
let app: TestApp;
let running: RunningServer;
let clinic: TestClinic;
const sockets: ClientSocket[] = [];

beforeAll(async () => {
  evo = await new FakeEvolution().start();
  app = await buildTestApp({ env: evolutionEnv(evo), logTo: new Writable({ write: (chunk, _enc, done) => void (lines.push(String(chunk)), done()) }) });
  running = await listen(app);
  clinic = await createClinic({ app });
});
afterAll(async () => {
  for (const socket of sockets) socket.close();
  await running.close();
  await evo.stop();
});

const numbers = () => app.modules.services.whatsapp.numbers;
const connections = () => app.modules.services.integrations.connections;
const row = async (id: string) => (await app.infra.db.select().from(whatsappNumbers).where(eq(whatsappNumbers.id, id)))[0];
const stateEvents = async (id: string) =>
  (await app.infra.db.select().from(outbox).where(and(eq(outbox.name, 'whatsapp.number.updated'), eq(outbox.aggregateId, id))).orderBy(asc(outbox.id))).map((e) => (e.payload as { state: string }).state);
const probe = (clinicId = clinic.id) => app.infra.queue.add('whatsapp.numbers.probe', { clinicId });

describe('creating a number', () => {
  it('creates the instance, points its signed webhook at us and answers the first QR', async () => {
    const res = await clinic.admin.agent.post('/api/whatsapp/numbers').send({ name: 'Recepção' });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ name: 'Recepção', state: 'qr', professionalId: null, qr: { state: 'qr', code: expect.stringMatching(/^2@/), base64: expect.stringMatching(/^data:image\/png/) } });
    const instance = evo.instances.get(res.body.instanceName);
    expect(instance?.settings).toMatchObject({ groupsIgnore: true, rejectCall: true });
    const create = evo.requests.find((r) => r.route === 'instance/create' && (r.body as { instanceName: string }).instanceName === res.body.instanceName);
    expect(create?.body).toMatchObject({ integration: 'WHATSAPP-BAILEYS', qrcode: true });
    expect(create?.headers.apikey).toBe(evo.apiKey);

    // The webhook: v2 nested body, our URL with the connection's reference, the events we handle, a jwt_key secret.
    const number = await row(res.body.id);
    const connection = await connections().get(clinic.id, number!.connectionId);
    const credentials = await connections().credentials(clinic.id, number!.connectionId);
    const set = evo.requests.findLast((r) => r.route === 'webhook/set' && r.path.endsWith(res.body.instanceName));
    expect(set?.headers.apikey).toBe(credentials.instanceToken);
    expect(set?.body).toEqual({
      webhook: {
        enabled: true,
        url: `http://api.test/api/webhooks/evolution/${connection.webhookRef}`,
        headers: { jwt_key: credentials.webhookSecret },
        byEvents: false,
        base64: false,
        events: WEBHOOK_EVENTS,
      },
    });
    expect(WEBHOOK_EVENTS).toEqual(['MESSAGES_UPSERT', 'MESSAGES_UPDATE', 'MESSAGES_DELETE', 'MESSAGES_EDITED', 'SEND_MESSAGE', 'SEND_MESSAGE_UPDATE', 'CONNECTION_UPDATE', 'QRCODE_UPDATED', 'CONTACTS_UPSERT', 'CONTACTS_UPDATE']);
    expect(instance?.token).toBe(credentials.instanceToken);
    expect(connection.status).toBe('active');
  });

  it('never shows the instance token or the webhook secret: not in answers, not in the database in clear, not in logs', async () => {
    const created = await createNumber(clinic);
    const { connectionId } = (await row(created.id))!;
    const { instanceToken, webhookSecret } = await connections().credentials(clinic.id, connectionId);
    expect(instanceToken?.length).toBeGreaterThanOrEqual(32);
    expect(webhookSecret?.length).toBeGreaterThanOrEqual(32);
    const answers = [
      JSON.stringify(created),
      JSON.stringify((await clinic.admin.agent.get('/api/whatsapp/numbers')).body),
      JSON.stringify((await clinic.admin.agent.get(`/api/whatsapp/numbers/${created.id}`)).body),
      JSON.stringify((await clinic.admin.agent.get(`/api/whatsapp/numbers/${created.id}/qr`)).body),
      JSON.stringify((await clinic.admin.agent.post(`/api/whatsapp/numbers/${created.id}/reconnect`)).body),
    ];
    const [stored] = await app.infra.db.select().from(integrationConnections).where(eq(integrationConnections.id, connectionId));
    for (const secret of [instanceToken, webhookSecret] as string[]) {
      for (const answer of answers) expect(answer).not.toContain(secret);
      expect(stored?.credentials).not.toContain(secret);
      expect(JSON.stringify(stored?.config)).not.toContain(secret);
      expect(lines.join('\n')).not.toContain(secret);
    }
  });

  it('a private number belongs to an active professional of the clinic', async () => {
    const own = await createNumber(clinic, { professionalId: clinic.professional.id });
    expect(own.professionalId).toBe(clinic.professional.id);

    const other = await createClinic({ app });
    const before = evo.instances.size;
    for (const professionalId of [other.professional.id, clinic.receptionist.id, '00000000-0000-4000-8000-000000000000']) {
      const res = await clinic.admin.agent.post('/api/whatsapp/numbers').send({ professionalId });
      expect(res.status, professionalId).toBe(404);
      expect(res.body.error.code).toBe('not_found');
    }
    expect(evo.instances.size).toBe(before);
  });

  it('a creation Evolution refuses leaves nothing behind; 2.4 unlicensed is said plainly', async () => {
    const fresh = await createClinic({ app });
    evo.failNext('webhook/set', { status: 500 });
    const failed = await fresh.admin.agent.post('/api/whatsapp/numbers').send({});
    expect(failed.status).toBe(503);
    expect(failed.body.error.code).toBe('whatsapp_gateway_unavailable');
    // The instance it made is removed, and so are the connection and the number.
    const made = evo.requests.findLast((r) => r.route === 'instance/create');
    expect(evo.instances.has((made?.body as { instanceName: string }).instanceName)).toBe(false);
    expect(await connections().list(fresh.id, { provider: 'evolution' })).toEqual([]);
    expect((await fresh.admin.agent.get('/api/whatsapp/numbers')).body.items).toEqual([]);

    evo.version = '2.4-unlicensed';
    try {
      const unlicensed = await fresh.admin.agent.post('/api/whatsapp/numbers').send({});
      expect(unlicensed.status).toBe(503);
      expect(unlicensed.body.error).toMatchObject({ code: 'whatsapp_license_required', message: expect.stringContaining('licença') });
      expect((await fresh.admin.agent.get('/api/whatsapp/numbers')).body.items).toEqual([]);
    } finally {
      evo.version = '2.3';
    }
  });

  it("Evolution's HTTP 200 {error: true} is a failure, not a QR", async () => {
    const created = await createNumber(clinic);
    evo.failNext('instance/connect', { status: 200, body: { error: true, message: '[object Object]' } });
    const res = await clinic.admin.agent.get(`/api/whatsapp/numbers/${created.id}/qr`);
    expect(res.status).toBe(502);
    expect(res.body.error.code).toBe('whatsapp_gateway_error');
  });
});

describe('linking a phone', () => {
  it('QR, scan, open: the state follows and each change reaches the clinic in real time', async () => {
    const socket = await openSocket(running.url, { origin: TEST_ORIGIN, cookie: await sessionCookie(running.url, clinic.receptionist.email) });
    sockets.push(socket);
    const seen = collect(socket, 'whatsapp:status') as { id: string; state: string }[];
    const created = await createNumber(clinic);
    await until(() => seen.some((e) => e.id === created.id && e.state === 'qr'));

    const qr = await clinic.admin.agent.get(`/api/whatsapp/numbers/${created.id}/qr`);
    expect(qr.body).toMatchObject({ state: 'qr', pairingCode: null });
    evo.scan(created.instanceName, { phone: '5511940001234' });
    const opened = nextEvent(socket, 'whatsapp:status');
    // What the receiver calls for `connection.update` {state: open, wuid}.
    await numbers().applyConnectionEvent(clinic.id, created.id, { state: 'open', reason: 200, phone: '5511940001234@s.whatsapp.net' });
    expect(await opened).toEqual({ id: created.id, state: 'open', reason: null, professionalId: null });
    const shown = await clinic.receptionist.agent.get(`/api/whatsapp/numbers/${created.id}`);
    expect(shown.body).toMatchObject({ state: 'open', phone: '5511940001234', stateReason: null });
    expect((await clinic.admin.agent.get(`/api/whatsapp/numbers/${created.id}/qr`)).body).toEqual({ state: 'open' });
  });

  it('a pairing code for ?phone=, in any Brazilian form', async () => {
    const created = await createNumber(clinic);
    const res = await clinic.admin.agent.get(`/api/whatsapp/numbers/${created.id}/qr`).query({ phone: '(11) 94000-1234' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ state: 'qr', pairingCode: expect.stringMatching(/^[A-Z0-9]{8}$/) });
    expect(evo.requests.findLast((r) => r.route === 'instance/connect')?.query).toEqual({ number: '5511940001234' });
    const bad = await clinic.admin.agent.get(`/api/whatsapp/numbers/${created.id}/qr`).query({ phone: '123' });
    expect(bad.status).toBe(400);
  });

  it('redelivered and stale events change nothing; reasons get names', async () => {
    const number = await connectedNumber(clinic, evo);
    const before = await stateEvents(number.id);
    expect(before.at(-1)).toBe('open');
    await numbers().applyConnectionEvent(clinic.id, number.id, { state: 'open', reason: 200 });
    // A QR delivered late (retried) while the phone is linked is stale.
    await numbers().applyConnectionEvent(clinic.id, number.id, { state: 'qr' });
    expect(await stateEvents(number.id)).toEqual(before);
    expect((await row(number.id))?.state).toBe('open');

    const closed = await numbers().applyConnectionEvent(clinic.id, number.id, { state: 'close', reason: 401 });
    expect(closed).toMatchObject({ state: 'close', stateReason: 'logged_out' });
    await numbers().applyConnectionEvent(clinic.id, number.id, { state: 'close', reason: 401 });
    expect(await stateEvents(number.id)).toEqual([...before, 'close']);
    const refused = await numbers().applyConnectionEvent(clinic.id, number.id, { state: 'refused', reason: 'qr_limit_reached' });
    expect(refused).toMatchObject({ state: 'refused', stateReason: 'qr_limit_reached' });
  });

  it('a private number: its status goes to the whole clinic, like the list', async () => {
    const socket = await openSocket(running.url, { origin: TEST_ORIGIN, cookie: await sessionCookie(running.url, clinic.receptionist.email) });
    sockets.push(socket);
    const seen = collect(socket, 'whatsapp:status');
    const number = await connectedNumber(clinic, evo, { professionalId: clinic.doctorAdmin.id });
    await until(() => seen.some((e) => (e as { id: string; state: string }).id === number.id && (e as { state: string }).state === 'open'));
    expect(seen.find((e) => (e as { id: string }).id === number.id)).toMatchObject({ professionalId: clinic.doctorAdmin.id });
  });
});

describe('the probe', () => {
  it('finds a dead session, a vanished instance, a revoked token and an unlicensed gateway; an outage changes nothing', async () => {
    const probed = await createClinic({ app });
    const [dead, vanished, revoked, steady] = [await connectedNumber(probed, evo), await connectedNumber(probed, evo), await connectedNumber(probed, evo), await connectedNumber(probed, evo)];
    evo.setState(dead.instanceName, 'close');
    evo.instances.delete(vanished.instanceName);
    evo.instances.get(revoked.instanceName)!.token = 'rotated-elsewhere';
    await probe(probed.id);
    // The job probes the four side by side: each verdict lands on its own (the steady one writes only lastProbeAt).
    await until(async () => (await row(steady.id))?.lastProbeAt !== null && (await row(dead.id))?.state !== 'open' && (await row(vanished.id))?.state !== 'open' && (await row(revoked.id))?.state !== 'open');
    expect(await row(dead.id)).toMatchObject({ state: 'close' });
    expect(await row(vanished.id)).toMatchObject({ state: 'broken', stateReason: 'instance_not_found' });
    expect(await row(revoked.id)).toMatchObject({ state: 'broken', stateReason: 'unauthorized' });
    expect(await row(steady.id)).toMatchObject({ state: 'open', stateReason: null });
    expect(await stateEvents(vanished.id)).toContain('broken');

    // The gateway down: no verdict, the state stays what it was.
    const lastProbe = (await row(steady.id))?.lastProbeAt;
    evo.failNext('instance/connectionState', { status: 502 });
    expect(await app.modules.services.whatsapp.probe.probe(probed.id, steady.id)).toBe('unreachable');
    expect(await row(steady.id)).toMatchObject({ state: 'open' });
    expect((await row(steady.id))?.lastProbeAt?.getTime()).toBeGreaterThan(lastProbe?.getTime() ?? 0);

    evo.version = '2.4-unlicensed';
    try {
      await app.modules.services.whatsapp.probe.probe(probed.id, steady.id);
      const res = await probed.admin.agent.get(`/api/whatsapp/numbers/${steady.id}`);
      expect(res.body).toMatchObject({ state: 'broken', stateReason: 'license_required' });
      const ready = await anonymous(app).get('/api/health/ready');
      expect(ready.body.whatsapp.reasons.license_required).toBeGreaterThanOrEqual(1);
    } finally {
      evo.version = '2.3';
    }
  });

  it('reconnect repairs a broken number: the instance is made again and the webhook set again', async () => {
    const number = await connectedNumber(clinic, evo);
    const { connectionId } = (await row(number.id))!;
    const tokenBefore = (await connections().credentials(clinic.id, connectionId)).instanceToken;
    evo.instances.delete(number.instanceName);
    await app.modules.services.whatsapp.probe.probe(clinic.id, number.id);
    expect((await row(number.id))?.state).toBe('broken');

    const res = await clinic.admin.agent.post(`/api/whatsapp/numbers/${number.id}/reconnect`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ state: 'qr', qr: { state: 'qr' } });
    const remade = evo.instances.get(number.instanceName);
    const credentials = await connections().credentials(clinic.id, connectionId);
    expect(remade?.token).toBe(credentials.instanceToken);
    expect(credentials.instanceToken).not.toBe(tokenBefore);
    expect(remade?.webhook).toMatchObject({ headers: { jwt_key: credentials.webhookSecret }, events: WEBHOOK_EVENTS });
  });

  it('/api/health/ready counts numbers per state, without clinics, names or tokens', async () => {
    const res = await anonymous(app).get('/api/health/ready');
    expect(res.status).toBe(200);
    const { whatsapp } = res.body;
    const total = Object.values(whatsapp.byState as Record<string, number>).reduce((a, b) => a + b, 0);
    expect(whatsapp.numbers).toBe(total);
    expect(whatsapp.byState.open).toBeGreaterThanOrEqual(1);
    expect(JSON.stringify(whatsapp)).not.toMatch(/opb-|[0-9a-f]{8}-[0-9a-f]{4}|token/);
  });
});

describe('logout and delete', () => {
  it('logout unlinks the phone and keeps the number', async () => {
    const number = await connectedNumber(clinic, evo);
    const res = await clinic.admin.agent.post(`/api/whatsapp/numbers/${number.id}/logout`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ state: 'close', stateReason: 'logged_out' });
    expect(evo.instances.get(number.instanceName)?.state).toBe('close');
    // Twice is fine (2.3 answers 400 "not connected" to the second).
    expect((await clinic.admin.agent.post(`/api/whatsapp/numbers/${number.id}/logout`)).status).toBe(200);
  });

  it('delete removes the instance, the number and its connection; a number with conversations is kept', async () => {
    const number = await connectedNumber(clinic, evo);
    const { connectionId } = (await row(number.id))!;
    const res = await clinic.admin.agent.delete(`/api/whatsapp/numbers/${number.id}`);
    expect(res.status).toBe(204);
    expect(evo.instances.has(number.instanceName)).toBe(false);
    expect(await row(number.id)).toBeUndefined();
    expect(await connections().list(clinic.id, { provider: 'evolution' }).then((l) => l.some((c) => c.id === connectionId))).toBe(false);
    expect((await clinic.admin.agent.get(`/api/whatsapp/numbers/${number.id}`)).status).toBe(404);

    // Deleting would cascade to the patients' message history: refused, the number and instance stay.
    const kept = await connectedNumber(clinic, evo);
    const patient = await createPatient(clinic);
    await new ClinicData(clinic.id, app.infra.db).insert(conversations, { numberId: kept.id, contactId: patient.id });
    const refused = await clinic.admin.agent.delete(`/api/whatsapp/numbers/${kept.id}`);
    expect(refused.status).toBe(409);
    expect(refused.body.error.code).toBe('number_has_conversations');
    expect(await row(kept.id)).toBeDefined();
    expect(evo.instances.has(kept.instanceName)).toBe(true);
  });

  it('sends through an open number only: 409 number_not_connected otherwise', async () => {
    const closed = await storedNumber(clinic, { state: 'close' });
    await expect(app.modules.services.whatsapp.channels.forNumber(clinic.id, closed.id)).rejects.toMatchObject({ status: 409, code: 'number_not_connected' });
    const open = await connectedNumber(clinic, evo);
    const channel = await app.modules.services.whatsapp.channels.forNumber(clinic.id, open.id);
    expect(channel.instance).toBe(open.instanceName);
    const sent = await channel.client.sendText({ to: '5511987654321', text: 'Olá' });
    expect(evo.sent.find((s) => s.externalId === sent.externalId)?.instance).toBe(open.instanceName);
    const other = await createClinic({ app });
    await expect(app.modules.services.whatsapp.channels.forNumber(other.id, open.id)).rejects.toMatchObject({ status: 404 });
  });
});

describe('without Evolution configured', () => {
  it('every route answers 503 integration_not_configured (another clinic still 404)', async () => {
    const bare = await buildTestApp();
    try {
      const c = await createClinic({ app: bare });
      const number = await storedNumber(c);
      for (const [method, path] of [
        ['get', '/api/whatsapp/numbers'],
        ['post', '/api/whatsapp/numbers'],
        ['get', `/api/whatsapp/numbers/${number.id}`],
        ['get', `/api/whatsapp/numbers/${number.id}/qr`],
        ['post', `/api/whatsapp/numbers/${number.id}/reconnect`],
        ['post', `/api/whatsapp/numbers/${number.id}/logout`],
        ['delete', `/api/whatsapp/numbers/${number.id}`],
      ] as const) {
        const res = await c.admin.agent[method](path);
        expect(res.status, `${method} ${path}`).toBe(503);
        expect(res.body.error.code).toBe('integration_not_configured');
      }
      expect(await bare.modules.services.whatsapp.probe.probeAll()).toEqual({ probed: 0, changed: 0, unreachable: 0 });
    } finally {
      await bare.close();
    }
  });
});
