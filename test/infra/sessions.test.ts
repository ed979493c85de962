import { createHmac } from 'node:crypto';
import { IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import request from 'supertest';
import { memberships } from '../../shared/schema/index.js';
import { SESSION_COOKIE, SESSION_TTL_SECONDS } from '../../server/infra/sessions.js';
import { TEST_ORIGIN, buildTestApp, getTestApp, type TestApp } from '../helpers/app.js';
import { PASSWORD, createClinic } from '../helpers/clinic.js';
import { identifySocket } from '../../server/http/socket-auth.js';
import { withRedis } from '../helpers/skip.js';

async function login(email: string, app?: TestApp) {
  app ??= await getTestApp();
  const res = await request(app.app).post('/api/auth/login').set('Origin', TEST_ORIGIN).send({ email, password: PASSWORD });
  expect(res.status).toBe(200);
  const cookie = String(res.headers['set-cookie']).split(';')[0] as string;
  return { app, cookie, me: () => request(app.app).get('/api/auth/me').set('Cookie', cookie) };
}

/** express-session's cookie: `s:<id>.<base64 HMAC-SHA256 of the id, unpadded>`, URI-encoded. */
const signed = (id: string, secret: string) => `${SESSION_COOKIE}=${encodeURIComponent(`s:${id}.${createHmac('sha256', secret).update(id).digest('base64').replace(/=+$/, '')}`)}`;
const idOf = (cookie: string) => {
  const value = decodeURIComponent(cookie.slice(SESSION_COOKIE.length + 1));
  expect(value.startsWith('s:')).toBe(true);
  return value.slice(2, value.lastIndexOf('.'));
};

describe('sessions', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('refuse a cookie whose signature was changed, that is unsigned, or that names no session', async () => {
    const clinic = await createClinic();
    const { app, cookie, me } = await login(clinic.receptionist.email);
    expect((await me()).status).toBe(200);
    const id = idOf(cookie);
    expect(cookie).toBe(signed(id, app.infra.config.sessionSecret as string));
    // `<userId>.<random>`: the signed cookie tells whose session it is before the store answers.
    expect(id).toMatch(new RegExp(`^${clinic.receptionist.id}\\.[\\w-]{43}$`));
    const status = async (value: string) => (await request(app.app).get('/api/auth/me').set('Cookie', value)).status;
    expect(await status(signed(id, 'another-secret-of-forty-characters-0000'))).toBe(401);
    expect(await status(`${SESSION_COOKIE}=${id}`)).toBe(401);
    expect(await status(`${SESSION_COOKIE}=s%3A${id}`)).toBe(401);
    // Well signed, but no such session.
    expect(await status(signed(`${id.slice(0, -2)}xy`, app.infra.config.sessionSecret as string))).toBe(401);
    expect(await status(cookie)).toBe(200);
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

  it('a plain request sets no cookie: the session is not extended by activity', async () => {
    const clinic = await createClinic();
    const { me } = await login(clinic.receptionist.email);
    const res = await me();
    expect(res.status).toBe(200);
    expect(res.headers['set-cookie']).toBeUndefined();
  });

  it('end 12 hours after sign-in, whatever the activity and a clinic switch in between', async () => {
    const clinic = await createClinic();
    const other = await createClinic();
    await clinic.app.infra.db.insert(memberships).values({ clinicId: other.id, userId: clinic.professional.id, role: 'professional', isProfessional: true });
    const { app, cookie, me } = await login(clinic.professional.email);
    vi.useFakeTimers({ toFake: ['Date'] });
    const signedInAt = Date.now();
    vi.setSystemTime(signedInAt + 11 * 3600_000);
    expect((await me()).status).toBe(200);
    const switched = await request(app.app).post('/api/auth/switch-clinic').set('Origin', TEST_ORIGIN).set('Cookie', cookie).send({ clinicId: other.id });
    expect(switched.status).toBe(200);
    // The cookie re-sent with the change keeps the session's end (1 h left), not 12 h from now.
    const expires = Date.parse(/Expires=([^;]+)/.exec(String(switched.headers['set-cookie']))?.[1] ?? '');
    expect(Math.abs(expires - (signedInAt + SESSION_TTL_SECONDS * 1000))).toBeLessThan(5000);
    vi.setSystemTime(signedInAt + (SESSION_TTL_SECONDS - 1) * 1000);
    expect((await me()).body.clinic.id).toBe(other.id);
    vi.setSystemTime(signedInAt + (SESSION_TTL_SECONDS + 1) * 1000);
    expect((await me()).status).toBe(401);
  });
});

describe('secret rotation', () => {
  const OLD = 'o'.repeat(40);
  const NEW = 'n'.repeat(40);
  let app: TestApp;
  beforeAll(async () => {
    app = await buildTestApp({ env: { SESSION_SECRET: NEW, SESSION_SECRET_PREVIOUS: OLD } });
  });
  afterAll(async () => {
    await app.close();
  });

  it('signs new cookies with SESSION_SECRET and still accepts those signed with SESSION_SECRET_PREVIOUS', async () => {
    const clinic = await createClinic({ app });
    const { cookie } = await login(clinic.admin.email, app);
    const id = idOf(cookie);
    expect(cookie).toBe(signed(id, NEW));
    const me = (value: string) => request(app.app).get('/api/auth/me').set('Cookie', value);
    expect((await me(signed(id, OLD))).status).toBe(200);
    expect((await me(signed(id, 'x'.repeat(40)))).status).toBe(401);
  });
});

describe.runIf(withRedis('sessions in Redis'))('sessions in Redis', () => {
  it('hold only the user, clinic and sign-in time, expire 12 h after sign-in, and are not written per request', async () => {
    const clinic = await createClinic();
    const { app, cookie, me } = await login(clinic.receptionist.email);
    const redis = app.infra.redis;
    if (!redis) throw new Error('no redis');
    const key = `${app.infra.config.redisPrefix}sess:${idOf(cookie)}`;
    const stored = JSON.parse((await redis.get(key)) as string) as Record<string, unknown>;
    expect(Object.keys(stored).sort()).toEqual(['clinicId', 'cookie', 'startedAt', 'userId']);
    expect(stored).toMatchObject({ userId: clinic.receptionist.id, clinicId: clinic.id });
    const ttl = await redis.ttl(key);
    expect(ttl).toBeGreaterThan(SESSION_TTL_SECONDS - 10);
    expect(ttl).toBeLessThanOrEqual(SESSION_TTL_SECONDS);
    await new Promise((r) => setTimeout(r, 1100));
    expect((await me()).status).toBe(200);
    expect(await redis.ttl(key)).toBeLessThan(ttl);
  });
});

describe('socket handshakes', () => {
  it('are identified by the same session middleware, with the session id in the identity', async () => {
    const clinic = await createClinic();
    const { app, cookie } = await login(clinic.professional.email);
    const handshake = (headers: Record<string, string>) => Object.assign(new IncomingMessage(new Socket()), { url: '/socket.io/?EIO=4&transport=websocket', headers });
    const identity = await identifySocket(app.authenticator)(handshake({ cookie }), undefined);
    expect(identity).toMatchObject({
      clinicId: clinic.id,
      userId: clinic.professional.id,
      sessionId: idOf(cookie),
      apiKeyId: null,
      // A professional's socket may receive clinical events.
      permissions: expect.arrayContaining(['contacts:read', 'records:read']),
    });
    // A refused credential is no identity (an outage would throw).
    expect(await identifySocket(app.authenticator)(handshake({ cookie: signed(idOf(cookie), 'z'.repeat(40)) }), undefined)).toBeNull();
  });
});
