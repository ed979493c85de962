import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TenantContext } from '../../server/http/context.js';
import type { Member } from '../helpers/clinic.js';
import { buildTestApp, getTestApp, type TestApp } from '../helpers/app.js';
import { anonymous, createClinic } from '../helpers/clinic.js';
import { createPatient } from '../helpers/patients.js';

beforeAll(() => getTestApp());

const ctxOf = (clinicId: string, m: Member): TenantContext => ({
  clinicId,
  actor: { type: 'user', userId: m.id, role: m.role, isProfessional: m.isProfessional },
  requestId: 'test',
  ip: '127.0.0.1',
  userAgent: 'vitest',
});

describe('clinical data stays where it belongs', () => {
  it('shows records and anamneses on the timeline to professionals only', async () => {
    const clinic = await createClinic();
    const patient = await createPatient(clinic);
    const record = await clinic.professional.agent.post('/api/medical-records').send({ contactId: patient.id, type: 'evolution', content: 'Evolução estável.' });
    const tpl = (await clinic.professional.agent.get('/api/anamnesis/templates')).body.items[0];
    const sent = await clinic.receptionist.agent.post(`/api/contacts/${patient.id}/anamnesis`).send({ templateId: tpl.id });
    const timeline = clinic.app.modules.services.timeline;

    const seen = await timeline.for(ctxOf(clinic.id, clinic.professional), patient.id);
    expect(seen.map((i) => [i.type, i.id])).toEqual(expect.arrayContaining([['medical_record', record.body.id], ['anamnesis', sent.body.id]]));
    expect(seen.find((i) => i.type === 'medical_record')?.title).toBe('Evolução');
    expect(JSON.stringify(seen)).not.toContain('Evolução estável');
    for (const member of [clinic.receptionist, clinic.admin]) expect(await timeline.for(ctxOf(clinic.id, member), patient.id)).toEqual([]);
  });

  describe('logs', () => {
    const lines: string[] = [];
    let app: TestApp;
    beforeAll(async () => {
      app = await buildTestApp({ logTo: new Writable({ write: (chunk, _enc, done) => void (lines.push(String(chunk)), done()) }) });
    });
    afterAll(() => app.close());

    it('never contain clinical text or answers, even when requests fail', async () => {
      const clinic = await createClinic({ app });
      const patient = await createPatient(clinic);
      const SECRET_NOTE = 'SEGREDO-CLINICO-7f3a';
      const SECRET_ANSWER = 'RESPOSTA-SECRETA-91bc';
      const pro = clinic.professional.agent;
      const record = await pro.post('/api/medical-records').send({ contactId: patient.id, type: 'consultation', content: SECRET_NOTE, diagnosis: SECRET_NOTE, prescriptions: [SECRET_NOTE] });
      await pro.patch(`/api/medical-records/${record.body.id}`).send({ plan: SECRET_NOTE }).expect(200);
      await pro.post(`/api/medical-records/${record.body.id}/sign`).expect(200);
      await pro.patch(`/api/medical-records/${record.body.id}`).send({ plan: SECRET_NOTE }).expect(409);
      await pro.post(`/api/medical-records/${record.body.id}/addenda`).send({ content: SECRET_NOTE }).expect(201);
      await pro.get(`/api/medical-records/${record.body.id}`).expect(200);
      await pro.get(`/api/contacts/${patient.id}/export`).expect(200);
      const tpl = await pro.post('/api/anamnesis/templates').send({ name: 'Curta', questions: [{ id: 'q', label: 'Como está?', type: 'text', required: true }, { id: 'n', label: 'Nota', type: 'scale' }] });
      const sent = await pro.post(`/api/contacts/${patient.id}/anamnesis`).send({ templateId: tpl.body.id });
      const form = anonymous(app);
      const consent = { accepted: true, version: '2026-11-v1' };
      await form.post(`/api/public/anamnesis/${sent.body.token}`).send({ answers: { q: SECRET_ANSWER, n: SECRET_ANSWER }, consent }).expect(422);
      await form.post(`/api/public/anamnesis/${sent.body.token}`).send({ answers: { q: SECRET_ANSWER }, consent }).expect(200);
      await pro.get(`/api/anamnesis/responses/${sent.body.id}`).expect(200);
      await new Promise((resolve) => setTimeout(resolve, 50));

      const text = lines.join('');
      // The capture works: request lines are there, tokens in paths are masked.
      expect(text).toContain('/api/medical-records');
      expect(text).toContain('/api/public/anamnesis/[redacted]');
      expect(text).not.toContain(SECRET_NOTE);
      expect(text).not.toContain(SECRET_ANSWER);
      expect(text).not.toContain(sent.body.token);
    });
  });
});
