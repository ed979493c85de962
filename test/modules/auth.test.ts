import { describe, expect, it } from 'vitest';
import request from 'supertest';
import { eq } from 'drizzle-orm';
import { auditLog } from '../../shared/schema/index.js';
import { TEST_ORIGIN, getTestApp } from '../helpers/app.js';
import { PASSWORD, anonymous, createClinic, signIn } from '../helpers/clinic.js';

const unique = () => `u${Math.random().toString(36).slice(2, 10)}@example.com`;

describe('auth', () => {
  it('registers a clinic with the caller as admin and starts a session', async () => {
    const app = await getTestApp();
    const agent = anonymous(app);
    const email = unique();
    const res = await agent.post('/api/auth/register').send({ clinicName: 'Clínica Sorriso', name: 'Dra. Ana', email, password: 'segredo123' });
    expect(res.status).toBe(201);
    expect(res.body.role).toBe('admin');
    expect(res.body.clinic.name).toBe('Clínica Sorriso');
    expect(res.body.clinic.timezone).toBe('America/Sao_Paulo');
    const me = await agent.get('/api/auth/me');
    expect(me.status).toBe(200);
    expect(me.body.user.email).toBe(email);
    expect(me.body.memberships).toHaveLength(1);
  });

  it('refuses a second account with the same email, in any case', async () => {
    const app = await getTestApp();
    const email = unique();
    const body = { clinicName: 'A', name: 'B', email, password: 'segredo123' };
    expect((await anonymous(app).post('/api/auth/register').send(body)).status).toBe(201);
    const again = await anonymous(app).post('/api/auth/register').send({ ...body, email: email.toUpperCase() });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('email_taken');
  });

  it('rejects bad registration input with a 400 and unknown fields', async () => {
    const app = await getTestApp();
    const res = await anonymous(app).post('/api/auth/register').send({ clinicName: 'A', name: 'B', email: 'not-an-email', password: 'x' });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('validation_failed');
    const extra = await anonymous(app).post('/api/auth/register').send({ clinicName: 'A', name: 'B', email: unique(), password: 'segredo123', clinicId: 'x' });
    expect(extra.status).toBe(400);
  });

  it('logs in, regenerates the session id, audits, and logs out', async () => {
    const clinic = await createClinic();
    const app = clinic.app;
    const agent = request.agent(app.app).set('Origin', TEST_ORIGIN);
    const first = await agent.get('/api/auth/me');
    expect(first.status).toBe(401);
    const login = await agent.post('/api/auth/login').send({ email: clinic.receptionist.email, password: PASSWORD });
    expect(login.status).toBe(200);
    const cookie = String(login.headers['set-cookie']);
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Lax/);
    const relogin = await agent.post('/api/auth/login').send({ email: clinic.receptionist.email, password: PASSWORD });
    expect(String(relogin.headers['set-cookie']).split(';')[0]).not.toBe(cookie.split(';')[0]);
    const me = await agent.get('/api/auth/me');
    expect(me.body).toMatchObject({ role: 'receptionist', isProfessional: false, clinic: { id: clinic.id } });
    const audits = await app.infra.db.select().from(auditLog).where(eq(auditLog.clinicId, clinic.id));
    expect(audits.some((a) => a.action === 'auth.login' && a.actorId === clinic.receptionist.id)).toBe(true);
    expect((await agent.post('/api/auth/logout')).status).toBe(204);
    expect((await agent.get('/api/auth/me')).status).toBe(401);
  });

  it('answers wrong password and unknown email the same way', async () => {
    const clinic = await createClinic();
    const wrong = await anonymous(clinic.app).post('/api/auth/login').send({ email: clinic.admin.email, password: 'errada-123' });
    const unknown = await anonymous(clinic.app).post('/api/auth/login').send({ email: unique(), password: 'errada-123' });
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect(wrong.body.error.code).toBe(unknown.body.error.code);
    expect(wrong.body.error.message).toBe(unknown.body.error.message);
  });

  it('changes the password: the old one stops working', async () => {
    const clinic = await createClinic();
    const { agent, email } = clinic.professional;
    const bad = await agent.post('/api/auth/change-password').send({ currentPassword: 'errada-000', newPassword: 'nova-senha-456' });
    expect(bad.status).toBe(400);
    const ok = await agent.post('/api/auth/change-password').send({ currentPassword: PASSWORD, newPassword: 'nova-senha-456' });
    expect(ok.status).toBe(204);
    await expect(signIn(clinic.app, email)).rejects.toThrow(/login failed/);
    await expect(signIn(clinic.app, email, 'nova-senha-456')).resolves.toBeDefined();
  });

  it('resets a password through the emailed link, once; the answer never reveals whether the email exists', async () => {
    const clinic = await createClinic();
    const app = clinic.app;
    const known = await anonymous(app).post('/api/auth/password-reset').send({ email: clinic.admin.email });
    const unknown = await anonymous(app).post('/api/auth/password-reset').send({ email: unique() });
    expect(known.status).toBe(202);
    expect(unknown.status).toBe(202);
    expect(known.body).toEqual(unknown.body);
    const mail = await app.mail.waitFor(clinic.admin.email);
    expect(mail.subject).toMatch(/redefinição de senha/);
    const token = /token=([\w-]+)/.exec(mail.text)?.[1];
    expect(token).toBeDefined();
    const confirm = await anonymous(app).post('/api/auth/password-reset/confirm').send({ token, newPassword: 'recuperada-789' });
    expect(confirm.status).toBe(200);
    await expect(signIn(app, clinic.admin.email, 'recuperada-789')).resolves.toBeDefined();
    const reuse = await anonymous(app).post('/api/auth/password-reset/confirm').send({ token, newPassword: 'outra-senha-000' });
    expect(reuse.status).toBe(400);
    expect(reuse.body.error.code).toBe('invalid_token');
  });

  it('switches between the user’s clinics and refuses a clinic the user is not in (404)', async () => {
    const a = await createClinic();
    const b = await createClinic();
    // Invite A's professional into B.
    const inv = await b.admin.agent.post('/api/team/invitations').send({ email: a.professional.email, name: 'X', role: 'professional' });
    expect(inv.status).toBe(201);
    const accept = await a.professional.agent.post(`/api/team/invitations/${inv.body.token}/accept`).send({});
    expect(accept.status).toBe(200);
    const agent = a.professional.agent;
    const sw = await agent.post('/api/auth/switch-clinic').send({ clinicId: b.id });
    expect(sw.status).toBe(200);
    expect(sw.body.clinic.id).toBe(b.id);
    expect((await agent.get('/api/clinic')).body.id).toBe(b.id);
    const c = await createClinic();
    const denied = await agent.post('/api/auth/switch-clinic').send({ clinicId: c.id });
    expect(denied.status).toBe(404);
    expect((await agent.get('/api/clinic')).body.id).toBe(b.id);
  });

  it('a password change ends the user’s other sessions and keeps the one that made it', async () => {
    const clinic = await createClinic();
    const { agent: laptop, email } = clinic.professional;
    const phone = await signIn(clinic.app, email);
    expect((await phone.get('/api/auth/me')).status).toBe(200);
    const changed = await laptop.post('/api/auth/change-password').send({ currentPassword: PASSWORD, newPassword: 'trocada-321' });
    expect(changed.status).toBe(204);
    expect((await laptop.get('/api/auth/me')).status).toBe(200);
    const old = await phone.get('/api/auth/me');
    expect(old.status).toBe(401);
    expect(old.body.error.code).toBe('session_expired');
    expect((await clinic.receptionist.agent.get('/api/auth/me')).status).toBe(200);
  });

  it('a password reset ends every session of the user', async () => {
    const clinic = await createClinic();
    const app = clinic.app;
    await anonymous(app).post('/api/auth/password-reset').send({ email: clinic.admin.email }).expect(202);
    const token = /token=([\w-]+)/.exec((await app.mail.waitFor(clinic.admin.email)).text)?.[1];
    await anonymous(app).post('/api/auth/password-reset/confirm').send({ token, newPassword: 'redefinida-654' }).expect(200);
    expect((await clinic.admin.agent.get('/api/auth/me')).status).toBe(401);
    expect((await (await signIn(app, clinic.admin.email, 'redefinida-654')).get('/api/auth/me')).status).toBe(200);
  });
});
