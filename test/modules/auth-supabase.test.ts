import { randomUUID } from 'node:crypto';
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import request from 'supertest';
import { auditLog, users } from '../../shared/schema/index.js';
import { TEST_ORIGIN, buildTestApp, getTestApp, type TestApp } from '../helpers/app.js';
import { anonymous, createClinic } from '../helpers/clinic.js';
import { FakeSupabaseAuth } from '../fakes/supabase-auth.js';

const ANON_KEY = 'anon-key-of-the-test-project';
const confirmed = () => new Date().toISOString();

describe('POST /api/auth/supabase without Supabase configured', () => {
  it('answers 503 integration_not_configured', async () => {
    const app = await getTestApp();
    const res = await anonymous(app).post('/api/auth/supabase').send({ accessToken: 'a.b.c' });
    expect(res.status).toBe(503);
    expect(res.body.error.code).toBe('integration_not_configured');
  });
});

describe('POST /api/auth/supabase', () => {
  let fake: FakeSupabaseAuth;
  let app: TestApp;
  beforeAll(async () => {
    fake = await new FakeSupabaseAuth(ANON_KEY).start();
    app = await buildTestApp({ env: { SUPABASE_URL: fake.url, SUPABASE_ANON_KEY: ANON_KEY } });
  });
  afterAll(async () => {
    await app.close();
    await fake.stop();
  });

  const signIn = (accessToken: string) => request.agent(app.app).set('Origin', TEST_ORIGIN).post('/api/auth/supabase').send({ accessToken });
  const linkOf = async (userId: string) => (await app.infra.db.select({ id: users.supabaseUserId }).from(users).where(eq(users.id, userId)))[0]?.id;

  it('links the account by its confirmed email the first time, then by Supabase user id, and starts a session', async () => {
    const clinic = await createClinic({ app });
    const supabaseId = randomUUID();
    const first = await signIn(fake.signIn({ id: supabaseId, email: clinic.professional.email.toUpperCase(), emailConfirmedAt: confirmed() }));
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    expect(first.body).toMatchObject({ user: { id: clinic.professional.id }, clinic: { id: clinic.id }, role: 'professional' });
    expect(fake.requests.at(-1)).toEqual({ path: '/auth/v1/user', apikey: ANON_KEY });
    expect(await linkOf(clinic.professional.id)).toBe(supabaseId);
    const cookie = String(first.headers['set-cookie']).split(';')[0] as string;
    expect((await request(app.app).get('/api/auth/me').set('Cookie', cookie)).body.user.id).toBe(clinic.professional.id);

    // Later sign-ins go by the id, even once the Supabase email changed and is not yet confirmed.
    const later = await signIn(fake.signIn({ id: supabaseId, email: 'novo-email@example.com', emailConfirmedAt: null }));
    expect(later.status).toBe(200);
    expect(later.body.user.id).toBe(clinic.professional.id);

    const logins = await app.infra.db
      .select({ details: auditLog.details })
      .from(auditLog)
      .where(and(eq(auditLog.clinicId, clinic.id), eq(auditLog.action, 'auth.login'), eq(auditLog.entityId, clinic.professional.id)));
    expect(logins.map((l) => l.details)).toEqual(expect.arrayContaining([{ method: 'supabase', linked: true }, { method: 'supabase' }]));
  });

  it('never links by an unconfirmed email, an unknown email, or onto an account linked to another Supabase user', async () => {
    const clinic = await createClinic({ app });
    const unconfirmed = await signIn(fake.signIn({ id: randomUUID(), email: clinic.receptionist.email, emailConfirmedAt: null }));
    expect(unconfirmed.status).toBe(401);
    expect(unconfirmed.body.error.code).toBe('supabase_account_not_linked');
    expect(unconfirmed.headers['set-cookie']).toBeUndefined();
    expect(await linkOf(clinic.receptionist.id)).toBeNull();

    const unknown = await signIn(fake.signIn({ id: randomUUID(), email: `ninguem-${randomUUID()}@example.com`, emailConfirmedAt: confirmed() }));
    expect(unknown.status).toBe(401);
    expect(unknown.body.error.code).toBe('supabase_account_not_linked');

    const owner = randomUUID();
    expect((await signIn(fake.signIn({ id: owner, email: clinic.admin.email, emailConfirmedAt: confirmed() }))).status).toBe(200);
    const other = await signIn(fake.signIn({ id: randomUUID(), email: clinic.admin.email, emailConfirmedAt: confirmed() }));
    expect(other.status).toBe(401);
    expect(await linkOf(clinic.admin.id)).toBe(owner);
  });

  it('refuses a token Supabase refuses (expired or forged) with 401', async () => {
    const clinic = await createClinic({ app });
    const id = randomUUID();
    const expired = await signIn(fake.signIn({ id, email: clinic.admin.email, emailConfirmedAt: confirmed() }, -60));
    expect(expired.status).toBe(401);
    expect(expired.body.error.code).toBe('invalid_supabase_token');
    const forged = await signIn(fake.token({ sub: id, exp: Math.floor(Date.now() / 1000) + 3600 }, 'not-the-project-secret'));
    expect(forged.status).toBe(401);
    expect(forged.body.error.code).toBe('invalid_supabase_token');
    expect(await linkOf(clinic.admin.id)).toBeNull();
  });

  it('answers 400 to a missing token and 503 with Retry-After while Supabase Auth is unreachable', async () => {
    expect((await signIn('')).status).toBe(400);
    const clinic = await createClinic({ app });
    const token = fake.signIn({ id: randomUUID(), email: clinic.admin.email, emailConfirmedAt: confirmed() });
    await fake.stop();
    try {
      const down = await signIn(token);
      expect(down.status).toBe(503);
      expect(down.body.error.code).toBe('supabase_unavailable');
      expect(down.headers['retry-after']).toBe('5');
    } finally {
      fake = await new FakeSupabaseAuth(ANON_KEY).start();
    }
  });
});
