import { beforeAll, describe, expect, it } from 'vitest';
import { and, eq } from 'drizzle-orm';
import { auditLog } from '../../shared/schema/index.js';
import { getTestApp, TEST_ORIGIN, type TestApp } from '../helpers/app.js';
import { createClinic, type TestClinic } from '../helpers/clinic.js';
import { createPatient } from '../helpers/patients.js';

/**
 * Fetch Metadata resource isolation: what a browser marks as cross-site and not a CORS request
 * from an allowed origin (an <img>, a form, a link on another site) gets no session from the
 * cookie the browser attaches.
 */
let app: TestApp;
let clinic: TestClinic;
let recordId: string;

beforeAll(async () => {
  app = await getTestApp();
  clinic = await createClinic({ app });
  const patient = await createPatient(clinic);
  const res = await clinic.professional.agent.post('/api/medical-records').send({ contactId: patient.id, type: 'consultation', content: 'Paciente relata cefaleia.' });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  recordId = res.body.id as string;
});

const viewedRows = async () =>
  (await app.infra.db.select().from(auditLog).where(and(eq(auditLog.clinicId, clinic.id), eq(auditLog.action, 'medical_record.viewed'), eq(auditLog.entityId, recordId)))).length;

describe('Fetch Metadata resource isolation for cookie-authenticated requests', () => {
  it('a cross-site <img> of a clinical record reads nothing and writes no "viewed" row', async () => {
    const before = await viewedRows();
    for (const [site, mode, dest] of [
      ['cross-site', 'no-cors', 'image'],
      ['cross-site', 'navigate', 'document'],
      ['same-site', 'no-cors', 'script'],
      ['cross-site', 'cors', 'empty'], // fetch() from a site that is not allowed
    ] as const) {
      const res = await clinic.professional.agent
        .get(`/api/medical-records/${recordId}`)
        .unset('Origin')
        .set({ 'Sec-Fetch-Site': site, 'Sec-Fetch-Mode': mode, 'Sec-Fetch-Dest': dest, ...(mode === 'cors' ? { Origin: 'https://evil.example' } : {}) });
      expect(res.status, `${site} ${mode} ${dest}`).toBe(401);
      expect(JSON.stringify(res.body)).not.toContain('cefaleia');
    }
    expect(await viewedRows()).toBe(before);
  });

  it('the web app (CORS from an allowed origin), same-origin pages and clients without Fetch Metadata keep their session', async () => {
    const before = await viewedRows();
    const fromApp = await clinic.professional.agent
      .get(`/api/medical-records/${recordId}`)
      .set({ Origin: TEST_ORIGIN, 'Sec-Fetch-Site': 'cross-site', 'Sec-Fetch-Mode': 'cors', 'Sec-Fetch-Dest': 'empty' });
    expect(fromApp.status).toBe(200);
    const sameOrigin = await clinic.professional.agent.get('/api/auth/me').unset('Origin').set({ 'Sec-Fetch-Site': 'same-origin', 'Sec-Fetch-Mode': 'cors' });
    expect(sameOrigin.status).toBe(200);
    const typed = await clinic.professional.agent.get('/api/auth/me').unset('Origin').set({ 'Sec-Fetch-Site': 'none', 'Sec-Fetch-Mode': 'navigate' });
    expect(typed.status).toBe(200);
    const curl = await clinic.professional.agent.get(`/api/medical-records/${recordId}`).unset('Origin');
    expect(curl.status).toBe(200);
    expect(await viewedRows()).toBe(before + 2);
  });

  it('a cross-site form post with the cookie is not a signed-in request', async () => {
    const res = await clinic.admin.agent
      .patch('/api/clinic')
      .unset('Origin')
      .set({ 'Sec-Fetch-Site': 'cross-site', 'Sec-Fetch-Mode': 'navigate', 'Sec-Fetch-Dest': 'document' })
      .send({ name: 'Invadida' });
    expect(res.status).toBe(401);
    expect((await clinic.admin.agent.get('/api/clinic')).body.name).toBe(clinic.name);
  });
});
