import { z } from 'zod';
import { errorShape } from '../../shared/api/common.js';
import { WEBHOOK_EVENTS, WEBHOOK_TEST_EVENT, webhookEnvelope } from '../../shared/api/webhooks.js';
import { PERMISSIONS } from '../lib/permissions.js';
import { webhookParams, type RouteDef } from './route.js';

const jsonSchema = (schema: z.ZodType, io: 'input' | 'output') =>
  z.toJSONSchema(schema, { target: 'draft-2020-12', io, unrepresentable: 'any' }) as Record<string, unknown>;

function parameters(schema: z.ZodType | undefined, where: 'path' | 'query') {
  if (!schema) return [];
  const js = jsonSchema(schema, 'input') as { properties?: Record<string, unknown>; required?: string[] };
  return Object.entries(js.properties ?? {}).map(([name, s]) => ({
    name,
    in: where,
    required: where === 'path' || (js.required ?? []).includes(name),
    schema: s,
  }));
}

const errorResponse = (description: string) => ({ description, content: { 'application/json': { schema: jsonSchema(errorShape, 'output') } } });

/** OpenAPI 3.1 built from the same route definitions and zod schemas that validate requests. */
export function buildOpenApi(routes: readonly RouteDef[], info: { version: string }) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    if (r.internal) continue;
    const path = `/api${r.path.replace(/:(\w+)/g, '{$1}')}`;
    const status = String(r.status ?? 200);
    const responses: Record<string, unknown> = {
      [status]: r.response
        ? { description: 'Success', content: { 'application/json': { schema: jsonSchema(r.response, 'output') } } }
        : { description: status === '302' ? 'Redirect' : 'Success' },
      '400': errorResponse('Invalid request'),
    };
    if (r.access === 'webhook') {
      responses['401'] = errorResponse('Signature or token refused');
      if (!r.unknown) responses['404'] = errorResponse('No active connection with this reference');
    } else if (r.access !== 'public') {
      responses['401'] = errorResponse('Not signed in');
      responses['403'] = errorResponse('Role too weak');
    }
    if (r.path.includes(':') && r.access !== 'webhook') responses['404'] = errorResponse('Not found (or in another clinic)');
    if (r.rateLimit) responses['429'] = errorResponse('Too many requests');
    const permission =
      r.access === 'webhook'
        ? `webhook (${r.provider}): verified by the provider's signature or token; the clinic is the connection's`
        : r.access === 'public' || r.access === 'authenticated'
          ? r.access
          : `${r.access}${'professionalOnly' in PERMISSIONS[r.access] ? ' (professionals only)' : ''}`;
    const unauthenticated = r.access === 'public' || r.access === 'webhook';
    const operation: Record<string, unknown> = {
      summary: r.summary,
      tags: [r.tag],
      description: `Access: ${permission}.`,
      parameters: [...parameters(r.schemas?.params ?? (r.access === 'webhook' && !r.resolve ? webhookParams : undefined), 'path'), ...parameters(r.schemas?.query, 'query')],
      responses,
      ...(unauthenticated ? { security: [] } : {}),
    };
    if (r.idempotent) {
      (operation.parameters as unknown[]).push({ name: 'Idempotency-Key', in: 'header', required: false, schema: { type: 'string', maxLength: 200 } });
    }
    if (r.upload) {
      const fields = r.upload.fields ? (jsonSchema(r.upload.fields, 'input') as { properties?: object }).properties : {};
      const multipart = { type: 'object', required: [r.upload.field], properties: { ...fields, [r.upload.field]: { type: 'string', format: 'binary' } } };
      operation.requestBody = {
        required: true,
        content: {
          'multipart/form-data': { schema: multipart },
          ...(r.upload.orJson && r.schemas?.body ? { 'application/json': { schema: jsonSchema(r.schemas.body, 'input') } } : {}),
        },
      };
    } else if (r.schemas?.body) {
      operation.requestBody = { required: true, content: { 'application/json': { schema: jsonSchema(r.schemas.body, 'input') } } };
    }
    (paths[path] ??= {})[r.method] = operation;
  }
  return {
    openapi: '3.1.0',
    info: { title: 'Operabase API', version: info.version, description: 'REST API of Operabase, for clinic web apps and N8N flows.' },
    servers: [{ url: '/' }],
    components: {
      securitySchemes: {
        session: { type: 'apiKey', in: 'cookie', name: 'opb.sid' },
        apiKey: { type: 'http', scheme: 'bearer', description: 'A clinic API key (opb_...)' },
      },
    },
    security: [{ session: [] }, { apiKey: [] }],
    paths,
    webhooks: outboundWebhooks(),
  };
}

const signatureHeaders = [
  { name: 'webhook-id', description: 'The delivery id: the same on every retry and replay (deduplicate by it)' },
  { name: 'webhook-timestamp', description: 'Unix seconds of this attempt' },
  { name: 'webhook-signature', description: '`v1,<base64 HMAC-SHA256>` over `id.timestamp.body`, space-separated during a secret rotation' },
].map((h) => ({ ...h, in: 'header', required: true, schema: { type: 'string' } }));

/** What subscriptions receive (`POST` to their URL), one entry per catalog event, from the same zod schemas. */
function outboundWebhooks() {
  const events: [string, string, z.ZodType][] = [
    ...Object.entries(WEBHOOK_EVENTS).map(([type, e]): [string, string, z.ZodType] => [type, e.summary, e.data]),
    [WEBHOOK_TEST_EVENT, 'Sent by POST /api/webhook-subscriptions/{id}/test', z.object({ subscriptionId: z.uuid() })],
  ];
  return Object.fromEntries(
    events.map(([type, summary, data]) => [
      type,
      {
        post: {
          summary,
          description: 'Signed the Standard Webhooks way; header or JWT mode add their credential. Answer 2xx within 10 s; 410 switches the subscription off.',
          parameters: signatureHeaders,
          requestBody: { required: true, content: { 'application/json': { schema: jsonSchema(webhookEnvelope(type, data), 'output') } } },
          responses: { '200': { description: 'Received' }, '410': { description: 'Gone: the subscription is switched off' } },
        },
      },
    ]),
  );
}
