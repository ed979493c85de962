import { beforeAll, describe, expect, it } from 'vitest';
import { eq, sql } from 'drizzle-orm';
import { apiKeys } from '../../shared/schema/index.js';
import { hashToken } from '../../server/lib/tokens.js';
import { getTestApp, type TestApp } from '../helpers/app.js';
import request from 'supertest';
import { createClinic } from '../helpers/clinic.js';

let app: TestApp;
beforeAll(async () => {
  app = await getTestApp();
});

/** A machine client (N8N): the key, no cookie, no Origin. */
const bearer = (key: string) => request.agent(app.app).set('Authorization', `Bearer ${key}`);

describe('API keys', () => {
  it('shows the secret once and stores only its hash', async () => {
    const clinic = await createClinic({ app });
    const res = await clinic.admin.agent.post('/api/api-keys').send({ name: 'N8N', scopes: ['clinic:read', 'team:read'] });
    expect(res.status).toBe(201);
    const key: string = res.body.key;
    expect(key).toMatch(/^opb_[\w-]{40,}$/);
    expect(res.body.prefix).toBe(key.slice(0, 10));

    const list = await clinic.admin.agent.get('/api/api-keys');
    expect(list.body.items).toHaveLength(1);
    expect(JSON.stringify(list.body)).not.toContain(key);

    const [row] = await app.infra.db.select().from(apiKeys).where(eq(apiKeys.id, res.body.id));
    expect(row?.keyHash).toBe(hashToken(key));
    // No column of any key row holds the secret.
    const dump = await app.infra.db.execute(sql`select row_to_json(k)::text as j from api_keys k where clinic_id = ${clinic.id}`);
    expect(JSON.stringify(dump)).not.toContain(key);
  });

  it('works as a Bearer token within its scopes, on its clinic only', async () => {
    const [clinic, other] = await Promise.all([createClinic({ app }), createClinic({ app })]);
    const { key } = (await clinic.admin.agent.post('/api/api-keys').send({ name: 'leitura', scopes: ['clinic:read'] })).body;
    const read = await bearer(key).get('/api/clinic');
    expect(read.status).toBe(200);
    expect(read.body.id).toBe(clinic.id);
    expect(read.body.id).not.toBe(other.id);
    expect((await bearer(key).get('/api/team')).status).toBe(403);
    // Sessions-only actions refuse keys.
    const create = await bearer(key).post('/api/api-keys').send({ name: 'x', scopes: ['clinic:read'] });
    expect(create.status).toBe(403);
    expect((await bearer(key).get('/api/auth/me')).status).toBe(403);
    const [row] = await app.infra.db.select().from(apiKeys).where(eq(apiKeys.keyHash, hashToken(key)));
    expect(row?.lastUsedAt).toBeInstanceOf(Date);
  });

  it('refuses scopes a key may not hold and unknown scopes', async () => {
    const clinic = await createClinic({ app });
    for (const scopes of [['audit:read'], ['team:manage'], ['everything'], []]) {
      const res = await clinic.admin.agent.post('/api/api-keys').send({ name: 'x', scopes });
      expect(res.status, JSON.stringify(scopes)).toBe(400);
    }
  });

  it('a revoked key is refused at once, and revoking twice or another clinic’s key is 404', async () => {
    const [clinic, other] = await Promise.all([createClinic({ app }), createClinic({ app })]);
    const created = (await clinic.admin.agent.post('/api/api-keys').send({ name: 'n8n', scopes: ['clinic:read'] })).body;
    expect((await bearer(created.key).get('/api/clinic')).status).toBe(200);
    expect((await other.admin.agent.delete(`/api/api-keys/${created.id}`)).status).toBe(404);
    expect((await bearer(created.key).get('/api/clinic')).status).toBe(200);
    expect((await clinic.admin.agent.delete(`/api/api-keys/${created.id}`)).status).toBe(204);
    const after = await bearer(created.key).get('/api/clinic');
    expect(after.status).toBe(401);
    expect(after.body.error.code).toBe('invalid_api_key');
    expect((await clinic.admin.agent.delete(`/api/api-keys/${created.id}`)).status).toBe(404);
    expect((await clinic.admin.agent.get('/api/api-keys')).body.items).toEqual([]);
  });

  it('rejects malformed and unknown keys with 401', async () => {
    for (const key of ['nope', 'opb_unknown', `opb_${'a'.repeat(300)}`]) {
      const res = await bearer(key).get('/api/clinic');
      expect(res.status, key.slice(0, 20)).toBe(401);
    }
  });
});
