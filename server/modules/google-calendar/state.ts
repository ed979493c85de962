import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { badRequest } from '../../lib/errors.js';

const STATE_TTL_MS = 10 * 60_000;

interface StatePayload {
  /** user id, clinic id, expiry (epoch ms), nonce */
  u: string;
  c: string;
  e: number;
  n: string;
}

/**
 * The OAuth `state`: user, clinic and expiry, HMAC-SHA256 signed with a key derived from
 * ENCRYPTION_KEY for this use only. The callback is public (Google redirects the browser there), so
 * the state is what proves who asked; a forged, altered, foreign or expired one is refused.
 */
export class OAuthState {
  constructor(
    private readonly key: Buffer,
    private readonly now: () => number = Date.now,
  ) {}

  private mac = (body: string) => createHmac('sha256', this.key).update(body).digest('base64url');

  sign(userId: string, clinicId: string): string {
    const body = Buffer.from(JSON.stringify({ u: userId, c: clinicId, e: this.now() + STATE_TTL_MS, n: randomBytes(12).toString('base64url') } satisfies StatePayload)).toString('base64url');
    return `${body}.${this.mac(body)}`;
  }

  verify(state: string): { userId: string; clinicId: string } {
    const invalid = badRequest('invalid_state', 'The authorisation link is invalid or has expired; start the connection again');
    const [body, mac] = state.split('.');
    if (!body || !mac || state.split('.').length !== 2) throw invalid;
    const expected = Buffer.from(this.mac(body));
    const given = Buffer.from(mac);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) throw invalid;
    let payload: StatePayload;
    try {
      payload = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as StatePayload;
    } catch {
      throw invalid;
    }
    if (typeof payload.u !== 'string' || typeof payload.c !== 'string' || typeof payload.e !== 'number' || payload.e < this.now()) throw invalid;
    return { userId: payload.u, clinicId: payload.c };
  }
}
