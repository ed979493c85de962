import { createHmac, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { LocalHttpFake } from './local-http-fake.js';

export interface FakeAuthUser {
  id: string;
  email: string;
  /** ISO time Supabase confirmed the email; null while unconfirmed. */
  emailConfirmedAt: string | null;
}

/**
 * A Supabase Auth (GoTrue) server on 127.0.0.1 answering what supabase-js's `auth.getUser(jwt)`
 * asks: `GET /auth/v1/user` with the project's key as `apikey` and the user's access token as
 * `Authorization: Bearer`. Tokens are HS256 JWTs signed by this server (`sub`, `exp`, `role`);
 * a bad or expired one answers 403 `bad_jwt`, a missing or wrong key 401, as GoTrue and its
 * gateway do.
 */
export class FakeSupabaseAuth extends LocalHttpFake {
  readonly users = new Map<string, FakeAuthUser>();
  readonly requests: { path: string; apikey: string | undefined }[] = [];
  protected readonly server: Server;
  private readonly jwtSecret: string = randomUUID();

  constructor(readonly apiKey: string) {
    super();
    this.server = createServer((req, res) => this.handle(req, res));
  }


  /** Adds (or replaces) a user and returns an access token for them. */
  signIn(user: FakeAuthUser, expiresInSeconds = 3600): string {
    this.users.set(user.id, user);
    return this.token({ sub: user.id, role: 'authenticated', aud: 'authenticated', exp: Math.floor(Date.now() / 1000) + expiresInSeconds });
  }

  token(claims: Record<string, unknown>, secret = this.jwtSecret): string {
    const head = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url');
    const body = Buffer.from(JSON.stringify(claims)).toString('base64url');
    return `${head}.${body}.${createHmac('sha256', secret).update(`${head}.${body}`).digest('base64url')}`;
  }

  private claims(token: string): { sub?: string; exp?: number } | null {
    const [head, body, signature] = token.split('.');
    if (!head || !body || !signature) return null;
    if (createHmac('sha256', this.jwtSecret).update(`${head}.${body}`).digest('base64url') !== signature) return null;
    const claims = JSON.parse(Buffer.from(body, 'base64url').toString()) as { sub?: string; exp?: number };
    return typeof claims.exp === 'number' && claims.exp > Date.now() / 1000 ? claims : null;
  }

  private handle(req: IncomingMessage, res: ServerResponse) {
    const path = new URL(req.url ?? '/', this.url).pathname;
    const apikey = typeof req.headers.apikey === 'string' ? req.headers.apikey : undefined;
    this.requests.push({ path, apikey });
    if (apikey !== this.apiKey) return json(res, 401, { message: 'Invalid API key' });
    if (req.method !== 'GET' || path !== '/auth/v1/user') return json(res, 404, { code: 404, error_code: 'not_found', msg: 'Not found' });
    const auth = req.headers.authorization;
    if (!auth?.startsWith('Bearer ')) return json(res, 401, { code: 401, error_code: 'no_authorization', msg: 'This endpoint requires a Bearer token' });
    const claims = this.claims(auth.slice(7));
    const user = claims?.sub ? this.users.get(claims.sub) : undefined;
    if (!claims) return json(res, 403, { code: 403, error_code: 'bad_jwt', msg: 'invalid JWT: unable to parse or verify signature, token has invalid claims: token is expired' });
    if (!user) return json(res, 403, { code: 403, error_code: 'user_not_found', msg: 'User from sub claim in JWT does not exist' });
    const now = new Date().toISOString();
    json(res, 200, {
      id: user.id,
      aud: 'authenticated',
      role: 'authenticated',
      email: user.email,
      email_confirmed_at: user.emailConfirmedAt ?? undefined,
      confirmed_at: user.emailConfirmedAt ?? undefined,
      phone: '',
      last_sign_in_at: now,
      app_metadata: { provider: 'email', providers: ['email'] },
      user_metadata: {},
      identities: [],
      created_at: now,
      updated_at: now,
      is_anonymous: false,
    });
  }
}

function json(res: ServerResponse, status: number, body: unknown) {
  res.writeHead(status, { 'content-type': 'application/json', 'x-supabase-api-version': '2024-01-01' });
  res.end(JSON.stringify(body));
}
