import { randomUUID } from 'node:crypto';
import { Webhook } from 'standardwebhooks';

export interface SentWebhook {
  status: number;
  body: Record<string, unknown>;
  ms: number;
  headers: Headers;
  id: string;
}

/**
 * Sends a webhook the way a Standard Webhooks sender (an N8N flow, Svix) does: JSON body,
 * `webhook-id`, `webhook-timestamp` (unix seconds) and `webhook-signature: v1,<base64 HMAC-SHA256>`
 * over `id.timestamp.body`, signed with the real library, over real HTTP.
 */
export async function sendStandardWebhook(
  url: string,
  secret: string,
  payload: unknown,
  opts: { id?: string; at?: Date; signature?: string; headers?: Record<string, string>; rawBody?: string } = {},
): Promise<SentWebhook> {
  const id = opts.id ?? `msg_${randomUUID()}`;
  const at = opts.at ?? new Date();
  const body = opts.rawBody ?? JSON.stringify(payload);
  const signature = opts.signature ?? new Webhook(secret).sign(id, at, body);
  const t0 = performance.now();
  const res = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'webhook-id': id,
      'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
      'webhook-signature': signature,
      ...opts.headers,
    },
    body,
  });
  const text = await res.text();
  const ms = performance.now() - t0;
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {}, ms, headers: res.headers, id };
}
