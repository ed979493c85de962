import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import { AppError } from '../../lib/errors.js';
import type { WebhookVerifyInput } from '../../http/route.js';

const header = (headers: WebhookVerifyInput['headers'], name: string) => {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
};

/**
 * Standard Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64 HMAC>`,
 * ±5 min tolerance, several signatures during a key rotation), verified with the library on the raw
 * bytes against the connection's `webhookSecret`.
 */
export function verifyStandardWebhook({ raw, headers, credentials }: WebhookVerifyInput): void {
  const secret = credentials.webhookSecret;
  if (!secret) throw new AppError(401, 'invalid_signature', 'This connection has no webhook secret');
  const signed = {
    'webhook-id': header(headers, 'webhook-id') ?? '',
    'webhook-timestamp': header(headers, 'webhook-timestamp') ?? '',
    'webhook-signature': header(headers, 'webhook-signature') ?? '',
  };
  try {
    // Parsing is the route's job, after verify.
    new Webhook(secret).verify(raw, signed, { jsonParse: false });
  } catch (err) {
    if (err instanceof WebhookVerificationError) throw new AppError(401, 'invalid_signature', 'The webhook signature is missing, invalid or too old');
    throw err;
  }
}
