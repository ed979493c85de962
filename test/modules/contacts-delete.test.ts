import { beforeAll, describe, expect, it } from 'vitest';
import { and, eq } from 'drizzle-orm';
import { auditLog, contacts } from '../../shared/schema/index.js';
import { getTestApp } from '../helpers/app.js';
import { createClinic, type TestClinic } from '../helpers/clinic.js';
import { createPatient } from '../helpers/patients.js';

beforeAll(() => getTestApp());

async function withSignedRecord(clinic: TestClinic) {
  const patient = await createPatient(clinic);
  const record = await clinic.professional.agent.post('/api/medical-records').send({ contactId: patient.id, type: 'consultation', content: 'Cefaleia tensional.' });
  expect(record.status).toBe(201);
  await clinic.professional.agent.post(`/api/medical-records/${record.body.id}/sign`).expect(200);
  return { patient, recordId: record.body.id as string };
}

const deletions = (clinic: TestClinic, contactId: string) =>
  clinic.app.infra.db.select().from(auditLog).where(and(eq(auditLog.clinicId, clinic.id), eq(auditLog.contactId, contactId), eq(auditLog.action, 'contact.deleted')));

describe('deleting a patient with clinical history', () => {
  it('is refused with 409 has_clinical_records, for receptionists and admins; records, export and verify stay reachable', async () => {
    const clinic = await createClinic();
    const { patient, recordId } = await withSignedRecord(clinic);
    for (const member of [clinic.receptionist, clinic.admin]) {
      const res = await member.agent.delete(`/api/contacts/${patient.id}`);
      expect(res.status, member.role).toBe(409);
      expect(res.body.error.code).toBe('has_clinical_records');
    }
    const [row] = await clinic.app.infra.db.select().from(contacts).where(eq(contacts.id, patient.id));
    expect(row?.deletedAt).toBeNull();
    expect(await deletions(clinic, patient.id)).toHaveLength(0);

    const pro = clinic.professional.agent;
    const list = await pro.get(`/api/contacts/${patient.id}/medical-records`);
    expect(list.status).toBe(200);
    expect(list.body.items.map((r: { id: string }) => r.id)).toEqual([recordId]);
    expect((await pro.get(`/api/contacts/${patient.id}/export`)).status).toBe(200);
    expect((await pro.get(`/api/contacts/${patient.id}/medical-records/verify`)).status).toBe(200);
    expect((await clinic.receptionist.agent.get(`/api/contacts/${patient.id}`)).status).toBe(200);
  });

  it('is refused for a patient who was sent an anamnesis form', async () => {
    const clinic = await createClinic();
    const patient = await createPatient(clinic);
    const templates = await clinic.professional.agent.get('/api/anamnesis/templates');
    const sent = await clinic.receptionist.agent.post(`/api/contacts/${patient.id}/anamnesis`).send({ templateId: templates.body.items[0].id });
    expect(sent.status).toBe(201);
    const res = await clinic.receptionist.agent.delete(`/api/contacts/${patient.id}`);
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('has_clinical_records');
  });

  it('a patient with appointments only is still hidden (204), one with nothing is deleted', async () => {
    const clinic = await createClinic();
    const booked = await createPatient(clinic);
    const startsAt = new Date(Date.now() + 7 * 24 * 3600_000);
    startsAt.setUTCHours(13, 0, 0, 0);
    await clinic.receptionist.agent
      .post('/api/appointments')
      .send({ contactId: booked.id, professionalId: clinic.professional.id, startsAt: startsAt.toISOString(), durationMinutes: 30 })
      .expect(201);
    expect((await clinic.receptionist.agent.delete(`/api/contacts/${booked.id}`)).status).toBe(204);
    const [hidden] = await clinic.app.infra.db.select().from(contacts).where(eq(contacts.id, booked.id));
    expect(hidden?.deletedAt).toBeInstanceOf(Date);
    const nothing = await createPatient(clinic);
    expect((await clinic.receptionist.agent.delete(`/api/contacts/${nothing.id}`)).status).toBe(204);
    expect(await clinic.app.infra.db.select().from(contacts).where(eq(contacts.id, nothing.id))).toHaveLength(0);
  });
});
