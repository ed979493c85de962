import { expect } from 'vitest';
import type { TestClinic } from './clinic.js';

/** A draft record written by the clinic's professional. */
export async function draftRecord(clinic: TestClinic, contactId: string, fields: Record<string, unknown> = {}) {
  const res = await clinic.professional.agent
    .post('/api/medical-records')
    .send({ contactId, type: 'consultation', content: 'Paciente relata cefaleia há 3 dias.', chiefComplaint: 'Cefaleia', prescriptions: ['Dipirona 500 mg 6/6h'], vitalSigns: { systolic: 120, diastolic: 80, temperature: 36.5 }, ...fields });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body as { id: string; status: string };
}

/** A record written and signed by the clinic's professional. */
export async function signedRecord(clinic: TestClinic, contactId: string, fields: Record<string, unknown> = {}) {
  const record = await draftRecord(clinic, contactId, fields);
  const res = await clinic.professional.agent.post(`/api/medical-records/${record.id}/sign`);
  expect(res.status).toBe(200);
  return res.body as { id: string; contentHash: string; previousHash: string | null; signedAt: string };
}

/** A file uploaded through the API; its id. */
export async function uploadFile(clinic: TestClinic, bytes: string, filename = 'laudo.pdf', contentType = 'application/pdf') {
  const res = await clinic.professional.agent.post('/api/files').attach('file', Buffer.from(bytes), { filename, contentType });
  expect(res.status).toBe(201);
  return res.body.id as string;
}
