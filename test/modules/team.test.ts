import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import request from 'supertest';
import { and, eq } from 'drizzle-orm';
import { auditLog, clinics, invitations, memberships, users } from '../../shared/schema/index.js';
import { hashToken, randomToken } from '../../server/lib/tokens.js';
import { buildTestApp, getTestApp, type TestApp } from '../helpers/app.js';
import { hashPassword } from '../../server/modules/auth/passwords.js';
import { PASSWORD, anonymous, createClinic, signIn, type Agent, type TestClinic } from '../helpers/clinic.js';
import { withRedis } from '../helpers/skip.js';

let app: TestApp;
beforeAll(async () => {
  app = await getTestApp();
});

const unique = () => `convidado-${Math.random().toString(36).slice(2, 10)}@example.com`;
const bearer = (target: TestApp, key: string) => request(target.app).get('/api/contacts').set('Authorization', `Bearer ${key}`);

/** A clinic whose `n` members are all admins, each signed in. */
async function clinicOfAdmins(n: number): Promise<{ id: string; admins: { id: string; agent: Agent }[] }> {
  const db = app.infra.db;
  const tag = Math.random().toString(36).slice(2, 10);
  const [clinic] = await db.insert(clinics).values({ name: `Clínica ${tag}` }).returning({ id: clinics.id });
  if (!clinic) throw new Error('no clinic');
  const passwordHash = await hashPassword(PASSWORD);
  const admins = await Promise.all(
    Array.from({ length: n }, async (_, i) => {
      const email = `admin${i}-${tag}@example.com`;
      const [user] = await db.insert(users).values({ name: `Admin ${i}`, email, passwordHash }).returning({ id: users.id });
      if (!user) throw new Error('no user');
      await db.insert(memberships).values({ clinicId: clinic.id, userId: user.id, role: 'admin' });
      return { id: user.id, agent: await signIn(app, email) };
    }),
  );
  return { id: clinic.id, admins };
}

/** What a leaving admin created: an admin invitation and an API key (its cache entry warmed by one use). */
async function createdBy(clinic: TestClinic, agent: Agent) {
  const invitation = await agent.post('/api/team/invitations').send({ email: unique(), name: 'Convidado', role: 'admin' });
  const key = await agent.post('/api/api-keys').send({ name: 'n8n', scopes: ['contacts:read'] });
  expect([invitation.status, key.status]).toEqual([201, 201]);
  expect((await bearer(clinic.app, key.body.key)).status).toBe(200);
  return { invitation: invitation.body as { id: string; token: string }, key: key.body as { id: string; key: string } };
}

const acceptAnonymously = (token: string) => anonymous(app).post(`/api/public/invitations/${token}/accept`).send({ password: 'senha-nova-123' });

describe('team management', () => {
  it('keeps at least one active admin: demoting, deactivating or removing the last one is 409 and changes nothing', async () => {
    const clinic = await createClinic({ app });
    const admin = clinic.admin.agent;
    expect((await admin.patch(`/api/team/${clinic.doctorAdmin.id}`).send({ role: 'professional' })).status).toBe(200);
    for (const [method, body] of [
      ['patch', { role: 'receptionist' }],
      ['patch', { active: false }],
      ['delete', undefined],
    ] as const) {
      const res = method === 'patch' ? await admin.patch(`/api/team/${clinic.admin.id}`).send(body) : await admin.delete(`/api/team/${clinic.admin.id}`);
      expect(res.status, `${method} ${JSON.stringify(body)}`).toBe(409);
      expect(res.body.error.code).toBe('last_admin');
    }
    const team = await admin.get('/api/team');
    expect(team.body.items.find((m: { userId: string }) => m.userId === clinic.admin.id)).toMatchObject({ role: 'admin', active: true });
  });

  it('20 admins leaving at the same moment (demoted, deactivated, removed): one stays admin and the last request gets 409 last_admin', async () => {
    const clinic = await clinicOfAdmins(20);
    const answers = await Promise.all(
      clinic.admins.map((a, i) =>
        i % 3 === 0
          ? a.agent.patch(`/api/team/${a.id}`).send({ role: 'professional' })
          : i % 3 === 1
            ? a.agent.patch(`/api/team/${a.id}`).send({ active: false })
            : a.agent.delete(`/api/team/${a.id}`),
      ),
    );
    const statuses = answers.map((r) => r.status);
    expect(statuses.filter((s) => s === 200), statuses.join(',')).toHaveLength(19);
    const refused = answers.filter((r) => r.status === 409);
    expect(refused).toHaveLength(1);
    expect(refused[0]?.body.error.code).toBe('last_admin');
    const admins = await app.infra.db
      .select()
      .from(memberships)
      .where(and(eq(memberships.clinicId, clinic.id), eq(memberships.role, 'admin'), eq(memberships.active, true)));
    expect(admins).toHaveLength(1);
  }, 60_000);

  it('removing a member revokes the invitations and API keys they created, at once, and says so in the answer and the audit log', async () => {
    const clinic = await createClinic({ app });
    const leaving = clinic.doctorAdmin;
    const theirs = await createdBy(clinic, leaving.agent);
    const others = await createdBy(clinic, clinic.admin.agent);

    const removed = await clinic.admin.agent.delete(`/api/team/${leaving.id}`);
    expect(removed.status).toBe(200);
    expect(removed.body).toEqual({ revokedInvitations: 1, revokedApiKeys: 1 });

    const refused = await bearer(app, theirs.key.key);
    expect(refused.status).toBe(401);
    expect(refused.body.error.code).toBe('invalid_api_key');
    const accept = await acceptAnonymously(theirs.invitation.token);
    expect(accept.status).toBe(410);
    expect(accept.body.error.code).toBe('invitation_revoked');
    // What the remaining admin created keeps working.
    expect((await bearer(app, others.key.key)).status).toBe(200);
    expect((await clinic.admin.agent.get('/api/team/invitations')).body.items.map((i: { id: string }) => i.id)).toEqual([others.invitation.id]);
    expect((await clinic.admin.agent.get('/api/api-keys')).body.items.map((k: { id: string }) => k.id)).toEqual([others.key.id]);

    const [audit] = await app.infra.db.select().from(auditLog).where(and(eq(auditLog.clinicId, clinic.id), eq(auditLog.action, 'team.removed')));
    expect(audit).toMatchObject({ actorId: clinic.admin.id, entityId: leaving.id, details: { revokedInvitations: [theirs.invitation.id], revokedApiKeys: [theirs.key.id] } });
  });

  it('deactivating a member revokes what they created and the invitations addressed to them; reactivating brings none back', async () => {
    const clinic = await createClinic({ app });
    const leaving = clinic.doctorAdmin;
    const theirs = await createdBy(clinic, leaving.agent);
    // An invitation to their email sent before they joined: it must not bring them back.
    const old = randomToken();
    await app.infra.db
      .insert(invitations)
      .values({ clinicId: clinic.id, email: leaving.email, name: 'X', role: 'admin', tokenHash: hashToken(old), expiresAt: new Date(Date.now() + 3600_000) });

    const res = await clinic.admin.agent.patch(`/api/team/${leaving.id}`).send({ active: false });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ userId: leaving.id, active: false, revokedInvitations: 2, revokedApiKeys: 1 });
    expect((await bearer(app, theirs.key.key)).status).toBe(401);
    expect((await acceptAnonymously(theirs.invitation.token)).status).toBe(410);

    const back = await clinic.admin.agent.patch(`/api/team/${leaving.id}`).send({ active: true });
    expect(back.body).toMatchObject({ active: true, revokedInvitations: 0, revokedApiKeys: 0 });
    expect((await bearer(app, theirs.key.key)).status).toBe(401);
    const audits = await app.infra.db.select().from(auditLog).where(and(eq(auditLog.clinicId, clinic.id), eq(auditLog.action, 'team.updated'), eq(auditLog.entityId, leaving.id)));
    expect(audits.map((r) => r.details)).toContainEqual(expect.objectContaining({ active: false, revokedApiKeys: [theirs.key.id] }));
  });

  it('an admin who is demoted loses the invitations and keys they created; other changes revoke nothing', async () => {
    const clinic = await createClinic({ app });
    const theirs = await createdBy(clinic, clinic.doctorAdmin.agent);
    const unrelated = await clinic.admin.agent.patch(`/api/team/${clinic.doctorAdmin.id}`).send({ timezone: 'America/Manaus' });
    expect(unrelated.body).toMatchObject({ revokedInvitations: 0, revokedApiKeys: 0 });
    expect((await bearer(app, theirs.key.key)).status).toBe(200);

    const demoted = await clinic.admin.agent.patch(`/api/team/${clinic.doctorAdmin.id}`).send({ role: 'professional' });
    expect(demoted.body).toMatchObject({ role: 'professional', revokedInvitations: 1, revokedApiKeys: 1 });
    expect((await bearer(app, theirs.key.key)).status).toBe(401);
    expect((await acceptAnonymously(theirs.invitation.token)).status).toBe(410);
  });

  it('a role change takes effect on the member’s very next request', async () => {
    const clinic = await createClinic({ app });
    const reception = clinic.receptionist.agent;
    expect((await reception.get('/api/audit-log')).status).toBe(403);
    expect((await clinic.admin.agent.patch(`/api/team/${clinic.receptionist.id}`).send({ role: 'admin' })).status).toBe(200);
    expect((await reception.get('/api/audit-log')).status).toBe(200);
    expect((await reception.get('/api/auth/me')).body.role).toBe('admin');
    expect((await clinic.admin.agent.patch(`/api/team/${clinic.receptionist.id}`).send({ role: 'receptionist' })).status).toBe(200);
    expect((await reception.get('/api/audit-log')).status).toBe(403);
  });

  it('a deactivated or removed member is signed out at once (401) and cannot sign in to that clinic', async () => {
    const clinic = await createClinic({ app });
    expect((await clinic.receptionist.agent.get('/api/team')).status).toBe(200);
    const patch = await clinic.admin.agent.patch(`/api/team/${clinic.receptionist.id}`).send({ active: false });
    expect(patch.status).toBe(200);
    expect(patch.body.active).toBe(false);
    const denied = await clinic.receptionist.agent.get('/api/team');
    expect(denied.status).toBe(401);
    expect(denied.body.error.code).toBe('session_invalid');
    const login = await anonymous(app).post('/api/auth/login').send({ email: clinic.receptionist.email, password: PASSWORD });
    expect(login.status).toBe(403);

    expect((await clinic.professional.agent.get('/api/team')).status).toBe(200);
    expect((await clinic.admin.agent.delete(`/api/team/${clinic.professional.id}`)).status).toBe(200);
    expect((await clinic.professional.agent.get('/api/team')).status).toBe(401);
  });

  it('lists professionals with their effective time zone and hours', async () => {
    const clinic = await createClinic({ app });
    await clinic.admin.agent.patch(`/api/team/${clinic.professional.id}`).send({ timezone: 'America/Manaus' });
    const res = await clinic.receptionist.agent.get('/api/professionals');
    expect(res.status).toBe(200);
    const ids = res.body.items.map((p: { userId: string }) => p.userId).sort();
    expect(ids).toEqual([clinic.professional.id, clinic.doctorAdmin.id].sort());
    expect(res.body.items.find((p: { userId: string }) => p.userId === clinic.professional.id).timezone).toBe('America/Manaus');
    expect(res.body.items.find((p: { userId: string }) => p.userId === clinic.doctorAdmin.id).timezone).toBe('America/Sao_Paulo');
  });
});

describe.runIf(withRedis('team: two instances on one Redis'))('two instances on one Redis', () => {
  let a: TestApp;
  let b: TestApp;
  beforeAll(async () => {
    const prefix = `${inject('redisPrefix')}pair${Math.random().toString(36).slice(2, 8)}:`;
    [a, b] = await Promise.all([buildTestApp({ env: { REDIS_PREFIX: prefix } }), buildTestApp({ env: { REDIS_PREFIX: prefix } })]);
  });
  afterAll(async () => {
    await Promise.all([a.close(), b.close()]);
  });

  it('a role change made on one instance takes effect on the other at the next request', async () => {
    const clinic = await createClinic({ app: a });
    // The same session cookie, presented to instance B.
    const login = await anonymous(a).post('/api/auth/login').send({ email: clinic.receptionist.email, password: PASSWORD });
    const cookie = String(login.headers['set-cookie']).split(';')[0] as string;
    const onB = () => request(b.app).get('/api/audit-log').set('Cookie', cookie);
    expect((await onB()).status).toBe(403);
    expect((await clinic.admin.agent.patch(`/api/team/${clinic.receptionist.id}`).send({ role: 'admin' })).status).toBe(200);
    expect((await onB()).status).toBe(200);
    expect((await clinic.admin.agent.patch(`/api/team/${clinic.receptionist.id}`).send({ active: false })).status).toBe(200);
    expect((await onB()).status).toBe(401);
  });

  it('an API key revoked on one instance is refused by the other at once', async () => {
    const clinic = await createClinic({ app: a });
    const created = (await clinic.admin.agent.post('/api/api-keys').send({ name: 'n8n', scopes: ['clinic:read'] })).body;
    const onB = () => request(b.app).get('/api/clinic').set('Authorization', `Bearer ${created.key}`);
    expect((await onB()).status).toBe(200);
    expect((await clinic.admin.agent.delete(`/api/api-keys/${created.id}`)).status).toBe(204);
    expect((await onB()).status).toBe(401);
  });

  it('a member removed on one instance: the API keys they created are refused by the other at once', async () => {
    const clinic = await createClinic({ app: a });
    const created = (await clinic.doctorAdmin.agent.post('/api/api-keys').send({ name: 'n8n', scopes: ['contacts:read'] })).body;
    expect((await bearer(b, created.key)).status).toBe(200);
    expect((await clinic.admin.agent.delete(`/api/team/${clinic.doctorAdmin.id}`)).body).toEqual({ revokedInvitations: 0, revokedApiKeys: 1 });
    expect((await bearer(b, created.key)).status).toBe(401);
  });
});
