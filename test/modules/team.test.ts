import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import request from 'supertest';
import { eq } from 'drizzle-orm';
import { invitations, memberships } from '../../shared/schema/index.js';
import { buildTestApp, getTestApp, type TestApp } from '../helpers/app.js';
import { PASSWORD, anonymous, createClinic, signIn, type TestClinic } from '../helpers/clinic.js';
import { withRedis } from '../helpers/skip.js';

let app: TestApp;
beforeAll(async () => {
  app = await getTestApp();
});

const unique = () => `convidado-${Math.random().toString(36).slice(2, 10)}@example.com`;

/** Invites by email and returns the token read from the mail, as the invitee would. */
async function invite(clinic: TestClinic, email: string, role = 'professional') {
  const res = await clinic.admin.agent.post('/api/team/invitations').send({ email, name: 'Dr. Convidado', role });
  expect(res.status).toBe(201);
  const mail = await app.mail.waitFor(email);
  expect(mail.subject).toContain(clinic.name);
  const token = /convite\?token=([\w-]+)/.exec(mail.text)?.[1];
  expect(token).toBe(res.body.token);
  return { id: res.body.id as string, token: token as string };
}

describe('invitations', () => {
  it('a new user accepts with a name and password and is signed in to the clinic', async () => {
    const clinic = await createClinic({ app });
    const email = unique();
    const { token } = await invite(clinic, email);

    const info = await anonymous(app).get(`/api/public/invitations/${token}`);
    expect(info.status).toBe(200);
    expect(info.body).toMatchObject({ clinicName: clinic.name, email, role: 'professional', userExists: false });

    const agent = anonymous(app);
    const accept = await agent.post(`/api/public/invitations/${token}/accept`).send({ name: 'Dra. Nova', password: 'senha-nova-123' });
    expect(accept.status).toBe(200);
    expect(accept.body).toMatchObject({ user: { email, name: 'Dra. Nova' }, clinic: { id: clinic.id }, role: 'professional', isProfessional: true });
    expect((await agent.get('/api/auth/me')).body.clinic.id).toBe(clinic.id);
    // The chosen password works from now on.
    await signIn(app, email, 'senha-nova-123');

    const again = await anonymous(app).post(`/api/public/invitations/${token}/accept`).send({ password: 'outra-senha-123' });
    expect(again.status).toBe(410);
    expect((await anonymous(app).get(`/api/public/invitations/${token}`)).status).toBe(410);
  });

  it('an existing user must prove their password; the clinic is then added to their memberships', async () => {
    const [clinic, home] = await Promise.all([createClinic({ app }), createClinic({ app })]);
    const existing = home.professional;
    const { token } = await invite(clinic, existing.email, 'receptionist');
    expect((await anonymous(app).get(`/api/public/invitations/${token}`)).body.userExists).toBe(true);

    const wrong = await anonymous(app).post(`/api/public/invitations/${token}/accept`).send({ password: 'nao-e-a-senha' });
    expect(wrong.status).toBe(401);
    expect(wrong.body.error.code).toBe('invalid_credentials');
    expect(await app.infra.db.select().from(memberships).where(eq(memberships.userId, existing.id))).toHaveLength(1);

    const agent = anonymous(app);
    const ok = await agent.post(`/api/public/invitations/${token}/accept`).send({ password: PASSWORD });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ clinic: { id: clinic.id }, role: 'receptionist' });
    expect(ok.body.memberships.map((m: { clinicId: string }) => m.clinicId).sort()).toEqual([clinic.id, home.id].sort());
  });

  it('an expired invitation answers 410 and an unknown token 404', async () => {
    const clinic = await createClinic({ app });
    const { id, token } = await invite(clinic, unique());
    await app.infra.db.update(invitations).set({ expiresAt: new Date(Date.now() - 1000) }).where(eq(invitations.id, id));
    const read = await anonymous(app).get(`/api/public/invitations/${token}`);
    expect(read.status).toBe(410);
    expect(read.body.error.code).toBe('invitation_expired');
    const accept = await anonymous(app).post(`/api/public/invitations/${token}/accept`).send({ name: 'X', password: 'senha-nova-123' });
    expect(accept.status).toBe(410);
    expect((await anonymous(app).get(`/api/public/invitations/${'z'.repeat(43)}`)).status).toBe(404);
  });

  it('refuses to invite someone who is already a member (409)', async () => {
    const clinic = await createClinic({ app });
    const res = await clinic.admin.agent.post('/api/team/invitations').send({ email: clinic.receptionist.email.toUpperCase(), name: 'R', role: 'receptionist' });
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('already_member');
  });
});

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
    expect((await clinic.admin.agent.delete(`/api/team/${clinic.professional.id}`)).status).toBe(204);
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
});
