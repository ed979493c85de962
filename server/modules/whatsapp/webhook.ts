import { createHash, timingSafeEqual } from 'node:crypto';
import { createVerifier } from 'fast-jwt';
import { z } from 'zod';
import { webhookRoute, type RouteDef, type WebhookConnections, type WebhookContext, type WebhookVerifyInput } from '../../http/route.js';
import { AppError, badRequest } from '../../lib/errors.js';
import type { WebhookInbox } from '../integrations/webhooks.js';
import type { NumberLookup } from './lookup.js';
import { eventName, items, parseEdit } from './normalize.js';

/** Credential keys of an Evolution connection (sealed in integration_connections.credentials). */
export const WEBHOOK_SECRET = 'webhookSecret';
export const INSTANCE_TOKEN = 'instanceToken';

/** The events the processor works on; anything else is answered and dropped. */
export const HANDLED_EVENTS = new Set([
  'messages.upsert',
  'messages.update',
  'messages.delete',
  'messages.edited',
  'send.message',
  'send.message.update',
  'connection.update',
  'qrcode.updated',
  'contacts.upsert',
  'contacts.update',
]);

/** Evolution's envelope: `{event, instance, data, destination, date_time, sender, server_url, apikey}`; loose for version drift. */
export const evolutionEnvelope = z.looseObject({
  event: z.string().min(1).max(100),
  instance: z.string().min(1).max(200),
  data: z.union([z.record(z.string(), z.unknown()), z.array(z.record(z.string(), z.unknown())).max(1000)]),
  date_time: z.string().max(100).optional(),
});
export type EvolutionEnvelope = z.infer<typeof evolutionEnvelope>;

const refused = () => new AppError(401, 'invalid_signature', 'The webhook signature or token was refused');

const parsed = new WeakMap<Buffer, EvolutionEnvelope>();

/** The raw body as an envelope (400 for anything else); parsed once per request. */
function envelopeOf(raw: Buffer): EvolutionEnvelope {
  const known = parsed.get(raw);
  if (known) return known;
  let json: unknown;
  try {
    json = JSON.parse(raw.toString('utf8'));
  } catch {
    throw badRequest('invalid_json', 'The request body is not valid JSON');
  }
  const result = evolutionEnvelope.safeParse(json);
  // A NUL can only arrive escaped (a raw control character is not JSON): Postgres stores no NUL in text.
  if (!result.success || raw.includes('\\u0000')) {
    throw new AppError(400, 'validation_failed', 'Invalid body', result.success ? undefined : { body: z.flattenError(result.error) });
  }
  parsed.set(raw, result.data);
  return result.data;
}

const digest = (s: string) => createHash('sha256').update(s).digest();

/**
 * Evolution signs with `Authorization: Bearer <HS256 JWT>` (`{app: "evolution", action: "webhook"}`,
 * 10 minutes) when the webhook was set with a `jwt_key` header; otherwise the body's `apikey` is the
 * instance token, compared in constant time. A bearer that fails is refused (no fallback).
 */
export async function verifyEvolution({ raw, headers, credentials }: WebhookVerifyInput): Promise<void> {
  const auth = headers.authorization;
  if (auth) {
    const secret = credentials[WEBHOOK_SECRET];
    const token = /^Bearer (.+)$/.exec(auth)?.[1];
    if (!secret || !token) throw refused();
    try {
      // fast-jwt: node:crypto's HMAC, synchronous (jose's WebCrypto verify cost ~0.14 ms of CPU a call on Node 20).
      const payload = createVerifier({ key: secret, algorithms: ['HS256'], requiredClaims: ['exp'] })(token) as Record<string, unknown>;
      if (payload.app !== 'evolution' || payload.action !== 'webhook') throw refused();
      return;
    } catch {
      throw refused();
    }
  }
  const expected = credentials[INSTANCE_TOKEN];
  let apikey: unknown;
  try {
    apikey = (JSON.parse(raw.toString('utf8')) as { apikey?: unknown }).apikey;
  } catch {
    throw refused();
  }
  if (!expected || typeof apikey !== 'string' || !timingSafeEqual(digest(apikey), digest(expected))) throw refused();
}

/** The message id (and status, for updates; the edit's time, for edits) an item names, or undefined. */
function itemKey(name: string, d: Record<string, unknown>): string | undefined {
  const key = d.key as { id?: unknown } | undefined;
  // Each edit of a message is its own event (an update carrying one would else look like its SERVER_ACK).
  const edit = parseEdit(d);
  if (edit) return `${edit.externalId}:edit:${edit.editedAt?.getTime() ?? digest(edit.text).toString('hex').slice(0, 16)}`;
  if (name === 'messages.upsert' || name === 'send.message') return typeof key?.id === 'string' ? key.id : undefined;
  if (name === 'messages.update') {
    const id = d.keyId ?? key?.id;
    return typeof id === 'string' ? `${id}:${String(d.status ?? (d.update as { status?: unknown } | undefined)?.status ?? '')}` : undefined;
  }
  if (name === 'messages.delete') {
    const id = d.id ?? key?.id;
    return typeof id === 'string' ? id : undefined;
  }
  return undefined;
}

/**
 * The delivery's external id, the same for a retry and for the global and instance webhooks of one
 * event: the event name and message ids (with the status of an update); other events hash their
 * name, time and data (a `connection.update` to `open` twice is two events).
 */
export function deliveryId(envelope: EvolutionEnvelope): string {
  const name = eventName(envelope.event);
  const list = items(envelope.data);
  const keys = list.map((d) => itemKey(name, d));
  if (keys.length > 0 && keys.every((k) => k !== undefined)) {
    const id = `${name}:${keys.join(',')}`;
    if (id.length <= 300) return id;
  }
  return `${name}:sha256:${digest(`${envelope.date_time ?? ''}|${JSON.stringify(envelope.data)}`).toString('hex')}`;
}

/**
 * The two receivers: `/webhooks/evolution/:ref` (per instance, set by the numbers module) and the
 * global one. The acknowledgement is one insert and one queue add: the connection and the number
 * come from per-process caches (IntegrationService, NumberLookup).
 */
export function evolutionWebhookRoutes(lookup: Pick<NumberLookup, 'find' | 'refOf'>, integrations: { inbox: WebhookInbox; connections: WebhookConnections }): RouteDef[] {
  const { inbox, connections } = integrations;
  /** The number this delivery is for, of this connection; a payload naming another instance is ignored. */
  const numberOf = (ctx: WebhookContext, instance: string) => lookup.find(ctx.clinicId, ctx.connection.id, instance);

  const receive = async (ctx: WebhookContext, envelope: EvolutionEnvelope, log: { info: (o: object, m: string) => void }) => {
    const name = eventName(envelope.event);
    if (!HANDLED_EVENTS.has(name)) return { received: true as const, ignored: true };
    if (!(await numberOf(ctx, envelope.instance))) {
      log.info({ provider: 'evolution', instance: envelope.instance, event: name }, 'evolution webhook for an instance of no number ignored');
      return { received: true as const, ignored: true };
    }
    // The instance token is a credential: never kept with the payload.
    const { apikey: _token, ...payload } = envelope;
    const { duplicate } = await inbox.receive(ctx, { externalId: deliveryId(envelope), type: name, payload });
    return { received: true as const, duplicate };
  };

  const answer = z.object({ received: z.literal(true), duplicate: z.boolean().optional(), ignored: z.boolean().optional() });
  return [
    webhookRoute({
      method: 'post',
      path: '/webhooks/evolution/:ref',
      summary: "Evolution API webhook of one number (JWT or instance token); stored, answered at once, processed by a job",
      tag: 'WhatsApp',
      provider: 'evolution',
      verify: verifyEvolution,
      schemas: { body: evolutionEnvelope },
      response: answer,
      handler: async ({ ctx, body, req }) => receive(ctx, body, req.log),
    }),
    webhookRoute({
      method: 'post',
      path: '/webhooks/evolution',
      summary:
        "Evolution API global webhook: the same body as /webhooks/evolution/{ref}; the number is found by the payload's instance, the clinic from our row. An unknown instance is answered 200 (ignored) so Evolution stops retrying",
      tag: 'WhatsApp',
      provider: 'evolution',
      verify: verifyEvolution,
      resolve: async ({ raw }) => {
        const ref = await lookup.refOf(envelopeOf(raw).instance);
        return ref ? connections.resolveWebhook('evolution', ref) : undefined;
      },
      unknown: () => ({ received: true, ignored: true }),
      response: answer,
      handler: async ({ ctx, raw, req }) => receive(ctx, envelopeOf(raw), req.log),
    }),
  ];
}
