import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import { files, outbox, whatsappNumbers } from '../../../shared/schema/index.js';
import type { TenantContext } from '../../../server/http/context.js';
import { FakeEvolution } from '../../fakes/evolution.js';
import { buildTestApp, type TestApp } from '../../helpers/app.js';
import { createClinic, type TestClinic } from '../../helpers/clinic.js';
import { listen, type RunningServer } from '../../helpers/server.js';
import { until } from '../../helpers/until.js';
import { fixture, messageByExternal, type TestNumber } from '../../helpers/whatsapp-webhooks.js';

let evo: FakeEvolution;
let app: TestApp;
let server: RunningServer;
let clinic: TestClinic;
const PLACEHOLDER = 'http://app-base.test';

beforeAll(async () => {
  evo = await new FakeEvolution({ version: '2.3' }).start();
  app = await buildTestApp({ env: { EVOLUTION_API_URL: evo.url, EVOLUTION_API_KEY: evo.apiKey, WEBHOOK_BASE_URL: PLACEHOLDER } });
  server = await listen(app);
  clinic = await createClinic({ app });
});
afterAll(async () => {
  await server.close();
  await app.close();
  await evo.stop();
});

const adminCtx = (): TenantContext => ({
  clinicId: clinic.id,
  actor: { type: 'user', userId: clinic.admin.id, role: 'admin', isProfessional: false },
  requestId: randomUUID(),
  ip: undefined,
  userAgent: undefined,
});

/** A number created through the numbers module on the fake, its phone linked, its webhook pointed at this server. */
async function linkedNumber(): Promise<TestNumber & { instance: string }> {
  const created = await app.modules.services.whatsapp.numbers.create(adminCtx(), { name: 'Recepção' });
  const [row] = await app.infra.db.select().from(whatsappNumbers).where(eq(whatsappNumbers.id, created.id));
  const instance = evo.instances.get(row!.instanceName)!;
  instance.webhook!.url = instance.webhook!.url.replace(PLACEHOLDER, server.url);
  evo.scan(row!.instanceName);
  await app.modules.services.whatsapp.numbers.applyConnectionEvent(clinic.id, created.id, { state: 'open' });
  return { id: created.id, clinicId: clinic.id, connectionId: row!.connectionId, instance: row!.instanceName, ref: '', webhookSecret: '', instanceToken: instance.token };
}

const imageData = (number: TestNumber, id: string) => fixture('webhook.messages.upsert.image-caption', number, (d) => void (d.key.id = id)).data;
const PNG = Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex');

describe('media of received messages', () => {
  it('pending first, then fetched through getBase64FromMediaMessage into the clinic files: stored, with message.updated', async () => {
    const number = await linkedNumber();
    const id = `3A${randomUUID().replace(/-/g, '').slice(0, 18).toUpperCase()}`;
    evo.media.set(id, { mimetype: 'image/jpeg', base64: PNG.toString('base64'), fileName: 'pedido.jpg' });
    const res = await evo.deliver(number.instance, 'messages.upsert', imageData(number, id));
    expect(res.status).toBe(200);
    await until(async () => (await messageByExternal(app, number, id))?.mediaState === 'stored');
    const message = await messageByExternal(app, number, id);
    const [file] = await app.infra.db.select().from(files).where(eq(files.id, message!.fileId!));
    expect(file).toMatchObject({ clinicId: clinic.id, contentType: 'image/jpeg', size: PNG.length, filename: 'pedido.jpg' });
    expect((await app.infra.storage.read(file!.storageKey))?.equals(PNG)).toBe(true);
    const fetches = evo.requests.filter((r) => r.route === 'chat/getBase64FromMediaMessage' && JSON.stringify(r.body).includes(id));
    expect(fetches).toHaveLength(1);
    expect(fetches[0]!.headers.apikey).toBe(number.instanceToken);
    const events = await app.infra.db.select().from(outbox).where(eq(outbox.aggregateId, message!.conversationId));
    expect(events.filter((e) => e.name === 'message.updated').map((e) => (e.payload as { mediaState: string }).mediaState)).toEqual(['stored']);
  });

  it('a fetch that keeps failing is retried, then failed with a retry action that stores it', async () => {
    const number = await linkedNumber();
    const id = `3A${randomUUID().replace(/-/g, '').slice(0, 18).toUpperCase()}`;
    await evo.deliver(number.instance, 'messages.upsert', imageData(number, id));
    await until(async () => (await messageByExternal(app, number, id))?.mediaState === 'failed');
    const failed = await messageByExternal(app, number, id);
    expect(failed).toMatchObject({ error: 'media_fetch_failed', mediaAttempts: 5, fileId: null });
    expect(evo.requests.filter((r) => r.route === 'chat/getBase64FromMediaMessage' && JSON.stringify(r.body).includes(id))).toHaveLength(5);

    evo.media.set(id, { mimetype: 'image/jpeg', base64: PNG.toString('base64') });
    const media = app.modules.services.whatsappIngestion.media;
    expect(await media.retryMedia(adminCtx(), failed!.id)).toEqual({ id: failed!.id, mediaState: 'pending' });
    await until(async () => (await messageByExternal(app, number, id))?.mediaState === 'stored');
    await expect(media.retryMedia(adminCtx(), failed!.id)).rejects.toMatchObject({ status: 409, code: 'media_not_failed' });
    const other = await createClinic({ app });
    await expect(media.retryMedia({ ...adminCtx(), clinicId: other.id }, failed!.id)).rejects.toMatchObject({ status: 404 });
  });

  it('a type the clinic files refuse fails at once, without retries', async () => {
    const number = await linkedNumber();
    const id = `3A${randomUUID().replace(/-/g, '').slice(0, 18).toUpperCase()}`;
    evo.media.set(id, { mimetype: 'application/x-msdownload', base64: PNG.toString('base64') });
    await evo.deliver(number.instance, 'messages.upsert', imageData(number, id));
    await until(async () => (await messageByExternal(app, number, id))?.mediaState === 'failed');
    expect((await messageByExternal(app, number, id))!.error).toBe('media_type_not_allowed');
    expect(evo.requests.filter((r) => r.route === 'chat/getBase64FromMediaMessage' && JSON.stringify(r.body).includes(id))).toHaveLength(1);
  });
});

describe('connection events through the numbers state machine', () => {
  it('connection.update (JWT, 2.3) and qrcode.updated (2.2: headers verbatim, instance token in the body) move the number', async () => {
    const number = await linkedNumber();
    const state = async () => (await app.infra.db.select().from(whatsappNumbers).where(eq(whatsappNumbers.id, number.id)))[0]!;
    const closed = await evo.deliver(number.instance, 'connection.update', { instance: number.instance, state: 'close', statusReason: 401 }, { eventCase: 'upper' });
    expect(closed.status).toBe(200);
    await until(async () => (await state()).state === 'close');
    evo.version = '2.2';
    try {
      const qr = await evo.deliver(number.instance, 'qrcode.updated', fixture('webhook.qrcode.updated', number).data);
      expect(qr.status).toBe(200);
      await until(async () => (await state()).state === 'qr');
    } finally {
      evo.version = '2.3';
    }
    await evo.deliver(number.instance, 'connection.update', { instance: number.instance, state: 'open', statusReason: 200, wuid: '5511940001234@s.whatsapp.net' });
    await until(async () => (await state()).state === 'open');
    expect((await state()).phone).toBe('5511940001234');
  });
});
