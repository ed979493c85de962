import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { and, eq } from 'drizzle-orm';
import { aiUsageDaily, auditLog } from '../../shared/schema/index.js';
import { CLINICAL_AI_STATEMENT_VERSION } from '../../server/modules/ai/defaults.js';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { anonymous, createClinic, type TestClinic } from '../helpers/clinic.js';
import { createPatient } from '../helpers/patients.js';
import { draftRecord, signedRecord } from '../helpers/records.js';
import { FakeOpenAI, type ChatReply } from '../fakes/openai.js';

let fake: FakeOpenAI;
let app: TestApp;
let noProvider: TestApp;

beforeAll(async () => {
  fake = await new FakeOpenAI().start();
  [app, noProvider] = await Promise.all([buildTestApp({ env: { OPENAI_API_KEY: fake.apiKey, OPENAI_BASE_URL: fake.baseUrl, OPENAI_CHAT_MODEL: 'modelo-clinico' } }), buildTestApp()]);
});

afterAll(async () => {
  await Promise.all([app?.close(), noProvider?.close()]);
  await fake?.stop();
});

/** The model of the fake: one sentence per source it was given, each citing it, and one invented source [99]. */
const citesWhatItSaw = (body: Record<string, unknown>): ChatReply => {
  const user = (body.messages as { role: string; content: string }[]).find((m) => m.role === 'user')?.content ?? '';
  const seen = [...user.matchAll(/^\[(\d+)\] /gm)].map((m) => m[1]);
  return { content: `${seen.map((n) => `Achado da fonte [${n}].`).join(' ')} Dado inventado [99].` };
};

beforeEach(() => {
  fake.requests.length = 0;
  fake.failures.length = 0;
  fake.chatReplies.length = 0;
  fake.chatResponder = citesWhatItSaw;
});

const chatBodies = () => fake.requestsTo('/chat/completions').map((r) => JSON.stringify(r.body));

async function clinicWithClinicalAi(on = app) {
  const clinic = await createClinic({ app: on });
  const res = await clinic.admin.agent.put('/api/ai/config').send({ clinicalAi: { enabled: true, acceptedStatementVersion: CLINICAL_AI_STATEMENT_VERSION } });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return clinic;
}

/** A submitted anamnesis (and a second form left unanswered) for the patient. */
async function submittedAnamnesis(clinic: TestClinic, contactId: string) {
  const tpl = await clinic.professional.agent
    .post('/api/anamnesis/templates')
    .send({ name: 'Triagem', questions: [{ id: 'alergia', label: 'Tem alergias?', type: 'text', required: true }] });
  const sent = await clinic.receptionist.agent.post(`/api/contacts/${contactId}/anamnesis`).send({ templateId: tpl.body.id });
  const done = await anonymous(clinic.app).post(`/api/public/anamnesis/${sent.body.token}`).send({ answers: { alergia: 'Alergia a penicilina' }, consent: { accepted: true, version: '2026-11-v1' } });
  expect(done.status, JSON.stringify(done.body)).toBe(200);
  const pending = await clinic.receptionist.agent.post(`/api/contacts/${contactId}/anamnesis`).send({ templateId: tpl.body.id });
  return { submitted: sent.body.id as string, pending: pending.body.id as string };
}

const ask = (clinic: TestClinic, contactId: string, question: unknown = 'Resuma o histórico clínico') => clinic.professional.agent.post(`/api/contacts/${contactId}/assistant`).send({ question });

describe('the professional record assistant', () => {
  it("answers from the patient's signed records and submitted anamnesis only, citing them, audited through the records service", async () => {
    const clinic = await clinicWithClinicalAi();
    const patient = await createPatient(clinic);
    const other = await createPatient(clinic);
    const older = await signedRecord(clinic, patient.id, { diagnosis: 'Hipertensão arterial estágio 1' });
    const newer = await signedRecord(clinic, patient.id, { type: 'exam', content: 'Hemoglobina glicada 6,1 %' });
    const draft = await draftRecord(clinic, patient.id, { content: 'RASCUNHO-NAO-ASSINADO' });
    await signedRecord(clinic, other.id, { content: 'OUTRO-PACIENTE-DIABETES' });
    const forms = await submittedAnamnesis(clinic, patient.id);

    const res = await ask(clinic, patient.id);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const given = res.body.sources.map((s: { type: string; id: string }) => `${s.type}:${s.id}`);
    expect(given.sort()).toEqual([`anamnesis:${forms.submitted}`, `medical_record:${newer.id}`, `medical_record:${older.id}`].sort());
    // Every source cited by a marker the model wrote; the invented [99] is neither cited nor left in the text.
    expect(res.body.citations.map((c: { id: string }) => c.id).sort()).toEqual([forms.submitted, newer.id, older.id].sort());
    expect(res.body.citations[0]).toMatchObject({ n: 1, date: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T/), title: expect.any(String) });
    expect(res.body.answer).toContain('Achado da fonte [1].');
    expect(res.body.answer).not.toContain('[99]');
    expect(res.body.model).toBe('modelo-clinico');

    // What reached the model: this patient's signed content and answers, nothing else.
    const [sent, ...more] = chatBodies();
    expect(more).toHaveLength(0);
    expect(sent).toContain('Hipertensão arterial estágio 1');
    expect(sent).toContain('Hemoglobina glicada 6,1 %');
    expect(sent).toContain('Alergia a penicilina');
    expect(sent).toContain('Resuma o histórico clínico');
    expect(sent).not.toContain('RASCUNHO-NAO-ASSINADO');
    expect(sent).not.toContain('OUTRO-PACIENTE-DIABETES');
    expect(sent).not.toContain(patient.name);
    expect(sent).not.toContain(draft.id);

    const audit = await app.infra.db
      .select({ action: auditLog.action, actorId: auditLog.actorId, details: auditLog.details })
      .from(auditLog)
      .where(and(eq(auditLog.clinicId, clinic.id), eq(auditLog.contactId, patient.id), eq(auditLog.action, 'medical_record.assistant_read')));
    expect(audit).toHaveLength(1);
    expect(audit[0]?.actorId).toBe(clinic.professional.id);
    expect(audit[0]?.details).toMatchObject({ recordIds: expect.arrayContaining([older.id, newer.id]), anamnesisIds: [forms.submitted], model: 'modelo-clinico' });
    expect(JSON.stringify(audit[0]?.details)).not.toContain('Hipertensão');
    // The patient's access log shows it.
    const log = await clinic.professional.agent.get(`/api/contacts/${patient.id}/access-log`);
    expect(log.body.items.map((e: { action: string }) => e.action)).toContain('medical_record.assistant_read');

    const usage = await app.infra.db.select().from(aiUsageDaily).where(and(eq(aiUsageDaily.clinicId, clinic.id), eq(aiUsageDaily.feature, 'professional_assistant')));
    expect(usage).toMatchObject([{ model: 'modelo-clinico', calls: 1, errors: 0 }]);
    expect(usage[0]?.inputTokens).toBeGreaterThan(0);
  });

  it('streams the answer as server-sent events when asked, ending with the citations', async () => {
    const clinic = await clinicWithClinicalAi();
    const patient = await createPatient(clinic);
    const record = await signedRecord(clinic, patient.id);
    const res = await clinic.professional.agent
      .post(`/api/contacts/${patient.id}/assistant`)
      .set('Accept', 'text/event-stream')
      .buffer(true)
      .parse((r, done) => {
        let text = '';
        r.on('data', (c: Buffer) => (text += c.toString('utf8')));
        r.on('end', () => done(null, text));
      })
      .send({ question: 'Qual a queixa principal?' });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toContain('text/event-stream');
    const events = String(res.body)
      .trim()
      .split('\n\n')
      .map((block) => {
        const [event, data] = block.split('\n');
        return { event: event?.replace('event: ', ''), data: JSON.parse(data?.replace('data: ', '') ?? 'null') };
      });
    const deltas = events.filter((e) => e.event === 'delta');
    expect(deltas.length).toBeGreaterThan(1);
    expect(deltas.map((d) => d.data.text).join('')).toContain('Achado da fonte [1].');
    const done = events.at(-1);
    expect(done?.event).toBe('done');
    expect(done?.data.citations).toEqual([expect.objectContaining({ n: 1, type: 'medical_record', id: record.id })]);
    expect(done?.data.answer).not.toContain('[99]');
    expect(fake.requestsTo('/chat/completions')[0]?.body.stream).toBe(true);
  });

  it('says the records hold nothing without calling the model when nothing is signed', async () => {
    const clinic = await clinicWithClinicalAi();
    const patient = await createPatient(clinic);
    await draftRecord(clinic, patient.id);
    const res = await ask(clinic, patient.id);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ citations: [], sources: [], model: null });
    expect(res.body.answer).toContain('Não há registros');
    expect(fake.requestsTo('/chat/completions')).toHaveLength(0);
  });

  it('is for professionals only, and another clinic asking about the patient gets 404', async () => {
    const clinic = await clinicWithClinicalAi();
    const elsewhere = await clinicWithClinicalAi();
    const patient = await createPatient(clinic);
    await signedRecord(clinic, patient.id, { content: 'CONTEUDO-SIGILOSO' });
    for (const member of [clinic.receptionist, clinic.admin]) {
      const res = await member.agent.post(`/api/contacts/${patient.id}/assistant`).send({ question: 'Resumo' });
      expect(res.status, member.role).toBe(403);
    }
    const foreign = await elsewhere.doctorAdmin.agent.post(`/api/contacts/${patient.id}/assistant`).send({ question: 'Resumo' });
    expect(foreign.status).toBe(404);
    expect((await clinic.doctorAdmin.agent.post(`/api/contacts/${patient.id}/assistant`).send({ question: 'Resumo' })).status).toBe(200);
    expect(chatBodies().filter((b) => b.includes('CONTEUDO-SIGILOSO'))).toHaveLength(1);
  });

  it('refuses with 409 clinical_ai_disabled, sending nothing, until the clinic switches clinical AI on', async () => {
    const clinic = await createClinic({ app });
    const patient = await createPatient(clinic);
    await signedRecord(clinic, patient.id);
    const res = await ask(clinic, patient.id);
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('clinical_ai_disabled');
    expect(fake.requests).toHaveLength(0);
    const audit = await app.infra.db.select().from(auditLog).where(and(eq(auditLog.contactId, patient.id), eq(auditLog.action, 'medical_record.assistant_read')));
    expect(audit).toHaveLength(0);
  });

  it('answers 503 integration_not_configured without a model provider', async () => {
    const clinic = await clinicWithClinicalAi(noProvider);
    const patient = await createPatient(clinic);
    await signedRecord(clinic, patient.id);
    const res = await ask(clinic, patient.id);
    expect(res.status).toBe(503);
    expect(res.body.error.code).toBe('integration_not_configured');
  });

  it('refuses questions that are empty, too long or not text with 400', async () => {
    const clinic = await clinicWithClinicalAi();
    const patient = await createPatient(clinic);
    for (const question of ['', '   ', 'x'.repeat(401), 42, null]) {
      const res = await ask(clinic, patient.id, question);
      expect(res.status, JSON.stringify(question)).toBe(400);
    }
    expect((await clinic.professional.agent.post(`/api/contacts/${patient.id}/assistant`).send({ question: 'ok', extra: 1 })).status).toBe(400);
    expect((await ask(clinic, patient.id, 'x'.repeat(400))).status).toBe(200);
  });

  it('answers 429 ai_budget_exhausted over the daily budget, sending nothing', async () => {
    const clinic = await clinicWithClinicalAi();
    await clinic.admin.agent.put('/api/ai/config').send({ dailyTokenBudget: 0 });
    const patient = await createPatient(clinic);
    await signedRecord(clinic, patient.id);
    const res = await ask(clinic, patient.id);
    expect(res.status).toBe(429);
    expect(res.body.error.code).toBe('ai_budget_exhausted');
    expect(fake.requests).toHaveLength(0);
  });

  it('turns model failures after the retries into 503 or 502 with a clear code, counted as errors', async () => {
    const clinic = await clinicWithClinicalAi();
    const patient = await createPatient(clinic);
    await signedRecord(clinic, patient.id);
    // The SDK tries four times (MAX_RETRIES 3) before giving up.
    fake.failures.push(...Array.from({ length: 4 }, () => ({ status: 500 as const })));
    const down = await ask(clinic, patient.id);
    expect(down.status).toBe(503);
    expect(down.body.error.code).toBe('model_unavailable');
    expect(fake.requestsTo('/chat/completions')).toHaveLength(4);
    fake.failures.push({ status: 400 });
    const refused = await ask(clinic, patient.id);
    expect(refused.status).toBe(502);
    expect(refused.body.error.code).toBe('model_error');
    const [usage] = await app.infra.db.select().from(aiUsageDaily).where(and(eq(aiUsageDaily.clinicId, clinic.id), eq(aiUsageDaily.feature, 'professional_assistant')));
    expect(usage).toMatchObject({ calls: 2, errors: 2 });
  });
});
