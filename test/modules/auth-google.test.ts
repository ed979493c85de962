import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { and, eq, sql } from 'drizzle-orm';
import request, { type Response } from 'supertest';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../../server/config.js';
import { auditLog, clinics, invitations, memberships, users } from '../../shared/schema/index.js';
import { TEST_ORIGIN, buildTestApp, getTestApp, type TestApp } from '../helpers/app.js';
import { PASSWORD, anonymous, createClinic, type Agent, type TestClinic } from '../helpers/clinic.js';
import { FakeGoogleOAuth, type GoogleAccount } from '../fakes/google-oauth.js';

const CLIENT_ID = '1234567890-operabase.apps.googleusercontent.com';
const CLIENT_SECRET = 'GOCSPX-segredo-do-teste';
const API_URL = 'http://api.test';
const CALLBACK = `${API_URL}/api/auth/google/callback`;
const STATE = 'A'.repeat(43);

/** What a browser sends when Google redirects it back: a cross-site top-level navigation, no Origin. */
const NAVIGATION = { 'Sec-Fetch-Site': 'cross-site', 'Sec-Fetch-Mode': 'navigate', 'Sec-Fetch-Dest': 'document' };

const account = (email: string, emailVerified = true): GoogleAccount => ({ sub: String(Date.now() + Math.random()), email, emailVerified, name: 'Dra. Google' });
const cookieNamed = (res: Response, name: string) => ([] as string[]).concat(res.headers['set-cookie'] ?? []).find((c) => c.startsWith(`${name}=`));
/** The cookie's attributes without its value and expiry date. */
const attributes = (cookie: string | undefined) =>
  cookie
    ?.split(';')
    .slice(1)
    .map((a) => a.trim())
    .filter((a) => !a.startsWith('Expires='))
    .sort();

describe('Sign in with Google configuration', () => {
  it('derives its redirect URI from PUBLIC_API_URL unless GOOGLE_SIGNIN_REDIRECT_URI is set, and defaults to Google’s certificates', () => {
    const derived = loadConfig({ NODE_ENV: 'test', PUBLIC_API_URL: 'https://api.clinica.example/' }).google;
    expect(derived.signInRedirectUri).toBe('https://api.clinica.example/api/auth/google/callback');
    expect(derived.oauthCertsUrl).toBe('https://www.googleapis.com/oauth2/v1/certs');
    const own = loadConfig({ NODE_ENV: 'test', PUBLIC_API_URL: 'https://api.clinica.example', GOOGLE_SIGNIN_REDIRECT_URI: 'https://entrar.clinica.example/cb' }).google;
    expect(own.signInRedirectUri).toBe('https://entrar.clinica.example/cb');
    expect(loadConfig({ NODE_ENV: 'test' }).google.signInRedirectUri).toBeUndefined();
  });
});

describe('Sign in with Google without Google configured', () => {
  it('answers 503 integration_not_configured on both routes, and readiness says so', async () => {
    const app = await getTestApp();
    const start = await anonymous(app).get('/api/auth/google');
    expect(start.status).toBe(503);
    expect(start.body.error.code).toBe('integration_not_configured');
    const callback = await anonymous(app).get('/api/auth/google/callback').query({ state: STATE, code: '4/0Aexemplo-de-codigo' });
    expect(callback.status).toBe(503);
    expect(callback.body.error.code).toBe('integration_not_configured');
    const ready = await anonymous(app).get('/api/health/ready');
    expect(ready.body.integrations.googleSignIn).toBe(false);
  });
});

describe('Sign in with Google', () => {
  let fake: FakeGoogleOAuth;
  let app: TestApp;
  const logs: string[] = [];

  beforeAll(async () => {
    fake = await new FakeGoogleOAuth(CLIENT_ID, CLIENT_SECRET, [CALLBACK]).start();
    const logTo = new Writable({ write: (chunk: Buffer, _enc, done) => (logs.push(chunk.toString()), done()) });
    app = await buildTestApp({ env: { ...fake.env(), PUBLIC_API_URL: API_URL }, logTo });
  });
  afterAll(async () => {
    await app.close();
    await fake.stop();
  });
  afterEach(() => {
    fake.account = undefined;
    fake.deny = false;
    fake.claims = {};
    fake.foreignKey = false;
    fake.tokenOutage = undefined;
    vi.useRealTimers();
  });

  const browser = () => request.agent(app.app);

  /** `GET /api/auth/google` in this browser: the consent URL Google is sent to. */
  async function start(agent: Agent, query: Record<string, string> = {}): Promise<URL> {
    const res = await agent.get('/api/auth/google').query(query).set({ 'Sec-Fetch-Site': 'cross-site', 'Sec-Fetch-Mode': 'navigate' });
    expect(res.status, JSON.stringify(res.body)).toBe(302);
    return new URL(res.headers.location as string);
  }

  /** The user at Google's consent page: where Google redirects the browser back to. */
  async function consent(url: URL): Promise<URL> {
    const res = await fetch(url, { redirect: 'manual' });
    expect(res.status).toBe(302);
    return new URL(res.headers.get('location') as string);
  }

  const callback = (agent: Agent, back: URL) => agent.get(`${back.pathname}${back.search}`).set(NAVIGATION);

  /** The whole round trip in one browser, as `who` at Google. */
  async function signInWithGoogle(who: GoogleAccount | undefined, query: Record<string, string> = {}) {
    const agent = browser();
    fake.account = who;
    const res = await callback(agent, await consent(await start(agent, query)));
    return { agent, res };
  }

  const me = (agent: Agent) => agent.get('/api/auth/me').set('Origin', TEST_ORIGIN);
  const refusedWith = (res: Response, code: string) => {
    expect(res.status, JSON.stringify(res.body)).toBe(302);
    expect(res.headers.location).toBe(`http://app.test/entrar?google_error=${code}`);
    expect(cookieNamed(res, 'opb.sid')).toBeUndefined();
  };
  const loginRows = (clinicId: string, userId: string) =>
    app.infra.db
      .select()
      .from(auditLog)
      .where(and(eq(auditLog.clinicId, clinicId), eq(auditLog.action, 'auth.login'), eq(auditLog.entityId, userId)));

  it('reports itself configured in readiness and asks Google for openid email profile, with state, nonce and PKCE', async () => {
    expect((await anonymous(app).get('/api/health/ready')).body.integrations.googleSignIn).toBe(true);
    const agent = browser();
    const res = await agent.get('/api/auth/google');
    const url = new URL(res.headers.location as string);
    expect(`${url.origin}${url.pathname}`).toBe(`${fake.url}/o/oauth2/v2/auth`);
    const q = url.searchParams;
    expect(q.get('client_id')).toBe(CLIENT_ID);
    expect(q.get('redirect_uri')).toBe(CALLBACK);
    expect(q.get('response_type')).toBe('code');
    expect(q.get('scope')).toBe('openid email profile');
    expect(q.get('state')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(q.get('nonce')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(q.get('code_challenge_method')).toBe('S256');
    expect(q.get('access_type')).toBeNull();
    // The binding cookie: HttpOnly, Lax (it must come back on Google's cross-site redirect), 10 minutes, only for these routes.
    const binding = cookieNamed(res, 'opb.google');
    expect(attributes(binding)).toEqual(['HttpOnly', 'Max-Age=600', 'Path=/api/auth/google', 'SameSite=Lax']);
    // Nothing in it is readable: state, nonce and verifier are sealed.
    expect(binding).not.toContain(q.get('state') as string);
    expect(binding).not.toContain(q.get('nonce') as string);
    // Nothing is stored before sign-in.
    expect(cookieNamed(res, 'opb.sid')).toBeUndefined();
  });

  it('lets only the binding cookie through a cross-site navigation, never the session cookie beside it', async () => {
    const clinic = await createClinic({ app });
    const login = await request(app.app).post('/api/auth/login').set('Origin', TEST_ORIGIN).send({ email: clinic.admin.email, password: PASSWORD });
    const binding = cookieNamed(await request(app.app).get('/api/auth/google'), 'opb.google') as string;
    const both = [cookieNamed(login, 'opb.sid'), binding].map((c) => (c as string).split(';')[0]).join('; ');
    expect((await request(app.app).get('/api/auth/me').set('Cookie', both).set(NAVIGATION)).status).toBe(401);
    expect((await request(app.app).get('/api/auth/me').set('Cookie', both)).status).toBe(200);
  });

  it('signs in an existing user by their verified email exactly as a password login does', async () => {
    const clinic = await createClinic({ app });
    const before = await loginRows(clinic.id, clinic.professional.id);
    const password = await request(app.app).post('/api/auth/login').set('Origin', TEST_ORIGIN).send({ email: clinic.professional.email, password: PASSWORD });

    const { agent, res } = await signInWithGoogle(account(clinic.professional.email.toUpperCase()));
    expect(res.status, JSON.stringify(res.body)).toBe(302);
    expect(res.headers.location).toBe('http://app.test/');
    // The same session cookie (name and attributes) as the password login's, and the binding cookie cleared.
    const session = cookieNamed(res, 'opb.sid');
    expect(attributes(session)).toEqual(attributes(cookieNamed(password, 'opb.sid')));
    expect(cookieNamed(res, 'opb.google')).toMatch(/^opb\.google=;.*Expires=Thu, 01 Jan 1970/);

    const who = await me(agent);
    expect(who.status).toBe(200);
    expect(who.body).toMatchObject({ user: { id: clinic.professional.id }, clinic: { id: clinic.id }, role: 'professional' });

    // The exchange sent the code with the client secret and the PKCE verifier, to the registered redirect.
    const exchange = fake.tokenRequests.at(-1) as URLSearchParams;
    expect(exchange.get('grant_type')).toBe('authorization_code');
    expect(exchange.get('redirect_uri')).toBe(CALLBACK);
    expect(exchange.get('code_verifier')).toMatch(/^[A-Za-z0-9._~-]{43,128}$/);

    const rows = await loginRows(clinic.id, clinic.professional.id);
    expect(rows.length).toBe(before.length + 2);
    expect(rows.map((r) => r.details)).toContainEqual({ method: 'google' });
    const row = rows.find((r) => r.details?.method === 'google');
    expect(row).toMatchObject({ actorId: clinic.professional.id, actorType: 'user', actorRole: 'professional' });
  });

  it('issues a new session id over a browser’s previous session (no fixation)', async () => {
    const clinic = await createClinic({ app });
    const agent = browser();
    const first = await agent.post('/api/auth/login').set('Origin', TEST_ORIGIN).send({ email: clinic.admin.email, password: PASSWORD });
    const oldCookie = (cookieNamed(first, 'opb.sid') as string).split(';')[0] as string;
    fake.account = account(clinic.receptionist.email);
    const res = await callback(agent, await consent(await start(agent)));
    const newCookie = (cookieNamed(res, 'opb.sid') as string).split(';')[0] as string;
    expect(newCookie).not.toBe(oldCookie);
    expect((await me(agent)).body.user.id).toBe(clinic.receptionist.id);
  });

  it('accepts the invitation of ?invitation=<token>: a new account joins the clinic and is signed in to it', async () => {
    const clinic = await createClinic({ app });
    const email = `convidada-${randomUUID().slice(0, 8)}@example.com`;
    const invite = await clinic.admin.agent.post('/api/team/invitations').send({ email, name: 'Dra. Convidada', role: 'professional' });
    expect(invite.status).toBe(201);

    const { agent, res } = await signInWithGoogle(account(email), { invitation: invite.body.token });
    expect(res.headers.location).toBe('http://app.test/');
    const who = await me(agent);
    expect(who.body).toMatchObject({ user: { email, name: 'Dra. Google' }, clinic: { id: clinic.id }, role: 'professional', isProfessional: true });
    const [invitation] = await app.infra.db.select().from(invitations).where(eq(invitations.id, invite.body.id));
    expect(invitation?.acceptedAt).toBeInstanceOf(Date);
    const joined = await app.infra.db.select().from(auditLog).where(and(eq(auditLog.clinicId, clinic.id), eq(auditLog.action, 'team.joined'), eq(auditLog.entityId, who.body.user.id)));
    expect(joined).toHaveLength(1);
    expect((await loginRows(clinic.id, who.body.user.id)).map((r) => r.details)).toEqual([{ method: 'google', invitation: true }]);
    // The account has no password anyone knows: a password login fails.
    expect((await anonymous(app).post('/api/auth/login').send({ email, password: PASSWORD })).status).toBe(401);

    // The link works once; the member signs in without it afterwards.
    refusedWith((await signInWithGoogle(account(email), { invitation: invite.body.token })).res, 'invitation_expired');
    expect((await signInWithGoogle(account(email))).res.headers.location).toBe('http://app.test/');
  });

  it('accepts a pending invitation for the email without its token, and lets an existing account join the invited clinic', async () => {
    const clinic = await createClinic({ app });
    const email = `sem-link-${randomUUID().slice(0, 8)}@example.com`;
    expect((await clinic.admin.agent.post('/api/team/invitations').send({ email, name: 'Recepção', role: 'receptionist' })).status).toBe(201);
    const { agent } = await signInWithGoogle(account(email));
    expect((await me(agent)).body).toMatchObject({ clinic: { id: clinic.id }, role: 'receptionist' });

    // An existing member of another clinic, invited here, arrives in the invited clinic.
    const other = await createClinic({ app });
    const invite = await clinic.admin.agent.post('/api/team/invitations').send({ email: other.professional.email, name: 'Dr. Outro', role: 'professional' });
    const joined = await signInWithGoogle(account(other.professional.email), { invitation: invite.body.token });
    const who = await me(joined.agent);
    expect(who.body.clinic.id).toBe(clinic.id);
    expect(who.body.memberships.map((m: { clinicId: string }) => m.clinicId).sort()).toEqual([clinic.id, other.id].sort());
  });

  it('refuses an invitation sent to another email, an unknown or revoked one, and creates nothing', async () => {
    const clinic = await createClinic({ app });
    const invite = await clinic.admin.agent.post('/api/team/invitations').send({ email: `alvo-${randomUUID().slice(0, 8)}@example.com`, name: 'Alvo', role: 'admin' });
    const intruder = `intruso-${randomUUID().slice(0, 8)}@example.com`;
    refusedWith((await signInWithGoogle(account(intruder), { invitation: invite.body.token })).res, 'invitation_other_account');
    refusedWith((await signInWithGoogle(account(intruder), { invitation: 'x'.repeat(43) })).res, 'invitation_not_found');
    expect(await app.infra.db.select().from(users).where(eq(users.email, intruder))).toEqual([]);
    const [invitation] = await app.infra.db.select().from(invitations).where(eq(invitations.id, invite.body.id));
    expect(invitation?.acceptedAt).toBeNull();

    expect((await clinic.admin.agent.delete(`/api/team/invitations/${invite.body.id}`)).status).toBe(204);
    refusedWith((await signInWithGoogle(account(invitation?.email as string), { invitation: invite.body.token })).res, 'invitation_revoked');
  });

  it('refuses an unverified Google email, even of an existing account', async () => {
    const clinic = await createClinic({ app });
    const before = await loginRows(clinic.id, clinic.admin.id);
    const { agent, res } = await signInWithGoogle(account(clinic.admin.email, false));
    refusedWith(res, 'google_email_unverified');
    expect((await me(agent)).status).toBe(401);
    expect(await loginRows(clinic.id, clinic.admin.id)).toHaveLength(before.length);
  });

  it('refuses an unknown email: no session, no account, no clinic', async () => {
    const count = async () => {
      const [u] = await app.infra.db.select({ n: sql<number>`count(*)::int` }).from(users);
      const [c] = await app.infra.db.select({ n: sql<number>`count(*)::int` }).from(clinics);
      return [u?.n, c?.n];
    };
    const before = await count();
    const email = `ninguem-${randomUUID().slice(0, 8)}@example.com`;
    const { agent, res } = await signInWithGoogle(account(email));
    refusedWith(res, 'google_account_not_found');
    expect((await me(agent)).status).toBe(401);
    expect(await count()).toEqual(before);
  });

  it('refuses a missing, forged or expired state before asking Google anything', async () => {
    const clinic = await createClinic({ app });
    fake.account = account(clinic.admin.email);
    const exchanges = fake.tokenRequests.length;
    const agent = browser();
    const back = await consent(await start(agent));

    const missing = new URL(back);
    missing.searchParams.delete('state');
    const noState = await callback(agent, missing);
    expect(noState.status).toBe(400);
    expect(noState.body.error.code).toBe('validation_failed');

    const forged = new URL(back);
    forged.searchParams.set('state', 'B'.repeat(43));
    const bad = await callback(agent, forged);
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('invalid_oauth_state');

    // The callback without the browser's cookie (another device, cookies cleared).
    const bare = await request(app.app).get(`${back.pathname}${back.search}`).set(NAVIGATION);
    expect(bare.status).toBe(400);
    expect(bare.body.error.code).toBe('invalid_oauth_state');

    // A browser drops the cookie after its 10 minutes; one kept longer is refused by its sealed expiry.
    const late = await request(app.app).get('/api/auth/google');
    const binding = (cookieNamed(late, 'opb.google') as string).split(';')[0] as string;
    const lateBack = await consent(new URL(late.headers.location as string));
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() + 10 * 60_000 + 1000);
    const expired = await request(app.app).get(`${lateBack.pathname}${lateBack.search}`).set(NAVIGATION).set('Cookie', binding);
    expect(expired.status).toBe(400);
    expect(expired.body.error.code).toBe('oauth_state_expired');
    vi.useRealTimers();

    expect(fake.tokenRequests.length).toBe(exchanges);
    for (const res of [noState, bad, bare, expired]) expect(cookieNamed(res, 'opb.sid')).toBeUndefined();
    expect((await me(agent)).status).toBe(401);
  });

  it('refuses a state started in another browser (login CSRF), which keeps its own sign-in', async () => {
    const clinic = await createClinic({ app });
    const attacker = browser();
    fake.account = account(clinic.admin.email);
    const attackersBack = await consent(await start(attacker));
    // The victim's browser has started its own sign-in, then is sent to the attacker's callback URL.
    const victim = browser();
    await start(victim);
    const res = await callback(victim, attackersBack);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid_oauth_state');
    expect((await me(victim)).status).toBe(401);
    // The attacker's own browser would still complete: the code was never spent.
    expect((await callback(attacker, attackersBack)).headers.location).toBe('http://app.test/');
  });

  it('refuses an ID token with a foreign nonce (400), a forged signature or another audience (redirect), a replayed code', async () => {
    const clinic = await createClinic({ app });
    fake.claims = { nonce: 'n'.repeat(43) };
    const nonce = (await signInWithGoogle(account(clinic.admin.email))).res;
    expect(nonce.status).toBe(400);
    expect(nonce.body.error.code).toBe('invalid_oauth_nonce');
    expect(cookieNamed(nonce, 'opb.sid')).toBeUndefined();

    fake.claims = {};
    fake.foreignKey = true;
    refusedWith((await signInWithGoogle(account(clinic.admin.email))).res, 'google_token_invalid');
    fake.foreignKey = false;
    fake.claims = { aud: 'outro-cliente.apps.googleusercontent.com' };
    refusedWith((await signInWithGoogle(account(clinic.admin.email))).res, 'google_token_invalid');
    fake.claims = { iat: Math.floor(Date.now() / 1000) - 7200, exp: Math.floor(Date.now() / 1000) - 3600 };
    refusedWith((await signInWithGoogle(account(clinic.admin.email))).res, 'google_token_invalid');
    fake.claims = {};

    // The same callback sent twice with the browser's cookie (captured): Google spends a code once.
    fake.account = account(clinic.admin.email);
    const first = await request(app.app).get('/api/auth/google');
    const binding = (cookieNamed(first, 'opb.google') as string).split(';')[0] as string;
    const back = await consent(new URL(first.headers.location as string));
    const replay = () => request(app.app).get(`${back.pathname}${back.search}`).set(NAVIGATION).set('Cookie', binding);
    expect((await replay()).headers.location).toBe('http://app.test/');
    refusedWith(await replay(), 'google_code_refused');
  });

  it('redirects with google_unavailable when Google’s token endpoint fails, after the library’s retries', async () => {
    const clinic = await createClinic({ app });
    fake.tokenOutage = 503;
    const exchanges = fake.tokenRequests.length;
    refusedWith((await signInWithGoogle(account(clinic.admin.email))).res, 'google_unavailable');
    expect(fake.tokenRequests.length - exchanges).toBeGreaterThan(1);
  });

  it('redirects with google_denied when the user cancels at Google', async () => {
    fake.deny = true;
    const { agent, res } = await signInWithGoogle(undefined);
    refusedWith(res, 'google_denied');
    expect(fake.consents.at(-1)?.get('client_id')).toBe(CLIENT_ID);
    expect((await me(agent)).status).toBe(401);
  });

  it('keeps emails, codes, tokens and the client secret out of the logs', async () => {
    const clinic = await createClinic({ app });
    await signInWithGoogle(account(clinic.professional.email));
    await signInWithGoogle(account(`ninguem-${randomUUID().slice(0, 8)}@example.com`));
    fake.foreignKey = true;
    await signInWithGoogle(account(clinic.professional.email));
    const text = logs.join('');
    expect(text).toContain('google sign-in refused');
    expect(text).not.toContain(CLIENT_SECRET);
    expect(text).not.toContain(clinic.professional.email);
    expect(text).not.toContain('ninguem-');
    expect(text).not.toMatch(/4\/0A|ya29\.|eyJ/);
    expect(text).not.toMatch(/[?&](code|state)=/);
  });
});

describe('Sign in with Google rate limit', () => {
  let fake: FakeGoogleOAuth;
  let app: TestApp;
  let clinic: TestClinic;
  beforeAll(async () => {
    fake = await new FakeGoogleOAuth(CLIENT_ID, CLIENT_SECRET, [CALLBACK]).start();
    app = await buildTestApp({ env: { ...fake.env(), PUBLIC_API_URL: API_URL }, rateLimits: { googleSignIn: 2 } });
    clinic = await createClinic({ app });
  });
  afterAll(async () => {
    await app.close();
    await fake.stop();
  });

  it('counts callbacks per address like login: the third within the window is a 429 that asks Google nothing', async () => {
    fake.account = account(clinic.admin.email);
    // An address of its own: counters are shared with the other apps of the run (Redis).
    const address = `203.0.113.${Math.floor(Math.random() * 250) + 1}`;
    const answers: Response[] = [];
    for (let i = 0; i < 3; i += 1) {
      const agent = request.agent(app.app);
      const url = new URL((await agent.get('/api/auth/google')).headers.location as string);
      const back = new URL((await fetch(url, { redirect: 'manual' })).headers.get('location') as string);
      answers.push(await agent.get(`${back.pathname}${back.search}`).set(NAVIGATION).set('X-Forwarded-For', address));
    }
    expect(answers.map((r) => r.status)).toEqual([302, 302, 429]);
    expect(answers[2]?.body.error.code).toBe('rate_limited');
    expect(answers[2]?.headers['retry-after']).toBe('900');
    expect(fake.tokenRequests).toHaveLength(2);
    expect(await app.infra.db.select().from(memberships).where(eq(memberships.userId, clinic.admin.id))).toHaveLength(1);
  });
});
