import { beforeAll, describe, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import { contacts } from '../../shared/schema/index.js';
import { getTestApp } from '../helpers/app.js';
import { anonymous, createClinic, type TestClinic } from '../helpers/clinic.js';
import { createPatient } from '../helpers/patients.js';

beforeAll(() => getTestApp());

/** A patient with a signed record, an addendum with an attachment, and a submitted anamnesis. */
async function patientWithHistory(clinic: TestClinic) {
  const patient = await createPatient(clinic, { cpf: '52998224725', tags: ['campanha-botox'], notes: 'Prefere WhatsApp' });
  const pro = clinic.professional.agent;
  const record = await pro.post('/api/medical-records').send({ contactId: patient.id, type: 'consultation', content: 'Hipertensão estágio 1.' });
  await pro.post(`/api/medical-records/${record.body.id}/sign`).expect(200);
  const file = await pro.post('/api/files').attach('file', Buffer.from('%PDF-1.4 ecg'), { filename: 'ecg.pdf', contentType: 'application/pdf' });
  const addendum = await pro.post(`/api/medical-records/${record.body.id}/addenda`).send({ content: 'ECG anexado.', attachmentIds: [file.body.id] });
  expect(addendum.status).toBe(201);
  const templates = await pro.get('/api/anamnesis/templates');
  const geral = templates.body.items.find((t: { name: string }) => t.name === 'Anamnese geral');
  const sent = await pro.post(`/api/contacts/${patient.id}/anamnesis`).send({ templateId: geral.id });
  const answers = { queixa_principal: 'Pressão alta', doencas_cronicas: false, usa_medicamentos: false, alergias: false, fuma: 'Nunca fumei', alcool: 'Não' };
  await anonymous(clinic.app).post(`/api/public/anamnesis/${sent.body.token}`).send({ answers, consent: { accepted: true, version: '2026-11-v1' } }).expect(200);
  const pending = await pro.post(`/api/contacts/${patient.id}/anamnesis`).send({ templateId: geral.id });
  return { patient, record: record.body, addendum: addendum.body, file: file.body, anamnesisId: sent.body.id as string, pendingToken: pending.body.token as string };
}

describe('LGPD', () => {
  it('exports everything about a patient to professionals, and audits the export', async () => {
    const clinic = await createClinic();
    const h = await patientWithHistory(clinic);
    for (const member of [clinic.receptionist, clinic.admin]) expect((await member.agent.get(`/api/contacts/${h.patient.id}/export`)).status).toBe(403);

    const res = await clinic.doctorAdmin.agent.get(`/api/contacts/${h.patient.id}/export`);
    expect(res.status).toBe(200);
    expect(res.body.contact).toMatchObject({ id: h.patient.id, name: h.patient.name, cpf: '52998224725' });
    expect(res.body.medicalRecords.map((r: { id: string }) => r.id)).toEqual([h.record.id, h.addendum.id]);
    expect(res.body.medicalRecords[0].addenda).toEqual([expect.objectContaining({ id: h.addendum.id, content: 'ECG anexado.', attachments: [expect.objectContaining({ id: h.file.id })] })]);
    expect(res.body.anamneses.find((a: { id: string }) => a.id === h.anamnesisId).answers.queixa_principal).toBe('Pressão alta');
    expect(res.body.files).toEqual([expect.objectContaining({ id: h.file.id, recordId: h.addendum.id })]);
    const actions = res.body.accessLog.map((a: { action: string }) => a.action);
    expect(actions).toEqual(expect.arrayContaining(['contact.exported', 'medical_record.signed', 'anamnesis.submitted']));
  });

  it('anonymises irreversibly (admin, explicit confirmation) and keeps clinical records intact', async () => {
    const clinic = await createClinic();
    const h = await patientWithHistory(clinic);
    const url = `/api/contacts/${h.patient.id}/anonymize`;
    expect((await clinic.professional.agent.post(url).send({ confirm: true })).status).toBe(403);
    expect((await clinic.admin.agent.post(url).send({})).status).toBe(400);
    const [untouched] = await clinic.app.infra.db.select().from(contacts).where(eq(contacts.id, h.patient.id));
    expect(untouched?.anonymizedAt).toBeNull();

    const res = await clinic.admin.agent.post(url).send({ confirm: true });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: h.patient.id, irreversible: true });
    expect(res.body.message).toContain('não podem ser recuperados');
    const [row] = await clinic.app.infra.db.select().from(contacts).where(eq(contacts.id, h.patient.id));
    expect(row).toMatchObject({ name: 'Paciente anonimizado', phone: null, email: null, cpf: null, notes: null, tags: [], status: 'inactive' });
    expect(row?.anonymizedAt).toBeInstanceOf(Date);

    const again = await clinic.admin.agent.post(url).send({ confirm: true });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('already_anonymized');
    expect((await anonymous(clinic.app).get(`/api/public/anamnesis/${h.pendingToken}`)).status).toBe(404);

    const records = await clinic.professional.agent.get(`/api/contacts/${h.patient.id}/medical-records`);
    expect(records.body.items).toHaveLength(2);
    const chain = await clinic.professional.agent.get(`/api/contacts/${h.patient.id}/medical-records/verify`);
    expect(chain.body).toMatchObject({ valid: true, checked: 2 });
    const log = await clinic.admin.agent.get(`/api/contacts/${h.patient.id}/access-log`);
    expect(log.body.items.map((i: { action: string }) => i.action)).toContain('contact.anonymized');
  });

  it('exports the patient’s appointments, and refuses to delete a patient with clinical history (even a draft)', async () => {
    const clinic = await createClinic();
    const h = await patientWithHistory(clinic);
    const startsAt = new Date(Date.now() + 7 * 24 * 3600_000);
    startsAt.setUTCHours(13, 0, 0, 0);
    const booked = await clinic.receptionist.agent
      .post('/api/appointments')
      .send({ contactId: h.patient.id, professionalId: clinic.professional.id, startsAt: startsAt.toISOString(), durationMinutes: 30 });
    expect(booked.status).toBe(201);
    const exported = await clinic.doctorAdmin.agent.get(`/api/contacts/${h.patient.id}/export`);
    expect(exported.body.appointments.map((a: { id: string }) => a.id)).toEqual([booked.body.id]);

    const records = await createPatient(clinic);
    const draft = await clinic.professional.agent.post('/api/medical-records').send({ contactId: records.id, type: 'note', content: 'Rascunho.' });
    expect(draft.status).toBe(201);
    const refused = await clinic.receptionist.agent.delete(`/api/contacts/${records.id}`);
    expect(refused.status).toBe(409);
    expect(refused.body.error.code).toBe('has_clinical_records');
    const [kept] = await clinic.app.infra.db.select().from(contacts).where(eq(contacts.id, records.id));
    expect(kept?.deletedAt).toBeNull();
    expect((await clinic.receptionist.agent.get(`/api/contacts/${records.id}`)).status).toBe(200);
  });
});
