import { beforeAll, describe, expect, it } from 'vitest';
import { getTestApp, type TestApp } from '../helpers/app.js';
import { createClinic, signIn, type Agent } from '../helpers/clinic.js';

let app: TestApp;
beforeAll(async () => {
  app = await getTestApp();
});

interface Entry {
  id: string;
  action: string;
  entityType: string;
  entityId: string | null;
  ip: string | null;
  userAgent: string | null;
  actorId: string | null;
  actorType: string;
  createdAt: string;
}

async function all(agent: Agent, query: Record<string, string> = {}): Promise<Entry[]> {
  const res = await agent.get('/api/audit-log').query(query);
  expect(res.status).toBe(200);
  return res.body.items;
}

describe('audit log', () => {
  it('is for admins only', async () => {
    const clinic = await createClinic({ app });
    expect((await clinic.receptionist.agent.get('/api/audit-log')).status).toBe(403);
    expect((await clinic.professional.agent.get('/api/audit-log')).status).toBe(403);
    expect((await clinic.doctorAdmin.agent.get('/api/audit-log')).status).toBe(200);
  });

  it('records logins, team changes and API key changes, with who and from where', async () => {
    const [clinic, other] = await Promise.all([createClinic({ app }), createClinic({ app })]);
    const admin = clinic.admin.agent;
    await signIn(app, clinic.receptionist.email);
    await admin.patch(`/api/team/${clinic.receptionist.id}`).send({ role: 'professional' });
    await admin.delete(`/api/team/${clinic.professional.id}`);
    await admin.post('/api/team/invitations').send({ email: `novo-${clinic.id.slice(0, 8)}@example.com`, name: 'Novo', role: 'receptionist' });
    const key = (await admin.post('/api/api-keys').send({ name: 'n8n', scopes: ['clinic:read'] })).body;
    await admin.delete(`/api/api-keys/${key.id}`).set('User-Agent', 'Navegador da Clínica');

    const entries = await all(admin, { limit: '200' });
    const actions = entries.map((e) => e.action);
    for (const action of ['auth.login', 'team.updated', 'team.removed', 'team.invited', 'api_key.created', 'api_key.revoked']) {
      expect(actions, action).toContain(action);
    }
    const login = entries.find((e) => e.action === 'auth.login' && e.actorId === clinic.receptionist.id);
    expect(login).toMatchObject({ actorType: 'user', entityType: 'user' });
    const revoked = entries.find((e) => e.action === 'api_key.revoked');
    expect(revoked).toMatchObject({ actorId: clinic.admin.id, entityId: key.id, entityType: 'api_key' });
    // From where: the client address and agent of the request that made the change.
    expect(revoked?.ip).toMatch(/127\.0\.0\.1|::1/);
    expect(revoked?.userAgent).toBe('Navegador da Clínica');
    expect(login?.ip).toMatch(/127\.0\.0\.1|::1/);
    expect(JSON.stringify(entries)).not.toContain(key.key);
    // Newest first.
    const times = entries.map((e) => Date.parse(e.createdAt));
    expect([...times].sort((a, b) => b - a)).toEqual(times);
    // Nothing of another clinic.
    const otherIds = new Set((await all(other.admin.agent, { limit: '200' })).map((e) => e.id));
    expect(entries.filter((e) => otherIds.has(e.id))).toEqual([]);
  });

  it('filters by entity, actor and time, and pages with a cursor', async () => {
    const clinic = await createClinic({ app });
    const admin = clinic.admin.agent;
    const keys: string[] = [];
    for (let i = 0; i < 5; i++) keys.push((await admin.post('/api/api-keys').send({ name: `k${i}`, scopes: ['clinic:read'] })).body.id);

    const byType = await all(admin, { entityType: 'api_key' });
    expect(byType.map((e) => e.entityId).sort()).toEqual([...keys].sort());
    expect(await all(admin, { entityId: keys[2] as string })).toHaveLength(1);
    const byActor = await all(admin, { actorId: clinic.receptionist.id });
    expect(byActor.every((e) => e.actorId === clinic.receptionist.id)).toBe(true);
    expect(byActor.map((e) => e.action)).toContain('auth.login');
    expect(await all(admin, { from: new Date(Date.now() + 3600_000).toISOString() })).toEqual([]);
    expect(await all(admin, { to: '2000-01-01T00:00:00Z' })).toEqual([]);

    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res = await admin.get('/api/audit-log').query({ entityType: 'api_key', limit: '2', ...(cursor ? { cursor } : {}) });
      expect(res.status).toBe(200);
      expect(res.body.items.length).toBeLessThanOrEqual(2);
      seen.push(...res.body.items.map((e: Entry) => e.id));
      cursor = res.body.nextCursor;
    } while (cursor);
    expect(seen).toHaveLength(5);
    expect(new Set(seen).size).toBe(5);
    expect(seen).toEqual(byType.map((e) => e.id));

    expect((await admin.get('/api/audit-log').query({ cursor: 'lixo' })).status).toBe(400);
    expect((await admin.get('/api/audit-log').query({ limit: '500' })).status).toBe(400);
  });
});
