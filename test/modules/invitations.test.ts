import { beforeAll, describe, expect, inject, it } from 'vitest';
import { and, eq } from 'drizzle-orm';
import { auditLog, invitations, memberships } from '../../shared/schema/index.js';
import { hashToken, randomToken } from '../../server/lib/tokens.js';
import { buildTestApp, getTestApp, type TestApp } from '../helpers/app.js';
import { PASSWORD, anonymous, createClinic, signIn, type TestClinic } from '../helpers/clinic.js';

let app: TestApp;
beforeAll(async () => {
  app = await getTestApp();
});

const unique = () => `convidado-${Math.random().toString(36).slice(2, 10)}@example.com`;

/** Invites by email and returns the token read from the mail, as the invitee would. */
async function invite(clinic: TestClinic, email: string, role = 'professional', by = clinic.admin.agent) {
  const res = await by.post('/api/team/invitations').send({ email, name: 'Dr. Convidado', role });
  expect(res.status).toBe(201);
  const to = email.toLowerCase();
  const mail = await clinic.app.mail.waitFor(to);
  expect(mail.subject).toContain(clinic.name);
  // The link in the mail carries the token the inviter was shown.
  expect(clinic.app.mail.sent.some((m) => m.to === to && m.text.includes(`convite?token=${res.body.token}`))).toBe(true);
  return { id: res.body.id as string, token: res.body.token as string };
}

const membershipsOf = (userId: string) => app.infra.db.select().from(memberships).where(eq(memberships.userId, userId));

describe('accepting an invitation on the public link', () => {
  it('creates a new account with the chosen password and signs it in to the clinic', async () => {
    const clinic = await createClinic({ app });
    const email = unique();
    const { token } = await invite(clinic, email);

    const info = await anonymous(app).get(`/api/public/invitations/${token}`);
    expect(info.status).toBe(200);
    expect(info.body).toMatchObject({ clinicName: clinic.name, email, role: 'professional' });

    const agent = anonymous(app);
    const accept = await agent.post(`/api/public/invitations/${token}/accept`).send({ name: 'Dra. Nova', password: 'senha-nova-123' });
    expect(accept.status).toBe(200);
    expect(accept.body).toMatchObject({ user: { email, name: 'Dra. Nova' }, clinic: { id: clinic.id }, role: 'professional', isProfessional: true });
    expect((await agent.get('/api/auth/me')).body.clinic.id).toBe(clinic.id);
    await signIn(app, email, 'senha-nova-123');

    const again = await anonymous(app).post(`/api/public/invitations/${token}/accept`).send({ password: 'outra-senha-123' });
    expect(again.status).toBe(410);
    expect((await anonymous(app).get(`/api/public/invitations/${token}`)).status).toBe(410);
  });

  it('does not say whether the invited email has an account', async () => {
    const [clinic, home] = await Promise.all([createClinic({ app }), createClinic({ app })]);
    const known = await invite(clinic, home.professional.email);
    const fresh = await invite(clinic, unique());
    const a = await anonymous(app).get(`/api/public/invitations/${known.token}`);
    const b = await anonymous(app).get(`/api/public/invitations/${fresh.token}`);
    expect(Object.keys(a.body).sort()).toEqual(Object.keys(b.body).sort());
    expect(a.body).not.toHaveProperty('userExists');
  });

  it('is not a password oracle: for an existing account the right and a wrong password get the same 409, and nobody is signed in', async () => {
    const [attacker, home] = await Promise.all([createClinic({ app }), createClinic({ app })]);
    const victim = home.professional;
    const { token } = await invite(attacker, victim.email, 'admin');

    const wrong = await anonymous(app).post(`/api/public/invitations/${token}/accept`).send({ password: 'nao-e-a-senha' });
    const thief = anonymous(app);
    const right = await thief.post(`/api/public/invitations/${token}/accept`).send({ password: PASSWORD });
    for (const res of [wrong, right]) {
      expect(res.status).toBe(409);
      expect(res.body.error.code).toBe('account_exists');
      expect(res.headers['set-cookie']).toBeUndefined();
    }
    expect(right.body.error.message).toBe(wrong.body.error.message);
    expect((await thief.get('/api/auth/me')).status).toBe(401);
    expect(await membershipsOf(victim.id)).toHaveLength(1);
  });

  it('is limited like registration (it creates accounts)', async () => {
    // Its own Redis prefix: counters of this run's other apps must not count here.
    const limited = await buildTestApp({ rateLimits: { register: 2 }, env: { REDIS_PREFIX: `${inject('redisPrefix')}limited${Math.random().toString(36).slice(2, 8)}:` } });
    try {
      const clinic = await createClinic({ app: limited });
      const { token } = await invite(clinic, unique());
      const attempt = () => anonymous(limited).post(`/api/public/invitations/${token}/accept`).send({ password: 'x' });
      expect((await attempt()).status).toBe(400);
      expect((await attempt()).status).toBe(400);
      const blocked = await attempt();
      expect(blocked.status).toBe(429);
      expect(blocked.body.error.code).toBe('rate_limited');
    } finally {
      await limited.close();
    }
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

describe('accepting an invitation from one’s own signed-in account', () => {
  it('adds the clinic to the account’s memberships and keeps the active clinic', async () => {
    const [clinic, home] = await Promise.all([createClinic({ app }), createClinic({ app })]);
    const invitee = home.professional;
    const { token } = await invite(clinic, invitee.email.toUpperCase(), 'receptionist');

    const ok = await invitee.agent.post(`/api/team/invitations/${token}/accept`).send({});
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ clinic: { id: home.id }, role: 'professional' });
    expect(ok.body.memberships).toEqual(
      expect.arrayContaining([expect.objectContaining({ clinicId: clinic.id, role: 'receptionist' }), expect.objectContaining({ clinicId: home.id })]),
    );
    const switched = await invitee.agent.post('/api/auth/switch-clinic').send({ clinicId: clinic.id });
    expect(switched.status).toBe(200);
    expect(switched.body.role).toBe('receptionist');
    const [joined] = await app.infra.db.select().from(auditLog).where(and(eq(auditLog.clinicId, clinic.id), eq(auditLog.action, 'team.joined')));
    expect(joined?.actorId).toBe(invitee.id);

    expect((await invitee.agent.post(`/api/team/invitations/${token}/accept`).send({})).status).toBe(410);
  });

  it('refuses an invitation sent to another email (404) and leaves it usable by its invitee', async () => {
    const [clinic, other] = await Promise.all([createClinic({ app }), createClinic({ app })]);
    const email = unique();
    const { token } = await invite(clinic, email);
    const res = await other.admin.agent.post(`/api/team/invitations/${token}/accept`).send({});
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('invitation_other_account');
    expect(await membershipsOf(other.admin.id)).toHaveLength(1);
    expect((await anonymous(app).post(`/api/public/invitations/${token}/accept`).send({ password: 'senha-nova-123' })).status).toBe(200);
  });

  it('never brings back a deactivated member: an old link answers 409 already_member and changes nothing', async () => {
    const [clinic, home] = await Promise.all([createClinic({ app }), createClinic({ app })]);
    const invitee = home.receptionist;
    const first = await invite(clinic, invitee.email, 'receptionist');
    await invitee.agent.post(`/api/team/invitations/${first.token}/accept`).send({}).expect(200);
    // A second invitation sent before the first was accepted (POST /team/invitations now refuses a member).
    const second = randomToken();
    await app.infra.db
      .insert(invitations)
      .values({ clinicId: clinic.id, email: invitee.email, name: 'R', role: 'admin', tokenHash: hashToken(second), expiresAt: new Date(Date.now() + 3600_000) });
    await app.infra.db.update(memberships).set({ active: false }).where(and(eq(memberships.clinicId, clinic.id), eq(memberships.userId, invitee.id)));

    const res = await invitee.agent.post(`/api/team/invitations/${second}/accept`).send({});
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('already_member');
    const [membership] = await app.infra.db.select().from(memberships).where(and(eq(memberships.clinicId, clinic.id), eq(memberships.userId, invitee.id)));
    expect(membership?.active).toBe(false);
  });

  it('needs a signed-in user: an API key is refused', async () => {
    const clinic = await createClinic({ app });
    const { token } = await invite(clinic, unique());
    const key = (await clinic.admin.agent.post('/api/api-keys').send({ name: 'n8n', scopes: ['team:read'] })).body.key;
    const res = await anonymous(app).post(`/api/team/invitations/${token}/accept`).set('Authorization', `Bearer ${key}`).send({});
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe('user_session_required');
  });
});

describe('listing and withdrawing invitations', () => {
  it('lists the pending ones without tokens; a withdrawn one stops working (410) and is audited', async () => {
    const clinic = await createClinic({ app });
    const keep = await invite(clinic, unique());
    const withdraw = await invite(clinic, unique(), 'admin');
    const used = await invite(clinic, unique());
    await anonymous(app).post(`/api/public/invitations/${used.token}/accept`).send({ password: 'senha-nova-123' }).expect(200);

    const list = await clinic.admin.agent.get('/api/team/invitations');
    expect(list.status).toBe(200);
    expect(list.body.items.map((i: { id: string }) => i.id).sort()).toEqual([keep.id, withdraw.id].sort());
    expect(list.body.items.find((i: { id: string }) => i.id === withdraw.id)).toMatchObject({ role: 'admin', invitedBy: clinic.admin.id });
    expect(JSON.stringify(list.body)).not.toContain(withdraw.token);
    expect((await clinic.receptionist.agent.get('/api/team/invitations')).status).toBe(403);

    expect((await clinic.admin.agent.delete(`/api/team/invitations/${withdraw.id}`)).status).toBe(204);
    const read = await anonymous(app).get(`/api/public/invitations/${withdraw.token}`);
    expect(read.status).toBe(410);
    expect(read.body.error.code).toBe('invitation_revoked');
    const accept = await anonymous(app).post(`/api/public/invitations/${withdraw.token}/accept`).send({ password: 'senha-nova-123' });
    expect(accept.status).toBe(410);
    expect(accept.body.error.code).toBe('invitation_revoked');
    expect((await clinic.admin.agent.get('/api/team/invitations')).body.items.map((i: { id: string }) => i.id)).toEqual([keep.id]);
    expect((await clinic.admin.agent.delete(`/api/team/invitations/${withdraw.id}`)).status).toBe(404);
    expect((await clinic.admin.agent.delete(`/api/team/invitations/${used.id}`)).status).toBe(404);

    const audits = await app.infra.db.select().from(auditLog).where(and(eq(auditLog.clinicId, clinic.id), eq(auditLog.action, 'team.invitation_revoked')));
    expect(audits.map((a) => [a.entityId, a.actorId])).toEqual([[withdraw.id, clinic.admin.id]]);
  });
});
