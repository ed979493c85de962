import { describe, expect, it } from 'vitest';
import { createClinic } from '../helpers/clinic.js';

// /auth/me is served from a per-user cache (it answers every page load); these prove the cache
// never shows a stale clinic, role or membership list.
describe('GET /api/auth/me stays true while cached', () => {
  it('shows a renamed clinic and a new time zone to every member at once', async () => {
    const clinic = await createClinic();
    const before = await clinic.receptionist.agent.get('/api/auth/me');
    expect(before.body.clinic.name).toBe(clinic.name);
    await clinic.admin.agent.patch('/api/clinic').send({ name: 'Clínica Nova', timezone: 'America/Manaus' }).expect(200);
    // Cached accounts learn of it from the clinic.updated event, delivered just after the commit.
    await clinic.app.infra.events.flush();
    const after = await clinic.receptionist.agent.get('/api/auth/me');
    expect(after.body.clinic).toEqual({ id: clinic.id, name: 'Clínica Nova', timezone: 'America/Manaus' });
    expect(after.body.memberships).toEqual([{ clinicId: clinic.id, clinicName: 'Clínica Nova', role: 'receptionist', isProfessional: false }]);
  });

  it('shows a changed role at once, and a deactivated member is signed out', async () => {
    const clinic = await createClinic();
    expect((await clinic.receptionist.agent.get('/api/auth/me')).body.role).toBe('receptionist');
    await clinic.admin.agent.patch(`/api/team/${clinic.receptionist.id}`).send({ role: 'admin' }).expect(200);
    const promoted = await clinic.receptionist.agent.get('/api/auth/me');
    expect(promoted.body).toMatchObject({ role: 'admin', memberships: [{ clinicId: clinic.id, role: 'admin' }] });
    await clinic.admin.agent.patch(`/api/team/${clinic.receptionist.id}`).send({ active: false }).expect(200);
    expect((await clinic.receptionist.agent.get('/api/auth/me')).status).toBe(401);
  });

  it('lists a clinic joined by invitation, with its name changed later', async () => {
    const a = await createClinic();
    const b = await createClinic();
    expect((await a.professional.agent.get('/api/auth/me')).body.memberships).toHaveLength(1);
    const inv = await b.admin.agent.post('/api/team/invitations').send({ email: a.professional.email, name: 'X', role: 'professional' });
    await a.professional.agent.post(`/api/team/invitations/${inv.body.token}/accept`).send({}).expect(200);
    await b.admin.agent.patch('/api/clinic').send({ name: 'Outra Clínica' }).expect(200);
    await a.app.infra.events.flush();
    const me = await a.professional.agent.get('/api/auth/me');
    expect(me.body.clinic.id).toBe(a.id);
    expect(me.body.memberships.map((m: { clinicName: string }) => m.clinicName)).toEqual([a.name, 'Outra Clínica']);
  });
});
