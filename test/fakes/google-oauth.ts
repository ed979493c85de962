import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import { LocalHttpFake } from './local-http-fake.js';


/** The Google account signed in to the (simulated) browser, which the consent page approves as. */
export interface GoogleAccount {
  sub: string;
  email: string;
  emailVerified: boolean;
  name?: string;
}

interface IssuedCode {
  account: GoogleAccount;
  redirectUri: string;
  nonce: string | undefined;
  challenge: string | undefined;
  expiresAt: number;
  used: boolean;
}

/**
 * Google's OAuth 2.0 / OpenID Connect endpoints on 127.0.0.1, as google-auth-library calls them:
 * the consent page (`GET /o/oauth2/v2/auth`, answered at once with the redirect Google sends after
 * the user approves), the token endpoint (`POST /token`, form-encoded, client_secret_post, PKCE
 * S256, codes single-use for 10 minutes) returning an RS256 ID token, and the signing keys as
 * PEM certificates (`/oauth2/v1/certs`, what the library reads on Node) and as a JWK set
 * (`/oauth2/v3/certs`). Errors have Google's shape (`{error, error_description}`).
 */
export class FakeGoogleOAuth extends LocalHttpFake {
  /** Who approves the next consent; undefined: the consent page would ask to sign in (a 200 page). */
  account: GoogleAccount | undefined;
  /** The next consents are refused by the user (`error=access_denied`). */
  deny = false;
  /** Claims that replace the issued ID tokens' (a foreign nonce or audience, an old expiry). */
  claims: Record<string, unknown> = {};
  /** Sign ID tokens with a key Google does not publish (a forgery). */
  foreignKey = false;
  /** The token endpoint answers this 5xx (an outage) instead of tokens. */
  tokenOutage: number | undefined;
  readonly consents: URLSearchParams[] = [];
  readonly tokenRequests: URLSearchParams[] = [];
  protected readonly server: Server;
  private readonly codes = new Map<string, IssuedCode>();
  /** Made at start, never committed: Google publishes certificates, and google-auth-library verifies with the PEM public key in them. */
  private keys?: { own: CryptoKey; foreign: CryptoKey; kid: string; pem: string; jwk: Record<string, unknown> };

  constructor(
    readonly clientId: string,
    readonly clientSecret: string,
    readonly redirectUris: string[],
  ) {
    super();
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => json(res, 500, { error: 'internal_failure', error_description: String(err) }));
    });
  }

  override async start(): Promise<this> {
    const [own, foreign] = await Promise.all([generateKeyPair('RS256', { extractable: true }), generateKeyPair('RS256')]);
    const pem = await exportSPKI(own.publicKey);
    const kid = createHash('sha1').update(pem).digest('hex');
    this.keys = { own: own.privateKey, foreign: foreign.privateKey, kid, pem, jwk: { ...(await exportJWK(own.publicKey)), kid, alg: 'RS256', use: 'sig' } };
    return super.start();
  }

  /** The environment that points the app at this fake. */
  env(): Record<string, string> {
    return {
      GOOGLE_CLIENT_ID: this.clientId,
      GOOGLE_CLIENT_SECRET: this.clientSecret,
      GOOGLE_OAUTH_AUTH_URL: `${this.url}/o/oauth2/v2/auth`,
      GOOGLE_OAUTH_TOKEN_URL: `${this.url}/token`,
      GOOGLE_OAUTH_CERTS_URL: `${this.url}/oauth2/v1/certs`,
    };
  }

  private async handle(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? '/', this.url);
    if (req.method === 'GET' && url.pathname === '/o/oauth2/v2/auth') return this.consent(url.searchParams, res);
    if (req.method === 'POST' && url.pathname === '/token') return this.token(new URLSearchParams(await body(req)), res);
    if (req.method === 'GET' && url.pathname === '/oauth2/v1/certs') return json(res, 200, this.keys ? { [this.keys.kid]: this.keys.pem } : {}, { 'cache-control': 'public, max-age=21600' });
    if (req.method === 'GET' && url.pathname === '/oauth2/v3/certs') return json(res, 200, { keys: [this.keys?.jwk] }, { 'cache-control': 'public, max-age=21600' });
    json(res, 404, { error: 'not_found' });
  }

  private consent(q: URLSearchParams, res: ServerResponse) {
    this.consents.push(q);
    const redirectUri = q.get('redirect_uri') ?? '';
    // Google shows its own error page (never redirects) for a bad client or redirect URI.
    if (q.get('client_id') !== this.clientId) return page(res, 401, 'Error 401: invalid_client');
    if (!this.redirectUris.includes(redirectUri)) return page(res, 400, 'Error 400: redirect_uri_mismatch');
    if (q.get('response_type') !== 'code' || !q.get('scope')?.split(' ').includes('openid')) return page(res, 400, 'Error 400: invalid_request');
    const back = new URL(redirectUri);
    const state = q.get('state');
    if (state !== null) back.searchParams.set('state', state);
    if (this.deny) {
      back.searchParams.set('error', 'access_denied');
      return redirect(res, back);
    }
    if (!this.account) return page(res, 200, 'Fazer login com o Google');
    if (q.get('code_challenge') && q.get('code_challenge_method') !== 'S256') return page(res, 400, 'Error 400: invalid_request');
    const code = `4/0A${randomBytes(24).toString('base64url')}`;
    this.codes.set(code, {
      account: this.account,
      redirectUri,
      nonce: q.get('nonce') ?? undefined,
      challenge: q.get('code_challenge') ?? undefined,
      expiresAt: Date.now() + 10 * 60_000,
      used: false,
    });
    back.searchParams.set('code', code);
    // What Google appends besides: the granted scopes, the account index, the prompt shown.
    back.searchParams.set('scope', 'email profile openid https://www.googleapis.com/auth/userinfo.email https://www.googleapis.com/auth/userinfo.profile');
    back.searchParams.set('authuser', '0');
    back.searchParams.set('prompt', 'consent');
    redirect(res, back);
  }

  private async token(form: URLSearchParams, res: ServerResponse) {
    this.tokenRequests.push(form);
    if (this.tokenOutage) return json(res, this.tokenOutage, { error: 'internal_failure', error_description: 'Backend Error' });
    if (form.get('client_id') !== this.clientId || form.get('client_secret') !== this.clientSecret) {
      return json(res, 401, { error: 'invalid_client', error_description: 'Unauthorized' });
    }
    if (form.get('grant_type') !== 'authorization_code') return json(res, 400, { error: 'unsupported_grant_type', error_description: 'Invalid grant_type: ' + form.get('grant_type') });
    const issued = this.codes.get(form.get('code') ?? '');
    if (!issued || issued.used || issued.expiresAt < Date.now()) return json(res, 400, { error: 'invalid_grant', error_description: 'Bad Request' });
    if (form.get('redirect_uri') !== issued.redirectUri) return json(res, 400, { error: 'redirect_uri_mismatch', error_description: 'Bad Request' });
    if (issued.challenge) {
      const verifier = form.get('code_verifier');
      if (!verifier) return json(res, 400, { error: 'invalid_grant', error_description: 'Missing code verifier.' });
      if (createHash('sha256').update(verifier).digest('base64url') !== issued.challenge) return json(res, 400, { error: 'invalid_grant', error_description: 'Invalid code verifier.' });
    }
    issued.used = true;
    const accessToken = `ya29.${randomBytes(24).toString('base64url')}`;
    json(res, 200, {
      access_token: accessToken,
      expires_in: 3599,
      scope: 'https://www.googleapis.com/auth/userinfo.email https://www.googleapis.com/auth/userinfo.profile openid',
      token_type: 'Bearer',
      id_token: await this.idToken(issued, accessToken),
    });
  }

  private async idToken(issued: IssuedCode, accessToken: string) {
    const keys = this.keys;
    if (!keys) throw new Error('fake not started');
    const now = Math.floor(Date.now() / 1000);
    const { account } = issued;
    const hash = createHash('sha256').update(accessToken).digest();
    const claims = {
      iss: 'https://accounts.google.com',
      azp: this.clientId,
      aud: this.clientId,
      sub: account.sub,
      email: account.email,
      email_verified: account.emailVerified,
      at_hash: hash.subarray(0, 16).toString('base64url'),
      ...(issued.nonce ? { nonce: issued.nonce } : {}),
      ...(account.name ? { name: account.name, given_name: account.name.split(' ')[0] } : {}),
      iat: now,
      exp: now + 3600,
      ...this.claims,
    };
    return new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: keys.kid, typ: 'JWT' }).sign(this.foreignKey ? keys.foreign : keys.own);
  }
}

function body(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function json(res: ServerResponse, status: number, payload: unknown, headers: Record<string, string> = {}) {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
  res.end(JSON.stringify(payload));
}

function redirect(res: ServerResponse, to: URL) {
  res.writeHead(302, { location: to.href });
  res.end();
}

function page(res: ServerResponse, status: number, text: string) {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8' });
  res.end(`<!doctype html><title>${text}</title><p>${text}</p>`);
}
