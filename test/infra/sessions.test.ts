import { afterEach, describe, expect, it, vi } from 'vitest';
import request from 'supertest';
import { MemorySessionStore, SESSION_COOKIE, SESSION_TTL_SECONDS } from '../../server/infra/sessions.js';
import { TEST_ORIGIN, getTestApp } from '../helpers/app.js';
import { PASSWORD, createClinic } from '../helpers/clinic.js';

async function login(email: string) {
  const app = await getTestApp();
  const res = await request(app.app).post('/api/auth/login').set('Origin', TEST_ORIGIN).send({ email, password: PASSWORD });
  expect(res.status).toBe(200);
  const cookie = String(res.headers['set-cookie']).split(';')[0] as string;
  return { app, cookie, me: () => request(app.app).get('/api/auth/me').set('Cookie', cookie) };
}

describe('sessions', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('refuse a cookie whose signature was changed, or that names no session', async () => {
    const clinic = await createClinic();
    const { app, cookie, me } = await login(clinic.receptionist.email);
    expect((await me()).status).toBe(200);
    // <userId>.<session id>.<signature>
    const [userId, id, signature] = cookie.slice(SESSION_COOKIE.length + 1).split('.') as [string, string, string];
    expect(userId).toBe(clinic.receptionist.id);
    const me401 = async (value: string) => (await request(app.app).get('/api/auth/me').set('Cookie', `${SESSION_COOKIE}=${value}`)).status;
    expect(await me401(`${userId}.${id}.${signature.startsWith('A') ? 'B' : 'A'}${signature.slice(1)}`)).toBe(401);
    // Another user's id on this session: the signature no longer matches.
    expect(await me401(`${clinic.admin.id}.${id}.${signature}`)).toBe(401);
    expect(await me401(`${userId}.${id}`)).toBe(401);
    expect(await me401(`.${id}.${signature}`)).toBe(401);
    expect(await me401(`${userId}..${signature}`)).toBe(401);
  });

  it('a new sign-in replaces the session: new id, one cookie, the old one refused', async () => {
    const clinic = await createClinic();
    const first = await login(clinic.receptionist.email);
    const again = await request(first.app.app).post('/api/auth/login').set('Origin', TEST_ORIGIN).set('Cookie', first.cookie).send({ email: clinic.receptionist.email, password: PASSWORD });
    expect(again.status).toBe(200);
    const setCookies = again.headers['set-cookie'] as unknown as string[];
    expect(setCookies).toHaveLength(1);
    const second = (setCookies[0] as string).split(';')[0] as string;
    expect(second).not.toBe(first.cookie);
    expect((await first.me()).status).toBe(401);
    expect((await request(first.app.app).get('/api/auth/me').set('Cookie', second)).status).toBe(200);
  });

  it('end at logout, which clears the cookie; the old cookie stays refused', async () => {
    const clinic = await createClinic();
    const { app, cookie, me } = await login(clinic.professional.email);
    const logout = await request(app.app).post('/api/auth/logout').set('Origin', TEST_ORIGIN).set('Cookie', cookie);
    expect(logout.status).toBe(204);
    expect(String(logout.headers['set-cookie'])).toMatch(new RegExp(`^${SESSION_COOKIE.replace('.', '\\.')}=;.*Expires=Thu, 01 Jan 1970`));
    expect((await me()).status).toBe(401);
  });

  it('expire in memory after their lifetime, whatever the activity', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const store = new MemorySessionStore();
    await store.set('abc', { userId: 'u', clinicId: 'c', startedAt: Date.now() }, SESSION_TTL_SECONDS);
    vi.setSystemTime(Date.now() + (SESSION_TTL_SECONDS - 1) * 1000);
    expect(await store.get('abc')).toMatchObject({ userId: 'u' });
    vi.setSystemTime(Date.now() + 2000);
    expect(await store.get('abc')).toBeNull();
    store.close();
  });
});
