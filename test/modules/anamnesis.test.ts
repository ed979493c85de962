import { beforeAll, describe, expect, it } from 'vitest';
import { and, eq } from 'drizzle-orm';
import { questionList } from '../../shared/api/anamnesis.js';
import { anamnesisResponses, auditLog } from '../../shared/schema/index.js';
import { DEFAULT_TEMPLATES } from '../../server/modules/anamnesis/defaults.js';
import { getTestApp } from '../helpers/app.js';
import { anonymous, createClinic, type TestClinic } from '../helpers/clinic.js';
import { createPatient } from '../helpers/patients.js';

const QUESTIONS = [
  { id: 'queixa', label: 'Qual o motivo da consulta?', type: 'textarea', required: true },
  { id: 'alergia', label: 'Tem alergias?', type: 'yes_no', required: true },
  { id: 'alergia_qual', label: 'A quê?', type: 'text', required: true, showIf: { questionId: 'alergia', equals: true } },
  { id: 'fuma', label: 'Fuma?', type: 'single', options: ['Não', 'Sim'], required: true },
  { id: 'sintomas', label: 'Sintomas', type: 'multi', options: ['Febre', 'Tosse', 'Dor'] },
  { id: 'dor', label: 'Dor (0-10)', type: 'scale', min: 0, max: 10 },
  { id: 'peso', label: 'Peso (kg)', type: 'number', min: 1, max: 400 },
  { id: 'nascimento', label: 'Nascimento', type: 'date' },
];
const CONSENT = { accepted: true, version: '2026-11-v1' };
const VALID = { queixa: 'Dor de cabeça', alergia: true, alergia_qual: 'Penicilina', fuma: 'Não', sintomas: ['Dor'], dor: 6, peso: 72.5, nascimento: '1990-05-17' };

async function sendForm(clinic: TestClinic, questions: unknown[] = QUESTIONS) {
  const patient = await createPatient(clinic);
  const tpl = await clinic.professional.agent.post('/api/anamnesis/templates').send({ name: 'Primeira consulta', questions });
  expect(tpl.status, JSON.stringify(tpl.body)).toBe(201);
  const sent = await clinic.receptionist.agent.post(`/api/contacts/${patient.id}/anamnesis`).send({ templateId: tpl.body.id });
  expect(sent.status).toBe(201);
  return { patient, template: tpl.body, sent: sent.body as { id: string; token: string; url: string; expiresAt: string } };
}

// The worker's app (and its embedded database) is created once, outside the tests' time budget.
beforeAll(() => getTestApp());

describe('anamnesis', () => {
  it('starts each clinic with the three default templates in Portuguese, once', async () => {
    const clinic = await createClinic();
    const [first, second] = await Promise.all([clinic.receptionist.agent.get('/api/anamnesis/templates'), clinic.professional.agent.get('/api/anamnesis/templates')]);
    expect(first.status).toBe(200);
    expect(second.body.items).toHaveLength(3);
    expect(first.body.items.map((t: { name: string }) => t.name).sort()).toEqual(['Anamnese geral', 'Anamnese odontológica', 'Anamnese psicológica']);
    for (const t of DEFAULT_TEMPLATES) expect(questionList.safeParse(t.questions).success, t.key).toBe(true);
    const again = await clinic.professional.agent.get('/api/anamnesis/templates');
    expect(again.body.items).toHaveLength(3);
  });

  it('sends a link from PUBLIC_APP_URL valid 30 days; the patient saves, resumes and submits once', async () => {
    const clinic = await createClinic();
    const { patient, sent } = await sendForm(clinic);
    expect(sent.url).toBe(`http://app.test/anamnese/${sent.token}`);
    const days = (Date.parse(sent.expiresAt) - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(29.9);
    expect(days).toBeLessThan(30.1);

    const patientAgent = anonymous(clinic.app);
    const form = await patientAgent.get(`/api/public/anamnesis/${sent.token}`);
    expect(form.status).toBe(200);
    expect(form.body.questions).toHaveLength(QUESTIONS.length);
    expect(form.body.consent).toMatchObject({ version: '2026-11-v1', given: false });
    expect(form.body.consent.text).toContain('Lei Geral de Proteção de Dados');

    const noConsent = await patientAgent.post(`/api/public/anamnesis/${sent.token}`).send({ answers: { queixa: 'x' }, submit: false });
    expect(noConsent.status).toBe(422);
    expect(noConsent.body.error.code).toBe('consent_required');

    const partial = await patientAgent.post(`/api/public/anamnesis/${sent.token}`).send({ answers: { queixa: 'Dor de cabeça' }, submit: false, consent: CONSENT });
    expect(partial.status).toBe(200);
    expect(partial.body.status).toBe('in_progress');
    expect(partial.body.resumeSecret).toMatch(/^[\w-]{43}$/);
    const secret = { 'X-Resume-Secret': partial.body.resumeSecret as string };
    const resumed = await patientAgent.get(`/api/public/anamnesis/${sent.token}`).set(secret);
    expect(resumed.body.answers).toEqual({ queixa: 'Dor de cabeça' });
    expect(resumed.body.consent.given).toBe(true);

    const missing = await patientAgent.post(`/api/public/anamnesis/${sent.token}`).set(secret).send({ answers: { alergia: true } });
    expect(missing.status).toBe(422);
    expect(missing.body.error.details.questions).toEqual({ alergia_qual: 'required', fuma: 'required' });

    const done = await patientAgent.post(`/api/public/anamnesis/${sent.token}`).set(secret).send({ answers: VALID });
    expect(done.status).toBe(200);
    expect(done.body.status).toBe('submitted');
    const twice = await patientAgent.post(`/api/public/anamnesis/${sent.token}`).set(secret).send({ answers: VALID });
    expect(twice.status).toBe(409);
    expect((await patientAgent.get(`/api/public/anamnesis/${sent.token}`).set(secret)).status).toBe(409);

    const shown = await clinic.professional.agent.get(`/api/anamnesis/responses/${sent.id}`);
    expect(shown.status).toBe(200);
    expect(shown.body.answers).toEqual(VALID);
    expect(shown.body.consent).toMatchObject({ version: '2026-11-v1' });
    expect(shown.body.consent.ip).toBeTruthy();
    const list = await clinic.professional.agent.get(`/api/contacts/${patient.id}/anamnesis`);
    expect(list.body.items).toEqual([expect.objectContaining({ id: sent.id, status: 'submitted', templateVersion: 1 })]);

    const log = await clinic.admin.agent.get(`/api/contacts/${patient.id}/access-log`);
    const actions = log.body.items.map((i: { action: string }) => i.action);
    expect(actions).toEqual(expect.arrayContaining(['anamnesis.sent', 'anamnesis.saved', 'anamnesis.submitted', 'anamnesis.viewed', 'anamnesis.listed']));
  });

  it('never shows saved answers to the link alone: only the device that gave consent resumes, nothing after submission', async () => {
    const clinic = await createClinic();
    const { sent } = await sendForm(clinic);
    // What the sender (a receptionist) got is the link, nothing that reads answers.
    expect(Object.keys(sent).sort()).toEqual(['expiresAt', 'id', 'token', 'url']);
    const link = `/api/public/anamnesis/${sent.token}`;
    const patient = anonymous(clinic.app);
    const sender = anonymous(clinic.app);
    const SECRET = 'sim, desde 2019, em tratamento';

    const started = await patient.post(link).send({ answers: { queixa: SECRET }, submit: false, consent: CONSENT });
    expect(started.status).toBe(200);
    const secret = { 'X-Resume-Secret': started.body.resumeSecret as string };

    for (const headers of [{}, { 'X-Resume-Secret': 'x'.repeat(43) }]) {
      const peek = await sender.get(link).set(headers);
      expect(peek.status).toBe(200);
      expect(peek.body).toMatchObject({ answers: {}, startedOnAnotherDevice: true, consent: { given: false } });
      expect(JSON.stringify(peek.body)).not.toContain(SECRET);
      const write = await sender.post(link).set(headers).send({ answers: { queixa: 'alterado' }, submit: false });
      expect(write.status).toBe(403);
      expect(write.body.error.code).toBe('anamnesis_started_elsewhere');
    }
    expect((await patient.get(link).set(secret)).body.answers).toEqual({ queixa: SECRET });

    // Accepting the consent elsewhere starts afresh: the first device's answers are discarded, not handed over.
    const restarted = await sender.post(link).send({ answers: {}, submit: false, consent: CONSENT });
    expect(restarted.status).toBe(200);
    const senderView = await sender.get(link).set({ 'X-Resume-Secret': restarted.body.resumeSecret as string });
    expect(senderView.body).toMatchObject({ answers: {}, consent: { given: true }, startedOnAnotherDevice: false });
    const [row] = await clinic.app.infra.db.select().from(anamnesisResponses).where(eq(anamnesisResponses.id, sent.id));
    expect(JSON.stringify(row?.answers)).not.toContain(SECRET);
    expect((await patient.get(link).set(secret)).body).toMatchObject({ answers: {}, startedOnAnotherDevice: true });

    // The patient takes it back, submits, and from then on the link shows nothing to anyone.
    const again = await patient.post(link).send({ answers: { queixa: SECRET }, submit: false, consent: CONSENT });
    const mine = { 'X-Resume-Secret': again.body.resumeSecret as string };
    await patient.post(link).set(mine).send({ answers: VALID }).expect(200);
    for (const agent of [patient, sender]) {
      const after = await agent.get(link).set(mine);
      expect(after.status).toBe(409);
      expect(JSON.stringify(after.body)).not.toContain(VALID.queixa);
    }
  });

  it('drops answers to hidden conditional questions on submission', async () => {
    const clinic = await createClinic();
    const { sent } = await sendForm(clinic);
    const res = await anonymous(clinic.app).post(`/api/public/anamnesis/${sent.token}`).send({ answers: { ...VALID, alergia: false }, consent: CONSENT });
    expect(res.status).toBe(200);
    const shown = await clinic.professional.agent.get(`/api/anamnesis/responses/${sent.id}`);
    expect(shown.body.answers).not.toHaveProperty('alergia_qual');
  });

  it('refuses answers that do not fit the template and stores nothing', async () => {
    const clinic = await createClinic();
    const { sent } = await sendForm(clinic);
    const agent = anonymous(clinic.app);
    const bad: [Record<string, unknown>, string, number][] = [
      [{ ...VALID, dor: 11 }, 'dor', 422],
      [{ ...VALID, dor: 'seis' }, 'dor', 422],
      [{ ...VALID, fuma: 'Talvez' }, 'fuma', 422],
      [{ ...VALID, sintomas: ['Febre', 'Coceira'] }, 'sintomas', 422],
      [{ ...VALID, peso: 900 }, 'peso', 422],
      [{ ...VALID, nascimento: '1990-02-31' }, 'nascimento', 422],
      [{ ...VALID, alergia: 'sim' }, 'alergia', 422],
      [{ ...VALID, inventada: 'x' }, 'inventada', 422],
    ];
    for (const [answers, field, status] of bad) {
      const res = await agent.post(`/api/public/anamnesis/${sent.token}`).send({ answers, consent: CONSENT });
      expect(res.status, field).toBe(status);
      expect(Object.keys(res.body.error.details.questions), field).toContain(field);
    }
    const huge = await agent.post(`/api/public/anamnesis/${sent.token}`).send({ answers: { ...VALID, queixa: 'x'.repeat(5_001) }, consent: CONSENT });
    expect(huge.status).toBe(400);
    const [row] = await clinic.app.infra.db.select().from(anamnesisResponses).where(eq(anamnesisResponses.id, sent.id));
    expect(row).toMatchObject({ status: 'pending', answers: {}, consentAt: null });
  });

  it('answers 404 for a wrong token and 410 for an expired one, revealing nothing', async () => {
    const clinic = await createClinic();
    const { sent } = await sendForm(clinic);
    const wrong = await anonymous(clinic.app).get(`/api/public/anamnesis/${'x'.repeat(43)}`);
    expect(wrong.status).toBe(404);
    expect(JSON.stringify(wrong.body)).not.toContain('Primeira consulta');
    expect((await anonymous(clinic.app).get('/api/public/anamnesis/curto')).status).toBe(404);
    await clinic.app.infra.db.update(anamnesisResponses).set({ expiresAt: new Date(Date.now() - 1000) }).where(eq(anamnesisResponses.id, sent.id));
    const expired = await anonymous(clinic.app).get(`/api/public/anamnesis/${sent.token}`);
    expect(expired.status).toBe(410);
    expect(expired.body.error.code).toBe('anamnesis_expired');
    expect(Object.keys(expired.body.error)).not.toContain('details');
    expect((await anonymous(clinic.app).post(`/api/public/anamnesis/${sent.token}`).send({ answers: VALID, consent: CONSENT })).status).toBe(410);
  });

  it('versions a template that has answers; answers keep the version they answered', async () => {
    const clinic = await createClinic();
    const { template, sent } = await sendForm(clinic);
    await anonymous(clinic.app).post(`/api/public/anamnesis/${sent.token}`).send({ answers: VALID, consent: CONSENT }).expect(200);
    const edited = await clinic.professional.agent.patch(`/api/anamnesis/templates/${template.id}`).send({ questions: [{ id: 'queixa', label: 'Motivo', type: 'text', required: true }] });
    expect(edited.status).toBe(200);
    expect(edited.body.id).not.toBe(template.id);
    expect(edited.body).toMatchObject({ version: 2, familyId: template.familyId });
    const list = await clinic.professional.agent.get('/api/anamnesis/templates');
    const ids = list.body.items.map((t: { id: string }) => t.id);
    expect(ids).toContain(edited.body.id);
    expect(ids).not.toContain(template.id);
    const response = await clinic.professional.agent.get(`/api/anamnesis/responses/${sent.id}`);
    expect(response.body.templateVersion).toBe(1);
    expect(response.body.questions).toHaveLength(QUESTIONS.length);
    expect((await clinic.professional.agent.patch(`/api/anamnesis/templates/${template.id}`).send({ name: 'x' })).status).toBe(404);

    // Without answers, an edit stays in place.
    const unused = await clinic.professional.agent.post('/api/anamnesis/templates').send({ name: 'Rascunho', questions: QUESTIONS });
    const inPlace = await clinic.professional.agent.patch(`/api/anamnesis/templates/${unused.body.id}`).send({ name: 'Final' });
    expect(inPlace.body).toMatchObject({ id: unused.body.id, version: 1, name: 'Final' });
  });

  it('refuses invalid templates and keeps answers from receptionists and non-professional admins', async () => {
    const clinic = await createClinic();
    const agent = clinic.professional.agent;
    const invalid = [
      [{ id: 'a', label: 'A', type: 'single' }],
      [{ id: 'a', label: 'A', type: 'text' }, { id: 'a', label: 'B', type: 'text' }],
      [{ id: 'a', label: 'A', type: 'text', showIf: { questionId: 'zz', equals: true } }],
      [{ id: 'a', label: 'A', type: 'color' }],
      [],
    ];
    for (const questions of invalid) expect((await agent.post('/api/anamnesis/templates').send({ name: 'X', questions })).status).toBe(400);
    expect((await clinic.receptionist.agent.post('/api/anamnesis/templates').send({ name: 'X', questions: QUESTIONS })).status).toBe(403);

    const { patient, sent } = await sendForm(clinic);
    for (const member of [clinic.receptionist, clinic.admin]) {
      expect((await member.agent.get(`/api/anamnesis/responses/${sent.id}`)).status).toBe(403);
      expect((await member.agent.get(`/api/contacts/${patient.id}/anamnesis`)).status).toBe(403);
    }
    const audited = await clinic.app.infra.db.select().from(auditLog).where(and(eq(auditLog.clinicId, clinic.id), eq(auditLog.action, 'anamnesis.viewed')));
    expect(audited).toHaveLength(0);
  });
});
