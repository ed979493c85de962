import { randomBytes } from 'node:crypto';
import { createSigner } from 'fast-jwt';
import { Webhook } from 'standardwebhooks';
import type { WebhookAuthMode } from '../../../shared/schema/webhooks.js';

/** A new secret in the Standard Webhooks form: `whsec_` and base64 of 32 random bytes. */
export const newSecret = () => `whsec_${randomBytes(32).toString('base64')}`;

export interface SigningKeys {
  /** Newest first: during a rotation's grace period both sign. */
  secrets: string[];
  authMode: WebhookAuthMode;
  headerName?: string | null;
  headerValue?: string | null;
  /** `sub` of the JWT: the clinic the message is about. */
  clinicId: string;
}

const JWT_LIFETIME_S = 300;

/**
 * The headers of one attempt. The Standard Webhooks signature is always there (one `v1,` per
 * secret, space-separated); header mode adds N8N's Header Auth header, JWT mode a Bearer token
 * (HS256 with the newest secret as the passphrase, `exp` 5 min, `jti` the webhook-id).
 */
export async function signedHeaders(webhookId: string, body: string, at: Date, keys: SigningKeys): Promise<Record<string, string>> {
  const signature = keys.secrets.map((secret) => new Webhook(secret).sign(webhookId, at, body)).join(' ');
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(body)),
    'user-agent': 'Operabase-Webhooks/1.0',
    'webhook-id': webhookId,
    'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
    'webhook-signature': signature,
  };
  if (keys.authMode === 'header' && keys.headerName && keys.headerValue) headers[keys.headerName.toLowerCase()] = keys.headerValue;
  if (keys.authMode === 'jwt') {
    const iat = Math.floor(at.getTime() / 1000);
    const claims = { iss: 'operabase', aud: 'n8n', sub: `clinic:${keys.clinicId}`, iat, exp: iat + JWT_LIFETIME_S, jti: webhookId };
    const token = createSigner({ key: keys.secrets[0], algorithm: 'HS256' })(claims);
    headers.authorization = `Bearer ${token}`;
  }
  return headers;
}
