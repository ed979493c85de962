import { beforeAll, describe, expect, it } from 'vitest';
import { and, eq } from 'drizzle-orm';
import { auditLog, contacts } from '../../shared/schema/index.js';
import { buildTestApp, getTestApp } from '../helpers/app.js';
import { createClinic } from '../helpers/clinic.js';
import { randomCpf } from '../helpers/scheduling.js';

// The worker's app (and its embedded database) is built once, under the hook timeout.
beforeAll(async () => {
  await getTestApp();
});

describe('patients', () => {
  it('creates a patient, normalising phone and CPF, and audits it', async () => {
    const clinic = await createClinic();
    const res = await clinic.receptionist.agent
      .post('/api/contacts')
      .send({ name: 'João da Silva', phone: '(11) 98765-4321', cpf: '529.982.247-25', email: 'Joao@Example.com', birthDate: '1980-05-02', status: 'active' });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ name: 'João da Silva', phone: '+5511987654321', cpf: '52998224725', email: 'joao@example.com', birthDate: '1980-05-02', status: 'active' });
    const got = await clinic.professional.agent.get(`/api/contacts/${res.body.id}`);
    expect(got.body.id).toBe(res.body.id);
    const audits = await clinic.app.infra.db.select().from(auditLog).where(and(eq(auditLog.clinicId, clinic.id), eq(auditLog.entityId, res.body.id)));
    expect(audits.map((a) => a.action)).toContain('contact.created');
  });

  it('accepts every common phone form, with or without the 9th digit, as the same E.164', async () => {
    const clinic = await createClinic();
    const forms = ['11987654321', '+55 11 98765-4321', '(11) 8765-4321', '5511987654321', '011 98765 4321'];
    const first = await clinic.receptionist.agent.post('/api/contacts').send({ name: 'Ana', phone: forms[0] });
    expect(first.status).toBe(201);
    for (const phone of forms.slice(1)) {
      const dup = await clinic.receptionist.agent.post('/api/contacts').send({ name: 'Outra Ana', phone });
      expect(dup.status, phone).toBe(409);
      expect(dup.body.error.details).toEqual({ field: 'phone', existingId: first.body.id });
    }
    const landline = await clinic.receptionist.agent.post('/api/contacts').send({ name: 'Fixo', phone: '(21) 3456-7890' });
    expect(landline.body.phone).toBe('+552134567890');
  });

  it('answers 409 with the existing id for a duplicate CPF, formatted or not', async () => {
    const clinic = await createClinic();
    const cpf = randomCpf();
    const first = await clinic.receptionist.agent.post('/api/contacts').send({ name: 'Maria', cpf });
    const formatted = `${cpf.slice(0, 3)}.${cpf.slice(3, 6)}.${cpf.slice(6, 9)}-${cpf.slice(9)}`;
    const dup = await clinic.receptionist.agent.post('/api/contacts').send({ name: 'Maria 2', cpf: formatted });
    expect(dup.status).toBe(409);
    expect(dup.body.error).toMatchObject({ code: 'contact_duplicate', details: { field: 'cpf', existingId: first.body.id } });
    // Another clinic may hold the same CPF.
    const other = await createClinic();
    expect((await other.receptionist.agent.post('/api/contacts').send({ name: 'Maria', cpf })).status).toBe(201);
  });

  it('lets only one of several simultaneous registrations of one CPF through', async () => {
    const clinic = await createClinic();
    const cpf = randomCpf();
    const results = await Promise.all(Array.from({ length: 6 }, (_, i) => clinic.receptionist.agent.post('/api/contacts').send({ name: `Paciente ${i}`, cpf })));
    const created = results.filter((r) => r.status === 201);
    expect(created).toHaveLength(1);
    for (const r of results.filter((x) => x.status !== 201)) {
      expect(r.status).toBe(409);
      expect(r.body.error.details.existingId).toBe(created[0]?.body.id);
    }
  });

  it('refuses bad input with a 4xx and creates nothing', async () => {
    const clinic = await createClinic();
    const bad = [
      { name: 'X', cpf: '529.982.247-26' },
      { name: 'X', cpf: '111.111.111-11' },
      { name: 'X', phone: '12345' },
      { name: 'X', phone: '(00) 98765-4321' },
      { name: 'X', phone: 'call me' },
      { name: 'X', email: 'not-an-email' },
      { name: 'X', birthDate: '2020-02-30' },
      { name: 'X', birthDate: '2999-01-01' },
      { name: '' },
      { name: 'X', status: 'vip' },
      { name: 'X', clinicId: clinic.id },
      { name: 'x'.repeat(5000) },
      { name: 'Ana\u0000' },
    ];
    for (const body of bad) {
      const res = await clinic.receptionist.agent.post('/api/contacts').send(body);
      expect(res.status, JSON.stringify(body).slice(0, 80)).toBe(400);
    }
    const rows = await clinic.app.infra.db.select().from(contacts).where(eq(contacts.clinicId, clinic.id));
    expect(rows).toHaveLength(0);
    expect((await clinic.receptionist.agent.get('/api/contacts/not-a-uuid')).status).toBe(400);
    expect((await clinic.receptionist.agent.get('/api/contacts').query({ search: 'a\u0000' })).status).toBe(400);
  });

  it('searches by name without accents or case, partial words, phone in any form, email and CPF', async () => {
    const clinic = await createClinic();
    const cpf = randomCpf();
    const joao = await clinic.receptionist.agent.post('/api/contacts').send({ name: 'João Conceição Araújo', phone: '11 98888-7777', cpf, email: 'jca@clinica.com.br' });
    await clinic.receptionist.agent.post('/api/contacts').send({ name: 'Maria Souza', phone: '21 97777-6666' });
    const search = async (q: string) => (await clinic.receptionist.agent.get('/api/contacts').query({ search: q })).body.items.map((c: { id: string }) => c.id);
    for (const q of ['joao', 'JOÃO', 'concei', 'araujo joao', '98888-7777', '(11) 8888-7777', '+55 11 98888 7777', 'jca@clinica', cpf, `${cpf.slice(0, 3)}.${cpf.slice(3, 6)}.${cpf.slice(6, 9)}-${cpf.slice(9)}`]) {
      expect(await search(q), q).toEqual([joao.body.id]);
    }
    expect(await search('souza')).toHaveLength(1);
    expect(await search('pedro')).toEqual([]);
    expect(await search('100%_')).toEqual([]);
  });

  it('pages with a cursor and filters by status and tag', async () => {
    const clinic = await createClinic();
    for (let i = 0; i < 5; i++) await clinic.receptionist.agent.post('/api/contacts').send({ name: `P${i}`, status: i % 2 ? 'active' : 'lead', tags: i === 0 ? ['convenio'] : [] });
    const first = await clinic.receptionist.agent.get('/api/contacts').query({ limit: 2 });
    expect(first.body.items).toHaveLength(2);
    const second = await clinic.receptionist.agent.get('/api/contacts').query({ limit: 2, cursor: first.body.nextCursor });
    const third = await clinic.receptionist.agent.get('/api/contacts').query({ limit: 2, cursor: second.body.nextCursor });
    const names = [...first.body.items, ...second.body.items, ...third.body.items].map((c: { name: string }) => c.name);
    expect(names).toEqual(['P4', 'P3', 'P2', 'P1', 'P0']);
    expect(third.body.nextCursor).toBeNull();
    expect((await clinic.receptionist.agent.get('/api/contacts').query({ status: 'active' })).body.items).toHaveLength(2);
    expect((await clinic.receptionist.agent.get('/api/contacts').query({ tag: 'convenio' })).body.items.map((c: { name: string }) => c.name)).toEqual(['P0']);
  });

  it('offers offset pages with a total when ENABLE_PAGINATION is on', async () => {
    const app = await buildTestApp({ env: { ENABLE_PAGINATION: 'true' } });
    try {
      const clinic = await createClinic({ app });
      for (let i = 0; i < 3; i++) await clinic.receptionist.agent.post('/api/contacts').send({ name: `P${i}` });
      const res = await clinic.receptionist.agent.get('/api/contacts').query({ limit: 2, page: 2 });
      expect(res.body).toMatchObject({ page: 2, total: 3, nextCursor: null });
      expect(res.body.items.map((c: { name: string }) => c.name)).toEqual(['P0']);
    } finally {
      await app.close();
    }
  });

  it('updates, keeps uniqueness, and hard-deletes a patient with no history', async () => {
    const clinic = await createClinic();
    const a = await clinic.receptionist.agent.post('/api/contacts').send({ name: 'A', phone: '11 91111-1111' });
    const b = await clinic.receptionist.agent.post('/api/contacts').send({ name: 'B', phone: '11 92222-2222' });
    const taken = await clinic.receptionist.agent.patch(`/api/contacts/${b.body.id}`).send({ phone: '11911111111' });
    expect(taken.status).toBe(409);
    const ok = await clinic.receptionist.agent.patch(`/api/contacts/${b.body.id}`).send({ name: 'Bárbara', notes: 'prefere manhã' });
    expect(ok.body).toMatchObject({ name: 'Bárbara', phone: '+5511922222222', notes: 'prefere manhã' });
    expect((await clinic.receptionist.agent.get('/api/contacts').query({ search: 'barbara' })).body.items).toHaveLength(1);
    expect((await clinic.professional.agent.delete(`/api/contacts/${a.body.id}`)).status).toBe(403);
    expect((await clinic.receptionist.agent.delete(`/api/contacts/${a.body.id}`)).status).toBe(204);
    expect((await clinic.receptionist.agent.get(`/api/contacts/${a.body.id}`)).status).toBe(404);
    expect(await clinic.app.infra.db.select().from(contacts).where(eq(contacts.id, a.body.id))).toHaveLength(0);
    // The phone is free again.
    expect((await clinic.receptionist.agent.post('/api/contacts').send({ name: 'A2', phone: '11 91111-1111' })).status).toBe(201);
  });
});
