import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import request from 'supertest';
import { inject } from 'vitest';
import { TEST_ORIGIN, buildTestApp, getTestApp, type TestApp } from '../helpers/app.js';
import { PASSWORD, anonymous, createClinic, type TestClinic } from '../helpers/clinic.js';

let app: TestApp;
let clinic: TestClinic;
beforeAll(async () => {
  app = await getTestApp();
  clinic = await createClinic({ app });
});

const expectErrorShape = (body: { error?: { code?: unknown; message?: unknown; requestId?: unknown } }) => {
  expect(body.error?.code).toBeTypeOf('string');
  expect(body.error?.message).toBeTypeOf('string');
  expect(body.error?.requestId).toBeTypeOf('string');
};

describe('bodies and errors', () => {
  it('malformed JSON is a 400 invalid_json', async () => {
    const res = await clinic.admin.agent.patch('/api/clinic').set('Content-Type', 'application/json').send('{"name": "x",');
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid_json');
    expectErrorShape(res.body);
  });

  it('a body over 1 MB is a 413', async () => {
    const res = await clinic.admin.agent.patch('/api/clinic').send({ name: 'x'.repeat(1024 * 1024 + 10) });
    expect(res.status).toBe(413);
    expect(res.body.error.code).toBe('payload_too_large');
  });

  it('an unknown route is a 404 in the error shape', async () => {
    for (const path of ['/api/nao-existe', '/nada', '/api/contacts-x/1']) {
      const res = await anonymous(app).get(path);
      expect(res.status, path).toBe(404);
      expect(res.type).toBe('application/json');
      expect(res.body.error.code).toBe('route_not_found');
    }
  });

  it('matches paths as Express does: any case, an optional trailing slash, HEAD as GET; a bad escape is a 400', async () => {
    const agent = clinic.admin.agent;
    expect((await agent.get('/api/Auth/ME/')).body.clinic.id).toBe(clinic.id);
    expect((await agent.head('/api/auth/me')).status).toBe(200);
    expect((await agent.delete('/api/auth/me')).status).toBe(404);
    const badEscape = await agent.get('/api/contacts/%E0%A4%A');
    expect(badEscape.status).toBe(400);
    expect(badEscape.body.error.code).toBe('invalid_path');
  });

  it('keeps an incoming X-Request-Id, generates one otherwise, and reports it in errors', async () => {
    const kept = await anonymous(app).get('/api/health').set('X-Request-Id', 'alb-trace-123');
    expect(kept.headers['x-request-id']).toBe('alb-trace-123');
    const generated = await anonymous(app).get('/api/nope');
    expect(generated.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(generated.body.error.requestId).toBe(generated.headers['x-request-id']);
    const hostile = await anonymous(app).get('/api/health').set('X-Request-Id', 'a b<script>');
    expect(hostile.headers['x-request-id']).not.toBe('a b<script>');
  });

  it('sends an API’s security headers (OWASP REST), the docs page its own policy, and no X-Powered-By', async () => {
    const res = await anonymous(app).get('/api/health');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['strict-transport-security']).toContain('max-age=');
    expect(res.headers['content-security-policy']).toBe("default-src 'none';frame-ancestors 'none'");
    expect(res.headers['x-frame-options']).toBe('DENY');
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.headers['x-powered-by']).toBeUndefined();
    const docs = await anonymous(app).get('/api/docs/');
    expect(docs.headers['content-security-policy']).toContain("script-src 'self'");
    expect(docs.headers['x-frame-options']).toBe('SAMEORIGIN');
  });

  it('a clinicId in a body or query is rejected, never obeyed', async () => {
    const other = await createClinic({ app });
    const body = await clinic.admin.agent.patch('/api/clinic').send({ name: 'Invasão', clinicId: other.id });
    expect(body.status).toBe(400);
    expect(body.body.error.code).toBe('validation_failed');
    const query = await clinic.admin.agent.get('/api/audit-log').query({ clinicId: other.id });
    expect(query.status).toBe(400);
    const team = await clinic.admin.agent.get('/api/team').query({ clinicId: other.id });
    expect(team.body.items?.map((m: { userId: string }) => m.userId) ?? []).not.toContain(other.admin.id);
    expect((await other.admin.agent.get('/api/clinic')).body.name).toBe(other.name);
  });
});

describe('CORS allowlist', () => {
  const preflight = (origin: string) =>
    request(app.app).options('/api/auth/me').set('Origin', origin).set('Access-Control-Request-Method', 'POST').set('Access-Control-Request-Headers', 'content-type');

  it('answers an allowed preview origin (https://*.preview.clinic.test, under a domain the clinic controls) with credentials', async () => {
    for (const origin of ['https://operabase-git-feature-x.preview.clinic.test', TEST_ORIGIN]) {
      const res = await request(app.app).get('/api/health').set('Origin', origin);
      expect(res.headers['access-control-allow-origin'], origin).toBe(origin);
      expect(res.headers['access-control-allow-credentials']).toBe('true');
      expect(res.headers['access-control-expose-headers']).toBe('X-Request-Id,Retry-After');
      expect(res.headers.vary).toBe('Origin');
      const pre = await preflight(origin);
      expect(pre.status).toBe(204);
      expect(pre.headers['access-control-allow-origin']).toBe(origin);
      expect(pre.headers['access-control-allow-credentials']).toBe('true');
      expect(pre.headers['access-control-allow-methods']).toContain('PATCH');
      expect(pre.headers['access-control-allow-headers']).toBe('content-type');
      expect(pre.headers['access-control-max-age']).toBe('600');
    }
  });

  it('gives no CORS grant to other origins, nested subdomains or look-alikes', async () => {
    for (const origin of ['https://evil.com', 'https://a.b.preview.clinic.test', 'http://x.preview.clinic.test', 'https://preview.clinic.test', 'https://x.preview.clinic.test.evil.com', 'null']) {
      const res = await request(app.app).get('/api/health').set('Origin', origin);
      expect(res.headers['access-control-allow-origin'], origin).toBeUndefined();
      expect((await preflight(origin)).headers['access-control-allow-origin'], origin).toBeUndefined();
    }
  });
});

describe('CSRF: cookie-authenticated writes need an allowed Origin', () => {
  it('refuses a cookie POST without Origin or from a foreign one (403 origin_not_allowed)', async () => {
    const none = await clinic.admin.agent.patch('/api/clinic').unset('Origin').send({ name: 'Sem origem' });
    expect(none.status).toBe(403);
    expect(none.body.error.code).toBe('origin_not_allowed');
    const foreign = await clinic.admin.agent.patch('/api/clinic').set('Origin', 'https://evil.com').send({ name: 'Maliciosa' });
    expect(foreign.status).toBe(403);
    expect(foreign.body.error.code).toBe('origin_not_allowed');
    expect((await clinic.admin.agent.get('/api/clinic')).body.name).toBe(clinic.name);
    const allowed = await clinic.admin.agent.patch('/api/clinic').set('Origin', 'https://preview-1.preview.clinic.test').send({ name: clinic.name });
    expect(allowed.status).toBe(200);
  });

  it('outside production the refusal says which origins to send', async () => {
    const res = await clinic.admin.agent.patch('/api/clinic').unset('Origin').set('Host', 'api.clinic.test').send({ name: 'Sem origem' });
    const own = 'http://api.clinic.test';
    expect(res.body.error.message).toContain(`"Origin: ${own}"`);
    expect(res.body.error.details).toEqual({ allowedOrigins: [own, TEST_ORIGIN, 'https://*.preview.clinic.test'] });
    // What it says to send is accepted.
    expect((await clinic.admin.agent.patch('/api/clinic').set('Host', 'api.clinic.test').set('Origin', own).send({ name: clinic.name })).status).toBe(200);
  });

  it('allows an API-key POST with no Origin (machines carry no ambient credential)', async () => {
    const { key } = (await clinic.admin.agent.post('/api/api-keys').send({ name: 'n8n', scopes: ['files:write'] })).body;
    const res = await request(app.app).post('/api/files').set('Authorization', `Bearer ${key}`).attach('file', Buffer.from('olá'), { filename: 'nota.txt', contentType: 'text/plain' });
    expect(res.status).toBe(201);
  });
});

describe('rate limits', () => {
  let limited: TestApp;
  beforeAll(async () => {
    limited = await buildTestApp({ rateLimits: { login: 2, register: 2, passwordReset: 2, public: 2 } });
  });
  afterAll(async () => {
    await limited.close();
  });

  it('answers 429 with Retry-After once the login limit is spent', async () => {
    const email = `limite-${Date.now()}@example.com`;
    const attempt = () => anonymous(limited).post('/api/auth/login').send({ email, password: 'errada-123' });
    expect((await attempt()).status).toBe(401);
    expect((await attempt()).status).toBe(401);
    const blocked = await attempt();
    expect(blocked.status).toBe(429);
    expect(blocked.body.error.code).toBe('rate_limited');
    expect(Number(blocked.headers['retry-after'])).toBeGreaterThan(0);
  });

  it('limits password reset and public routes too', async () => {
    const reset = () => anonymous(limited).post('/api/auth/password-reset').send({ email: 'alguem@example.com' });
    await reset();
    await reset();
    expect((await reset()).status).toBe(429);
    const token = 'y'.repeat(43);
    await anonymous(limited).get(`/api/public/invitations/${token}`);
    await anonymous(limited).get(`/api/public/invitations/${token}`);
    const third = await anonymous(limited).get(`/api/public/invitations/${token}`);
    expect(third.status).toBe(429);
    expect(third.headers['retry-after']).toBeDefined();
  });
});

describe('production cookies', () => {
  let prod: TestApp;
  beforeAll(async () => {
    const secret = 'p'.repeat(40);
    prod = await buildTestApp({
      env: {
        NODE_ENV: 'production',
        SESSION_SECRET: secret,
        ENCRYPTION_KEY: secret,
        FILE_STORAGE: 'local',
        // The shared test database is used either way; production only insists that one is named.
        ...(inject('databaseUrl') ? {} : { DATABASE_URL: 'postgres://unused@127.0.0.1:9/unused' }),
      },
    });
  });
  afterAll(async () => {
    await prod.close();
  });

  it('are Secure, HttpOnly and SameSite=None behind an https proxy, and never sent over plain http', async () => {
    const member = (await createClinic({ app: prod })).receptionist;
    const login = (proto?: string) => {
      const req = anonymous(prod).post('/api/auth/login');
      if (proto) void req.set('X-Forwarded-Proto', proto);
      return req.send({ email: member.email, password: PASSWORD });
    };
    const https = await login('https');
    expect(https.status).toBe(200);
    const cookie = String(https.headers['set-cookie']);
    expect(cookie).toMatch(/opb\.sid=/);
    expect(cookie).toMatch(/; Secure/);
    expect(cookie).toMatch(/; HttpOnly/);
    expect(cookie).toMatch(/SameSite=None/);
    const plain = await login();
    expect(plain.headers['set-cookie']).toBeUndefined();
  });
});
