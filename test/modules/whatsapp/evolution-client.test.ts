import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { jwtVerify } from 'jose';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { EvolutionClient, type EvolutionInstance } from '../../../server/modules/whatsapp/evolution.js';
import { EvolutionError } from '../../../server/modules/whatsapp/evolution-errors.js';
import { FakeEvolution } from '../../fakes/evolution.js';

const TIMEOUT_MS = 400;
let evo: FakeEvolution;
let gateway: EvolutionClient;
let n = 0;

beforeAll(async () => {
  evo = await new FakeEvolution().start();
  gateway = new EvolutionClient({ baseUrl: evo.url, apiKey: evo.apiKey, timeoutMs: TIMEOUT_MS });
});
afterAll(() => evo.stop());
beforeEach(() => {
  evo.version = '2.3';
});

/** A fresh instance, its phone linked (state open) unless told otherwise. */
async function instance(opts: { open?: boolean } = {}): Promise<EvolutionInstance> {
  const name = `cli-${++n}-${Date.now()}`;
  const made = await gateway.createInstance({ instance: name, token: `token-${name}` });
  if (opts.open !== false) evo.scan(name);
  return gateway.forInstance(name, made.token);
}

async function failure(promise: Promise<unknown>): Promise<EvolutionError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(EvolutionError);
  return err as EvolutionError;
}

describe('EvolutionClient against FakeEvolution', () => {
  it('creates an instance with the global key, then calls it with its own token only', async () => {
    const name = `keys-${Date.now()}`;
    const made = await gateway.createInstance({ instance: name, token: 'our-own-token' });
    expect(made.token).toBe('our-own-token');
    expect(made.instanceId).toBe(evo.instances.get(name)?.id);
    const create = evo.requests.find((r) => r.route === 'instance/create' && (r.body as { instanceName: string }).instanceName === name);
    expect(create?.headers.apikey).toBe(evo.apiKey);
    expect(create?.body).toMatchObject({ integration: 'WHATSAPP-BAILEYS', qrcode: true, groupsIgnore: true, rejectCall: true });

    const client = gateway.forInstance(name, made.token);
    expect(await client.state()).toBe('connecting');
    const state = evo.requests.findLast((r) => r.route === 'instance/connectionState');
    expect(state?.path).toBe(`/instance/connectionState/${name}`);
    expect(state?.headers.apikey).toBe('our-own-token');
  });

  it('links a phone: QR, then open after the scan; a pairing code with ?number=', async () => {
    const client = await instance({ open: false });
    const qr = await client.connect();
    expect(qr).toMatchObject({ state: 'qr', code: expect.stringMatching(/^2@/), base64: expect.stringMatching(/^data:image\/png;base64,/) });
    const pairing = await client.connect({ number: '5511940001234' });
    expect(pairing).toMatchObject({ state: 'qr', pairingCode: expect.stringMatching(/^[A-Z0-9]{8}$/) });
    expect(evo.requests.findLast((r) => r.route === 'instance/connect')?.query).toEqual({ number: '5511940001234' });
    evo.scan(client.instance);
    expect(await client.connect()).toEqual({ state: 'open' });
    expect(await client.state()).toBe('open');
  });

  it('treats HTTP 200 {error: true} as a failure, and {count: 0} as a QR not ready yet', async () => {
    const client = await instance({ open: false });
    evo.failNext('instance/connect', { status: 200, body: { error: true, message: '[object Object]' } });
    const err = await failure(client.connect());
    expect(err).toMatchObject({ code: 'rejected', status: 200, retryable: false });
    evo.failNext('instance/connect', { status: 200, body: { count: 0 } });
    expect(await client.connect()).toEqual({ state: 'pending' });
  });

  it('classifies 401, 404, exists:false, 5xx and 2.4 LICENSE_REQUIRED', async () => {
    const client = await instance();
    expect(await failure(gateway.forInstance(client.instance, 'wrong-token').state())).toMatchObject({ code: 'unauthorized', status: 401, retryable: false });
    // An instance that does not exist is 404 whatever the key (Evolution checks existence first).
    expect(await failure(gateway.forInstance('no-such-instance', 'x').state())).toMatchObject({ code: 'not_found', status: 404, retryable: false });

    evo.notOnWhatsapp.add('5511900000000');
    expect(await failure(client.sendText({ to: '5511900000000', text: 'Olá' }))).toMatchObject({ code: 'not_on_channel', status: 400, retryable: false, ambiguous: false });
    expect(evo.sentCount(client.instance)).toBe(0);

    evo.failNext('message/sendText', { status: 502 });
    expect(await failure(client.sendText({ to: '5511987654321', text: 'Olá' }))).toMatchObject({ code: 'unavailable', status: 502, retryable: true });

    evo.version = '2.4-unlicensed';
    const licence = await failure(client.state());
    expect(licence).toMatchObject({ code: 'license_required', status: 503, retryable: false });
    expect(licence.message).toContain('LICENSE_REQUIRED');
  });

  it('a send that times out is ambiguous and not retryable, although the gateway sent it', async () => {
    const client = await instance();
    evo.timeoutNext('message/sendText');
    const started = Date.now();
    const err = await failure(client.sendText({ to: '5511987654321', text: 'Sua consulta é amanhã' }));
    expect(err).toMatchObject({ code: 'timeout', ambiguous: true, retryable: false });
    expect(Date.now() - started).toBeLessThan(TIMEOUT_MS * 5);
    expect(evo.sentCount(client.instance)).toBe(1);

    // A read that times out can simply be asked again.
    evo.timeoutNext('instance/connectionState');
    expect(await failure(client.state())).toMatchObject({ code: 'timeout', ambiguous: true, retryable: true });
  });

  it('an unreachable gateway is unavailable and retryable: nothing reached it', async () => {
    const gone = await new FakeEvolution().start();
    const url = gone.url;
    await gone.stop();
    const client = new EvolutionClient({ baseUrl: url, apiKey: 'k', timeoutMs: TIMEOUT_MS }).forInstance('x', 'y');
    expect(await failure(client.sendText({ to: '5511987654321', text: 'Olá' }))).toMatchObject({ code: 'unavailable', retryable: true, ambiguous: false });
  });

  it('sends text with a quote, media, voice notes; reads, presence, numbers and media download', async () => {
    const client = await instance();
    const sent = await client.sendText({ to: '5511987654321', text: 'Perfeito, até quinta!', quoted: { externalId: '3AB1F7E2C94D0A5B6E12', remoteJid: '5511987654321@s.whatsapp.net', fromMe: false, text: 'Pode ser às 14h?' } });
    expect(sent).toMatchObject({ externalId: expect.stringMatching(/^3EB0/), remoteJid: '5511987654321@s.whatsapp.net', status: 'PENDING' });
    expect(sent.sentAt).toBeInstanceOf(Date);
    expect(evo.sent.at(-1)?.request).toMatchObject({ number: '5511987654321', text: 'Perfeito, até quinta!', quoted: { key: { id: '3AB1F7E2C94D0A5B6E12' }, message: { conversation: 'Pode ser às 14h?' } } });

    const doc = await client.sendMedia({ to: '5511987654321', kind: 'document', media: { base64: 'JVBERi0xLjQK' }, mimetype: 'application/pdf' });
    expect(doc.externalId).not.toBe(sent.externalId);
    expect(evo.sent.at(-1)?.request).toMatchObject({ mediatype: 'document', fileName: 'documento', media: 'JVBERi0xLjQK' });
    await client.sendAudio({ to: '5511987654321', audio: { url: 'https://static.example/lembrete.mp3' } });
    expect(evo.sent.at(-1)).toMatchObject({ route: 'message/sendWhatsAppAudio', request: { audio: 'https://static.example/lembrete.mp3', encoding: true } });
    expect(evo.sentCount(client.instance)).toBe(3);

    // The legacy 9th-digit rule: DDD >= 31 and a mobile starting 7-9 loses the 9.
    evo.notOnWhatsapp.add('5511900000001');
    expect(await client.resolveNumbers(['5531988887777', '5511900000001'])).toEqual([
      { number: '5531988887777', exists: true, jid: '553188887777@s.whatsapp.net' },
      { number: '5511900000001', exists: false, jid: null },
    ]);

    await client.markRead([{ remoteJid: '5511987654321@s.whatsapp.net', fromMe: false, externalId: '3A5C0E8F1B2D4A6C9E01' }]);
    expect(evo.reads.at(-1)?.readMessages).toEqual([{ remoteJid: '5511987654321@s.whatsapp.net', fromMe: false, id: '3A5C0E8F1B2D4A6C9E01' }]);
    await client.sendPresence({ to: '5511987654321', presence: 'composing', delayMs: 50 });
    expect(evo.presences.at(-1)).toMatchObject({ instance: client.instance, presence: 'composing' });

    evo.media.set('3A44C1D9F0B27E8A5D10', { mimetype: 'audio/ogg; codecs=opus', base64: Buffer.from('OggS-audio').toString('base64'), fileName: 'nota.oga' });
    expect(await client.downloadMedia('3A44C1D9F0B27E8A5D10')).toEqual({ mimetype: 'audio/ogg; codecs=opus', base64: Buffer.from('OggS-audio').toString('base64'), fileName: 'nota.oga', size: 10 });
  });

  it("finds the messages the gateway stored: ours in a time window, page by page, or one by id", async () => {
    const client = await instance();
    const text = await client.sendText({ to: '5531988887777', text: 'Seu exame está pronto.' });
    const image = await client.sendMedia({ to: '5531988887777', kind: 'image', media: { base64: 'iVBORw0KGgo=' }, mimetype: 'image/png', caption: 'Receita' });
    const since = new Date(Date.now() - 60_000);
    const until = new Date(Date.now() + 60_000);
    const found = await client.findMessages({ fromMe: true, since, until });
    expect(evo.requests.at(-1)?.body).toEqual({ where: { key: { fromMe: true }, messageTimestamp: { gte: since.toISOString(), lte: until.toISOString() } }, offset: 100, page: 1 });
    expect(found.pages).toBe(1);
    // The gateway resolved 5531988887777 to the JID without the 9th digit: both forms are named.
    expect(found.items.map((m) => ({ id: m.externalId, type: m.type, text: m.text, fromMe: m.fromMe, addresses: m.addresses }))).toEqual(
      expect.arrayContaining([
        { id: text.externalId, type: 'text', text: 'Seu exame está pronto.', fromMe: true, addresses: ['5531988887777@s.whatsapp.net', '553188887777@s.whatsapp.net'] },
        { id: image.externalId, type: 'image', text: 'Receita', fromMe: true, addresses: ['5531988887777@s.whatsapp.net', '553188887777@s.whatsapp.net'] },
      ]),
    );
    expect(found.items).toHaveLength(2);
    expect((await client.findMessages({ fromMe: true, since: new Date(Date.now() + 3_600_000), until: new Date(Date.now() + 7_200_000) })).items).toEqual([]);
    const byId = await client.findMessages({ externalId: image.externalId });
    expect(byId.items.map((m) => m.externalId)).toEqual([image.externalId]);
    expect(evo.requests.at(-1)?.body).toEqual({ where: { key: { id: image.externalId } }, offset: 100, page: 1 });
    // Another instance's messages are not this one's.
    const other = await instance();
    expect((await other.findMessages({ externalId: image.externalId })).items).toEqual([]);
  });

  it('sets the webhook with the v2 nested body; logout and delete are idempotent', async () => {
    const client = await instance();
    await client.setWebhook({ url: 'http://127.0.0.1:1/api/webhooks/evolution/ref', headers: { jwt_key: 'segredo' }, events: ['MESSAGES_UPSERT'] });
    expect(evo.requests.findLast((r) => r.route === 'webhook/set')?.body).toEqual({
      webhook: { enabled: true, url: 'http://127.0.0.1:1/api/webhooks/evolution/ref', headers: { jwt_key: 'segredo' }, byEvents: false, base64: false, events: ['MESSAGES_UPSERT'] },
    });
    await client.logout();
    expect(await client.state()).toBe('close');
    await client.logout();
    await gateway.deleteInstance(client.instance);
    expect(evo.instances.has(client.instance)).toBe(false);
    await gateway.deleteInstance(client.instance);
  });
});

describe('FakeEvolution webhooks', () => {
  async function receiver() {
    const seen: { headers: IncomingHttpHeaders; body: Record<string, unknown> }[] = [];
    const server = createServer((req, res) => {
      let raw = '';
      req.on('data', (c: Buffer) => (raw += c.toString()));
      req.on('end', () => {
        seen.push({ headers: req.headers, body: JSON.parse(raw) as Record<string, unknown> });
        res.end('{}');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
    return { seen, url, close: () => new Promise<void>((r) => server.close(() => r())) };
  }

  it('signs each delivery with an HS256 JWT from jwt_key (2.3), sends it verbatim on 2.2', async () => {
    const hook = await receiver();
    const client = await instance();
    await client.setWebhook({ url: hook.url, headers: { jwt_key: 'segredo-da-conexao' }, events: [] });
    await evo.deliver(client.instance, 'connection.update', { instance: client.instance, state: 'open', statusReason: 200 });
    const [first] = hook.seen;
    expect(first?.headers.jwt_key).toBeUndefined();
    const token = String(first?.headers.authorization).replace(/^Bearer /, '');
    const { payload } = await jwtVerify(token, new TextEncoder().encode('segredo-da-conexao'), { algorithms: ['HS256'] });
    expect(payload).toMatchObject({ app: 'evolution', action: 'webhook' });
    expect((payload.exp ?? 0) - (payload.iat ?? 0)).toBe(600);
    expect(first?.body).toMatchObject({ event: 'connection.update', instance: client.instance, data: { state: 'open' }, apikey: `token-${client.instance}` });

    await evo.deliver(client.instance, 'connection.update', {}, { eventCase: 'upper' });
    expect(hook.seen[1]?.body.event).toBe('CONNECTION_UPDATE');

    evo.version = '2.2';
    await evo.deliver(client.instance, 'qrcode.updated', {});
    expect(hook.seen[2]?.headers.jwt_key).toBe('segredo-da-conexao');
    expect(hook.seen[2]?.headers.authorization).toBeUndefined();
    await hook.close();
  });

  it('emits what the gateway emits on its own when autoWebhooks is on', async () => {
    const hook = await receiver();
    const client = await instance({ open: false });
    await client.setWebhook({ url: hook.url, headers: {}, events: ['CONNECTION_UPDATE', 'SEND_MESSAGE'] });
    evo.autoWebhooks = true;
    try {
      await client.connect(); // QRCODE_UPDATED is not subscribed: not sent
      evo.scan(client.instance, { phone: '5511940001234' });
      const sent = await client.sendText({ to: '5511987654321', text: 'Olá' });
      await evo.settle();
      expect(hook.seen.map((s) => s.body.event)).toEqual(['connection.update', 'send.message']);
      expect(hook.seen[0]?.body).toMatchObject({ data: { state: 'open', wuid: '5511940001234@s.whatsapp.net' }, sender: '5511940001234@s.whatsapp.net' });
      expect(hook.seen[1]?.body.data).toMatchObject({ key: { id: sent.externalId, fromMe: true }, status: 'PENDING' });
    } finally {
      evo.autoWebhooks = false;
      await hook.close();
    }
  });
});
