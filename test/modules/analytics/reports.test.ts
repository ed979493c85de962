import { eq } from 'drizzle-orm';
import { beforeAll, describe, expect, it } from 'vitest';
import { appointments, users } from '../../../shared/schema/index.js';
import { ClinicData } from '../../../server/infra/clinic-data.js';
import { anonymous, createClinic, type TestClinic } from '../../helpers/clinic.js';
import { createPatient } from '../../helpers/patients.js';

/** Caching, CSV, who sees what, and the ranges refused. Figures themselves: figures.test.ts. */
let clinic: TestClinic;
let other: TestClinic;
const WEEK = { from: '2030-03-18', to: '2030-03-24' };
const PREVIOUS_DAY = (d: number) => `2030-03-${String(d).padStart(2, '0')}T10:00:00-03:00`;

/** An appointment stored directly: no event, as if it had been written behind the cache's back. */
async function storeAppointment(c: TestClinic, startsAt: string, status: 'completed' | 'no_show', priceCents: number | null = null) {
  const contact = await createPatient(c);
  await new ClinicData(c.id, c.app.infra.db).insert(appointments, {
    contactId: contact.id,
    professionalId: c.professional.id,
    startsAt: new Date(startsAt),
    endsAt: new Date(new Date(startsAt).getTime() + 30 * 60_000),
    status,
    priceCents,
    paymentStatus: 'paid',
  });
}

beforeAll(async () => {
  [clinic, other] = await Promise.all([createClinic(), createClinic()]);
  // A name Excel must read whole: accents, quotes and the separator itself.
  await clinic.app.infra.db.update(users).set({ name: 'Júlia "Ju"; Ávila' }).where(eq(users.id, clinic.professional.id));
  // Current week: one no-show, one completed (R$ 150,00). Previous week: one no-show, three completed.
  await storeAppointment(clinic, '2030-03-19T10:00:00-03:00', 'no_show');
  await storeAppointment(clinic, '2030-03-20T10:00:00-03:00', 'completed', 15_000);
  for (const [d, status] of [[11, 'no_show'], [12, 'completed'], [13, 'completed'], [14, 'completed']] as const) await storeAppointment(clinic, PREVIOUS_DAY(d), status, 10_000);
}, 60_000);

describe('analytics cache', () => {
  it('answers from the cache until an event of the clinic invalidates it', async () => {
    const c = await createClinic();
    const total = async () => (await c.admin.agent.get('/api/analytics/appointments').query(WEEK)).body.current.total.total as number;
    expect(await total()).toBe(0);
    const hits = c.app.infra.cache.stats.hits;
    await storeAppointment(c, '2030-03-19T09:00:00-03:00', 'completed');
    expect(await total(), 'cached: the stored row published nothing').toBe(0);
    expect(c.app.infra.cache.stats.hits).toBeGreaterThan(hits);

    const patient = await createPatient(c);
    const booked = await c.receptionist.agent
      .post('/api/appointments')
      .send({ contactId: patient.id, professionalId: c.professional.id, startsAt: '2030-03-21T14:00:00-03:00', durationMinutes: 30 });
    expect(booked.status).toBe(201);
    await c.app.infra.events.flush();
    expect(await total(), 'appointment.created dropped the cached reports').toBe(2);
  });

  it('another clinic’s event leaves a clinic’s cached reports alone', async () => {
    const c = await createClinic();
    const total = async () => (await c.admin.agent.get('/api/analytics/appointments').query(WEEK)).body.current.total.total as number;
    expect(await total()).toBe(0);
    await storeAppointment(c, '2030-03-19T09:00:00-03:00', 'completed');
    const patient = await createPatient(other);
    await other.receptionist.agent.post('/api/appointments').send({ contactId: patient.id, professionalId: other.professional.id, startsAt: '2030-03-21T15:00:00-03:00', durationMinutes: 30 });
    await other.app.infra.events.flush();
    expect(await total()).toBe(0);
  });
});

describe('CSV', () => {
  const header = 'Indicador;Profissional;Período atual (18/03/2030 a 24/03/2030);Período anterior (11/03/2030 a 17/03/2030);Variação (%)';

  it('is UTF-8 with a BOM, `;`-separated, decimal commas, pt-BR headers, names quoted when needed', async () => {
    const res = await clinic.admin.agent.get('/api/analytics/appointments').query({ ...WEEK, format: 'csv' }).buffer(true).parse((r, done) => {
      const chunks: Buffer[] = [];
      r.on('data', (c: Buffer) => chunks.push(c));
      r.on('end', () => done(null, Buffer.concat(chunks)));
    });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/csv; charset=utf-8');
    expect(res.headers['content-disposition']).toBe('attachment; filename="operabase-appointments-2030-03-18_2030-03-24.csv"');
    const bytes = res.body as Buffer;
    expect([...bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const text = bytes.subarray(3).toString('utf8');
    // "í" is two bytes in UTF-8, as Excel must read it.
    expect(bytes.includes(Buffer.from('Clínica', 'utf8'))).toBe(true);
    const lines = text.split('\r\n');
    expect(lines[0]).toBe(header);
    expect(lines).toContain('Consultas;Clínica (total);2;4;-50,0');
    expect(lines).toContain('Taxa de faltas (%);Clínica (total);50,0;25,0;100,0');
    expect(lines).toContain('Taxa de faltas (%);"Júlia ""Ju""; Ávila";50,0;25,0;100,0');
    expect(lines).toContain('Taxa de confirmação (%);Clínica (total);50,0;75,0;-33,3');
  });

  it('is chosen by Accept: text/csv too; revenue in reais', async () => {
    const res = await clinic.admin.agent.get('/api/analytics/revenue').query(WEEK).set('Accept', 'text/csv');
    expect(res.headers['content-type']).toBe('text/csv; charset=utf-8');
    expect(res.text.split('\r\n')).toContain('Receita (R$);Clínica (total);150,00;300,00;-50,0');
    const json = await clinic.admin.agent.get('/api/analytics/revenue').query(WEEK).set('Accept', 'application/json');
    expect(json.body.current.total.revenueCents).toBe(15_000);
  });

  it('the dashboard CSV names each line’s report; revenue lines for admins only', async () => {
    const admin = await clinic.admin.agent.get('/api/analytics/dashboard').query({ ...WEEK, format: 'csv' });
    expect(admin.text.split('\r\n')[0]).toBe(`\uFEFFRelatório;${header}`);
    expect(admin.text).toContain('\r\nAgenda;Consultas;Clínica (total);2;4;-50,0\r\n');
    expect(admin.text).toContain('\r\nFinanceiro;Receita (R$);Clínica (total);150,00;300,00;-50,0\r\n');
    const receptionist = await clinic.receptionist.agent.get('/api/analytics/dashboard').query({ ...WEEK, format: 'csv' });
    expect(receptionist.status).toBe(200);
    expect(receptionist.text).toContain('Agenda;Consultas;Clínica (total);2;4;-50,0');
    expect(receptionist.text).not.toContain('Financeiro');
    expect(receptionist.text).not.toContain('R$');
  });
});

describe('financial figures', () => {
  it('the dashboard carries revenue for admins only', async () => {
    for (const m of [clinic.admin, clinic.doctorAdmin]) expect((await m.agent.get('/api/analytics/dashboard').query(WEEK)).body.revenue.current.total.revenueCents).toBe(15_000);
    for (const m of [clinic.professional, clinic.receptionist]) {
      const res = await m.agent.get('/api/analytics/dashboard').query(WEEK);
      expect(res.status).toBe(200);
      expect(res.body).not.toHaveProperty('revenue');
      expect(JSON.stringify(res.body)).not.toMatch(/Cents|price/i);
    }
  });
});

describe('access', () => {
  const ROUTES = ['dashboard', 'appointments', 'contacts', 'pipeline', 'messaging', 'revenue'];
  it('answers each role as the table says', async () => {
    // admin, doctor-admin, professional, receptionist
    const table: Record<string, number[]> = {
      dashboard: [200, 200, 200, 200],
      appointments: [200, 200, 200, 200],
      contacts: [200, 200, 200, 200],
      pipeline: [200, 200, 200, 200],
      messaging: [200, 200, 200, 200],
      revenue: [200, 200, 403, 403],
    };
    for (const r of ROUTES) {
      const got = [];
      for (const m of [clinic.admin, clinic.doctorAdmin, clinic.professional, clinic.receptionist]) got.push((await m.agent.get(`/api/analytics/${r}`).query(WEEK)).status);
      expect(got, r).toEqual(table[r]);
      expect((await anonymous(clinic.app).get(`/api/analytics/${r}`).query(WEEK)).status).toBe(401);
    }
  });

  it('an API key reads the operational reports with analytics:read and can never hold the financial one', async () => {
    const created = await clinic.admin.agent.post('/api/api-keys').send({ name: 'BI', scopes: ['analytics:read'] });
    expect(created.status).toBe(201);
    const bearer = anonymous(clinic.app).set('Authorization', `Bearer ${created.body.key}`);
    expect((await bearer.get('/api/analytics/appointments').query(WEEK)).body.current.total.total).toBe(2);
    const dashboard = await anonymous(clinic.app).get('/api/analytics/dashboard').set('Authorization', `Bearer ${created.body.key}`).query(WEEK);
    expect(dashboard.status).toBe(200);
    expect(dashboard.body).not.toHaveProperty('revenue');
    expect((await anonymous(clinic.app).get('/api/analytics/revenue').set('Authorization', `Bearer ${created.body.key}`).query(WEEK)).status).toBe(403);
    expect((await clinic.admin.agent.post('/api/api-keys').send({ name: 'BI', scopes: ['analytics:financial'] })).status).toBe(400);
  });
});

describe('bad ranges', () => {
  const get = (query: Record<string, string>) => clinic.admin.agent.get('/api/analytics/appointments').query(query);

  it('refuses from after to, more than two years, and dates that are not days', async () => {
    const cases: [Record<string, string>, string][] = [
      [{ from: '2026-03-09', to: '2026-03-08' }, 'invalid_range'],
      [{ from: '2024-01-01', to: '2026-01-01' }, 'invalid_range'],
      [{ from: '2024-02-29', to: '2026-03-01' }, 'invalid_range'],
      [{ from: '2026-02-30', to: '2026-03-08' }, 'validation_failed'],
      [{ from: 'ontem', to: '2026-03-08' }, 'validation_failed'],
      [{ from: '2026-03-01' }, 'validation_failed'],
      [{ from: '0000-01-01', to: '0001-01-01' }, 'validation_failed'],
      [{ ...WEEK, format: 'xlsx' }, 'validation_failed'],
      [{ ...WEEK, professionalId: 'nao-e-uuid' }, 'validation_failed'],
    ];
    for (const [query, code] of cases) {
      const res = await get(query);
      expect(res.status, JSON.stringify(query)).toBe(400);
      expect(res.body.error.code, JSON.stringify(query)).toBe(code);
    }
    expect((await get({ from: '2024-01-01', to: '2025-12-31' })).status).toBe(200);
    expect((await get({ from: '2024-02-29', to: '2026-02-28' })).status).toBe(200);
    expect((await get({ from: '2026-03-08', to: '2026-03-08' })).status).toBe(200);
  });

  it('another clinic’s professional is a 404', async () => {
    const res = await get({ ...WEEK, professionalId: other.professional.id });
    expect(res.status).toBe(404);
  });
});
