import { beforeAll, describe, expect, it } from 'vitest';
import { and, eq } from 'drizzle-orm';
import { auditLog, medicalRecords } from '../../shared/schema/index.js';
import { getTestApp } from '../helpers/app.js';
import { createClinic, type TestClinic } from '../helpers/clinic.js';
import { createPatient } from '../helpers/patients.js';
import { draftRecord, signedRecord } from '../helpers/records.js';

/** drizzle wraps the driver's error; the trigger's message is on the cause. */
const refusedWith = (message: string) => (err: unknown) => String((err as { cause?: { message?: string } }).cause?.message).includes(message);

const auditActions = async (clinic: TestClinic, contactId: string) =>
  (await clinic.app.infra.db.select({ action: auditLog.action, actorId: auditLog.actorId }).from(auditLog).where(and(eq(auditLog.clinicId, clinic.id), eq(auditLog.contactId, contactId)))).map((r) => r.action);

// The worker's app (and its embedded database) is created once, outside the tests' time budget.
beforeAll(() => getTestApp());

describe('medical records', () => {
  it('lets the author edit a draft, sign it, and then refuses every change with 409 record_signed', async () => {
    const clinic = await createClinic();
    const patient = await createPatient(clinic);
    const record = await draftRecord(clinic, patient.id);
    expect(record.status).toBe('draft');

    const edited = await clinic.professional.agent.patch(`/api/medical-records/${record.id}`).send({ diagnosis: 'Cefaleia tensional', examRequests: ['Hemograma'] });
    expect(edited.status).toBe(200);
    expect(edited.body.diagnosis).toBe('Cefaleia tensional');

    const other = await clinic.doctorAdmin.agent.patch(`/api/medical-records/${record.id}`).send({ diagnosis: 'Outra coisa' });
    expect(other.status).toBe(403);
    expect(other.body.error.code).toBe('not_record_author');
    const othersSign = await clinic.doctorAdmin.agent.post(`/api/medical-records/${record.id}/sign`);
    expect(othersSign.status).toBe(403);

    const addendumToDraft = await clinic.professional.agent.post(`/api/medical-records/${record.id}/addenda`).send({ content: 'Correção' });
    expect(addendumToDraft.status).toBe(409);
    expect(addendumToDraft.body.error.code).toBe('record_not_signed');

    const sign = await clinic.professional.agent.post(`/api/medical-records/${record.id}/sign`);
    expect(sign.status).toBe(200);
    expect(sign.body.status).toBe('signed');
    expect(sign.body.contentHash).toMatch(/^[0-9a-f]{64}$/);

    const afterSign = await clinic.professional.agent.patch(`/api/medical-records/${record.id}`).send({ diagnosis: 'Mudado' });
    expect(afterSign.status).toBe(409);
    expect(afterSign.body.error.code).toBe('record_signed');
    expect((await clinic.professional.agent.post(`/api/medical-records/${record.id}/sign`)).status).toBe(409);

    const shown = await clinic.professional.agent.get(`/api/medical-records/${record.id}`);
    expect(shown.body.diagnosis).toBe('Cefaleia tensional');
  });

  it('corrects a signed record with an addendum that is itself frozen and chained', async () => {
    const clinic = await createClinic();
    const patient = await createPatient(clinic);
    const original = await signedRecord(clinic, patient.id);
    const addendum = await clinic.doctorAdmin.agent.post(`/api/medical-records/${original.id}/addenda`).send({ content: 'Adendo: dose corrigida para 750 mg.' });
    expect(addendum.status).toBe(201);
    expect(addendum.body.addendumOf).toBe(original.id);
    expect(addendum.body.status).toBe('signed');
    expect(addendum.body.previousHash).toBe(original.contentHash);
    expect((await clinic.doctorAdmin.agent.patch(`/api/medical-records/${addendum.body.id}`).send({ content: 'x' })).body.error.code).toBe('record_signed');

    const shown = await clinic.professional.agent.get(`/api/medical-records/${original.id}`);
    // A clinician reads the record with its corrections: content, author and signature inline.
    expect(shown.body.addenda).toEqual([
      { id: addendum.body.id, content: 'Adendo: dose corrigida para 750 mg.', authorId: clinic.doctorAdmin.id, authorName: clinic.doctorAdmin.name, signedAt: addendum.body.signedAt, attachments: [] },
    ]);
    expect(shown.body.addenda[0].signedAt).toMatch(/^\d{4}-\d{2}-\d{2}T/);
    const list = await clinic.professional.agent.get(`/api/contacts/${patient.id}/medical-records`);
    expect(list.body.items.map((r: { id: string }) => r.id)).toEqual([addendum.body.id, original.id]);
  });

  it('has the database refuse UPDATE and DELETE of signed records, whatever the code does', async () => {
    const clinic = await createClinic();
    const patient = await createPatient(clinic);
    const record = await signedRecord(clinic, patient.id);
    const db = clinic.app.infra.db;
    await expect(db.update(medicalRecords).set({ diagnosis: 'adulterado' }).where(eq(medicalRecords.id, record.id))).rejects.toSatisfy(refusedWith('record_signed'));
    await expect(db.delete(medicalRecords).where(eq(medicalRecords.id, record.id))).rejects.toSatisfy(refusedWith('record_signed'));
    const [row] = await db.select().from(medicalRecords).where(eq(medicalRecords.id, record.id));
    expect(row?.diagnosis).toBeNull();
    // A draft is still editable at the database level.
    const open = await draftRecord(clinic, patient.id);
    await db.update(medicalRecords).set({ plan: 'Retorno em 15 dias' }).where(eq(medicalRecords.id, open.id));
  });

  it('keeps records away from receptionists and non-professional admins, and 404s across clinics', async () => {
    const clinic = await createClinic();
    const other = await createClinic();
    const patient = await createPatient(clinic);
    const record = await signedRecord(clinic, patient.id);
    for (const member of [clinic.receptionist, clinic.admin]) {
      expect((await member.agent.get(`/api/medical-records/${record.id}`)).status).toBe(403);
      expect((await member.agent.get(`/api/contacts/${patient.id}/medical-records`)).status).toBe(403);
      expect((await member.agent.post('/api/medical-records').send({ contactId: patient.id, type: 'note', content: 'x' })).status).toBe(403);
    }
    const foreign = await other.professional.agent.post('/api/medical-records').send({ contactId: patient.id, type: 'note', content: 'x' });
    expect(foreign.status).toBe(404);
    const count = await clinic.app.infra.db.select({ id: medicalRecords.id }).from(medicalRecords).where(eq(medicalRecords.contactId, patient.id));
    expect(count).toHaveLength(1);
  });

  it('refuses bad input with a 4xx and changes nothing', async () => {
    const clinic = await createClinic();
    const patient = await createPatient(clinic);
    const agent = clinic.professional.agent;
    const bad = [
      { contactId: patient.id, type: 'surgery', content: 'x' },
      { contactId: patient.id, type: 'note', content: 'x'.repeat(20_001) },
      { contactId: patient.id, type: 'note', prescriptions: 'Dipirona' },
      { contactId: patient.id, type: 'note', vitalSigns: { temperature: 90 } },
      { contactId: 'not-a-uuid', type: 'note' },
      { contactId: patient.id, type: 'note', clinicId: clinic.id },
      { contactId: patient.id, type: 'note', attachmentIds: ['00000000-0000-4000-8000-000000000000'] },
    ];
    for (const body of bad) {
      const res = await agent.post('/api/medical-records').send(body);
      expect(res.status, JSON.stringify(body).slice(0, 80)).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
    }
    const rows = await clinic.app.infra.db.select({ id: medicalRecords.id }).from(medicalRecords).where(eq(medicalRecords.contactId, patient.id));
    expect(rows).toHaveLength(0);
  });

  it('attaches files readable only by professionals, audited, frozen once signed', async () => {
    const clinic = await createClinic();
    const patient = await createPatient(clinic);
    const upload = await clinic.receptionist.agent.post('/api/files').attach('file', Buffer.from('%PDF-1.4 laudo'), { filename: 'laudo.pdf', contentType: 'application/pdf' });
    expect(upload.status).toBe(201);
    const unknownType = await clinic.professional.agent.post('/api/files').attach('file', Buffer.from('MZ'), { filename: 'virus.exe', contentType: 'application/x-msdownload' });
    expect(unknownType.status).toBe(415);

    const record = await draftRecord(clinic, patient.id, { attachmentIds: [upload.body.id] });
    const shown = await clinic.professional.agent.get(`/api/medical-records/${record.id}`);
    expect(shown.body.attachments).toEqual([expect.objectContaining({ id: upload.body.id, filename: 'laudo.pdf' })]);

    expect((await clinic.receptionist.agent.get(`/api/files/${upload.body.id}`)).status).toBe(403);
    expect((await clinic.admin.agent.get(`/api/files/${upload.body.id}`)).status).toBe(403);
    expect((await clinic.professional.agent.get(`/api/files/${upload.body.id}`)).status).toBe(302);
    expect((await clinic.professional.agent.delete(`/api/files/${upload.body.id}`)).status).toBe(409);

    await clinic.professional.agent.post(`/api/medical-records/${record.id}/sign`).expect(200);
    const again = await draftRecord(clinic, patient.id, { attachmentIds: [upload.body.id] }).catch(() => null);
    expect(again).toBeNull();
    expect(await auditActions(clinic, patient.id)).toContain('medical_record.attachment_viewed');
  });

  it('audits every read and write with the patient, shown by the access log', async () => {
    const clinic = await createClinic();
    const patient = await createPatient(clinic);
    const record = await signedRecord(clinic, patient.id);
    await clinic.professional.agent.get(`/api/contacts/${patient.id}/medical-records`).expect(200);
    await clinic.doctorAdmin.agent.get(`/api/medical-records/${record.id}`).expect(200);
    await clinic.professional.agent.get(`/api/contacts/${patient.id}/medical-records/verify`).expect(200);

    const log = await clinic.admin.agent.get(`/api/contacts/${patient.id}/access-log`);
    expect(log.status).toBe(200);
    const actions = log.body.items.map((i: { action: string }) => i.action);
    expect(actions).toEqual(expect.arrayContaining(['medical_record.created', 'medical_record.signed', 'medical_record.listed', 'medical_record.viewed', 'medical_record.chain_verified']));
    const viewed = log.body.items.find((i: { action: string }) => i.action === 'medical_record.viewed');
    expect(viewed).toMatchObject({ actorId: clinic.doctorAdmin.id, actorRole: 'admin', entityId: record.id, contactId: patient.id });
    expect(viewed.ip).toBeTruthy();
    expect((await clinic.receptionist.agent.get(`/api/contacts/${patient.id}/access-log`)).status).toBe(403);
  });

  it('keeps the audit log append-only in the database', async () => {
    const clinic = await createClinic();
    await signedRecord(clinic, (await createPatient(clinic)).id);
    const db = clinic.app.infra.db;
    await expect(db.update(auditLog).set({ action: 'x' }).where(eq(auditLog.clinicId, clinic.id))).rejects.toSatisfy(refusedWith('audit_append_only'));
    await expect(db.delete(auditLog).where(eq(auditLog.clinicId, clinic.id))).rejects.toSatisfy(refusedWith('audit_append_only'));
  });
});

describe('a record linked to an appointment', () => {
  const book = async (clinic: TestClinic, contactId: string, hour = 10) => {
    const res = await clinic.receptionist.agent.post('/api/appointments').send({ contactId, professionalId: clinic.professional.id, startsAt: `2030-03-11T${hour}:00:00-03:00`, durationMinutes: 30 });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return res.body.id as string;
  };

  it('accepts only an appointment of the same clinic (404) and the same patient (422), also in the database', async () => {
    const clinic = await createClinic();
    const other = await createClinic();
    const patient = await createPatient(clinic);
    const foreignAppointment = await book(other, (await createPatient(other)).id);
    const otherPatientsAppointment = await book(clinic, (await createPatient(clinic)).id);

    const foreign = await clinic.professional.agent.post('/api/medical-records').send({ contactId: patient.id, appointmentId: foreignAppointment, type: 'note', content: 'x' });
    expect(foreign.status).toBe(404);
    const mismatch = await clinic.professional.agent.post('/api/medical-records').send({ contactId: patient.id, appointmentId: otherPatientsAppointment, type: 'note', content: 'x' });
    expect(mismatch.status).toBe(422);
    expect(mismatch.body.error.code).toBe('appointment_of_another_patient');
    const db = clinic.app.infra.db;
    expect(await db.select({ id: medicalRecords.id }).from(medicalRecords).where(eq(medicalRecords.contactId, patient.id))).toHaveLength(0);

    const own = await book(clinic, patient.id, 11);
    const record = await draftRecord(clinic, patient.id, { appointmentId: own });
    expect((await clinic.professional.agent.get(`/api/medical-records/${record.id}`)).body.appointmentId).toBe(own);
    const moved = await clinic.professional.agent.patch(`/api/medical-records/${record.id}`).send({ appointmentId: foreignAppointment });
    expect(moved.status).toBe(404);
    expect((await clinic.professional.agent.get(`/api/medical-records/${record.id}`)).body.appointmentId).toBe(own);

    // The composite foreign key refuses it even when the code is bypassed.
    await expect(db.update(medicalRecords).set({ appointmentId: foreignAppointment }).where(eq(medicalRecords.id, record.id))).rejects.toSatisfy(
      (err: unknown) => (err as { cause?: { code?: string } }).cause?.code === '23503',
    );
    // An appointment a record points at is not deleted from under it.
    const removed = await clinic.receptionist.agent.delete(`/api/appointments/${own}`);
    expect(removed.status).toBe(409);
    expect((await clinic.professional.agent.get(`/api/appointments/${own}`)).status).toBe(200);
  });
});
