import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { and, asc, eq } from 'drizzle-orm';
import { SignJWT } from 'jose';
import { contactWhatsappIds, contacts, conversations, integrationWebhookEvents, messages, whatsappNumbers } from '../../shared/schema/index.js';
import { ClinicData } from '../../server/infra/clinic-data.js';
import { deliveryId, evolutionEnvelope } from '../../server/modules/whatsapp/webhook.js';
import { eventName } from '../../server/modules/whatsapp/normalize.js';
import type { TestApp } from './app.js';
import { anonymous } from './clinic.js';
import { until } from './until.js';

export interface TestNumber {
  id: string;
  clinicId: string;
  connectionId: string;
  instance: string;
  ref: string;
  webhookSecret: string;
  instanceToken: string;
}

/** A number of the clinic as the numbers module leaves it: an Evolution connection with its secrets, and the number row. */
export async function createNumber(app: TestApp, clinicId: string, opts: { groupsEnabled?: boolean; professionalId?: string } = {}): Promise<TestNumber> {
  const webhookSecret = randomBytes(32).toString('base64url');
  const instanceToken = randomUUID().toUpperCase();
  const instance = `clinica-${randomUUID().slice(0, 8)}`;
  const connection = await app.modules.services.integrations.connections.create(clinicId, { provider: 'evolution', credentials: { webhookSecret, instanceToken }, config: { instance }, webhook: true });
  const [row] = await app.infra.db
    .insert(whatsappNumbers)
    .values({ clinicId, connectionId: connection.id, instanceName: instance, name: 'Recepção', state: 'open', groupsEnabled: opts.groupsEnabled ?? false, professionalId: opts.professionalId ?? null })
    .returning();
  return { id: row!.id, clinicId, connectionId: connection.id, instance, ref: connection.webhookRef!, webhookSecret, instanceToken };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- webhook samples are edited freely, field by field, in tests
export type Sample = Record<string, any>;

const fixtureText = (name: string) => readFileSync(new URL(`../fixtures/evolution/${name}.json`, import.meta.url), 'utf8');

/** A sample webhook body, addressed to the number's instance, with `data` changed by `edit`. */
export function fixture(name: string, number: TestNumber, edit?: (data: Sample) => void): Sample {
  const body = JSON.parse(fixtureText(name)) as Sample;
  body.instance = number.instance;
  body.apikey = number.instanceToken;
  if (body.data && typeof body.data === 'object' && 'instance' in body.data) body.data.instance = number.instance;
  edit?.(body.data);
  return body;
}

/** `messages.upsert` of a text from `jid` (key fields overridable), as 2.3 sends it. */
export function textMessage(number: TestNumber, text: string, key: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) {
  return fixture('webhook.messages.upsert.text', number, (d) => {
    d.key = { remoteJid: '5511987654321@s.whatsapp.net', fromMe: false, id: `3A${randomBytes(9).toString('hex').toUpperCase()}`, ...key };
    d.message = { conversation: text };
    Object.assign(d, extra);
  });
}

export const jwtFor = (secret: string, claims: Record<string, unknown> = { app: 'evolution', action: 'webhook' }, expiresIn: string | number = '10m') =>
  new SignJWT(claims).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).setIssuedAt().setExpirationTime(expiresIn).sign(new TextEncoder().encode(secret));

/**
 * Posts as Evolution does: to the number's URL (or the global one), signed with the JWT its
 * `jwt_key` header asks for (the default), the body's instance token, or nothing.
 */
export async function deliver(app: TestApp, number: TestNumber, body: unknown, opts: { global?: boolean; auth?: 'jwt' | 'apikey' | 'none'; token?: string } = {}) {
  const url = opts.global ? '/api/webhooks/evolution' : `/api/webhooks/evolution/${number.ref}`;
  const req = anonymous(app).post(url).set('Content-Type', 'application/json');
  const auth = opts.auth ?? 'jwt';
  if (auth === 'jwt') req.set('Authorization', `Bearer ${opts.token ?? (await jwtFor(number.webhookSecret))}`);
  const payload = auth === 'apikey' ? body : { ...(body as object), apikey: null };
  return req.send(JSON.stringify(payload));
}

/** Waits until the inbox job processed every delivery of the number. */
export async function processed(app: TestApp, number: TestNumber) {
  await until(async () => {
    const rows = await app.infra.db.select({ at: integrationWebhookEvents.processedAt }).from(integrationWebhookEvents).where(eq(integrationWebhookEvents.connectionId, number.connectionId));
    return rows.every((r) => r.at !== null);
  });
}

/** Delivers and waits for the job. */
export async function ingest(app: TestApp, number: TestNumber, body: unknown, opts: Parameters<typeof deliver>[3] = {}) {
  const res = await deliver(app, number, body, opts);
  if (res.status !== 200) throw new Error(`webhook answered ${res.status} ${JSON.stringify(res.body)}`);
  await processed(app, number);
  return res;
}

/** Stores deliveries as the receiver does (delivery id, no token), oldest first, without asking for a drain: `drainNow` takes them as one batch. */
export async function store(app: TestApp, number: TestNumber, bodies: Sample[]) {
  for (const body of bodies) {
    const { apikey: _token, ...payload } = body;
    await new ClinicData(number.clinicId, app.infra.db).insert(integrationWebhookEvents, { connectionId: number.connectionId, externalId: deliveryId(evolutionEnvelope.parse(body)), type: eventName(body.event as string), payload });
  }
}

/** Runs the clinic's drain now, as its job would. */
export const drainNow = (app: TestApp, number: TestNumber) =>
  app.modules.services.integrations.inbox.drain(number.clinicId, { clinicId: number.clinicId, requestId: null, jobId: 'test-drain', attempt: 1, log: app.infra.log });

export const messagesOf = (app: TestApp, number: TestNumber) => app.infra.db.select().from(messages).where(eq(messages.numberId, number.id)).orderBy(asc(messages.sentAt), asc(messages.createdAt));
export const messageByExternal = async (app: TestApp, number: TestNumber, externalId: string) =>
  (await app.infra.db.select().from(messages).where(and(eq(messages.numberId, number.id), eq(messages.externalId, externalId))))[0];
export const conversationsOf = (app: TestApp, number: TestNumber) => app.infra.db.select().from(conversations).where(eq(conversations.numberId, number.id));
export const contactOf = async (app: TestApp, id: string) => (await app.infra.db.select().from(contacts).where(eq(contacts.id, id)))[0];
export const jidsOf = async (app: TestApp, contactId: string) =>
  (await app.infra.db.select({ jid: contactWhatsappIds.jid }).from(contactWhatsappIds).where(eq(contactWhatsappIds.contactId, contactId))).map((r) => r.jid).sort();
export const deliveriesOf = (app: TestApp, number: TestNumber) => app.infra.db.select().from(integrationWebhookEvents).where(eq(integrationWebhookEvents.connectionId, number.connectionId));
