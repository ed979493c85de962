import { beforeAll, describe, expect, it } from 'vitest';
import { and, eq } from 'drizzle-orm';
import { aiTemplates, auditLog } from '../../../shared/schema/index.js';
import { parseTemplate, TEMPLATE_VARIABLES } from '../../../shared/api/template-syntax.js';
import { DEFAULT_TEMPLATES } from '../../../server/modules/ai/defaults.js';
import { getTestApp } from '../../helpers/app.js';
import { anonymous, createClinic, type TestClinic } from '../../helpers/clinic.js';
import { createPatient } from '../../helpers/patients.js';

beforeAll(() => getTestApp());

const DEFAULT_KEYS = ['aniversario', 'confirmacao', 'lembrete', 'pos_consulta', 'retorno'];

async function book(clinic: TestClinic, contactId: string, startsAt: string, type = 'return') {
  const res = await clinic.receptionist.agent.post('/api/appointments').send({ contactId, professionalId: clinic.professional.id, startsAt, durationMinutes: 50, type });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.id as string;
}

async function create(clinic: TestClinic, body: string, name = 'Modelo') {
  return clinic.receptionist.agent.post('/api/ai-templates').send({ name, body });
}

describe('default templates', () => {
  it('starts a clinic with the five Portuguese templates, once, found by their stable key', async () => {
    const clinic = await createClinic();
    const [a, b] = await Promise.all([clinic.receptionist.agent.get('/api/ai-templates'), clinic.professional.agent.get('/api/ai-templates')]);
    expect(a.status).toBe(200);
    expect(b.body.items).toHaveLength(5);
    expect(a.body.items.map((t: { key: string }) => t.key).sort()).toEqual(DEFAULT_KEYS);
    expect(a.body.items.map((t: { name: string }) => t.name)).toEqual(expect.arrayContaining(['Confirmação de consulta', 'Lembrete de consulta', 'Pós-consulta', 'Retorno', 'Aniversário']));
    for (const t of DEFAULT_TEMPLATES) expect(parseTemplate(t.body).problems, t.key).toEqual([]);
    expect((await clinic.admin.agent.get('/api/ai-templates')).body.items).toHaveLength(5);
    const reminder = await clinic.app.modules.services.aiTemplates.byKey(clinic.id, 'lembrete');
    expect(reminder?.variables).toEqual(expect.arrayContaining(['patient.firstName', 'appointment.startsAt', 'professional.name']));
    expect((await clinic.receptionist.agent.get('/api/ai-templates').query({ category: 'birthday' })).body.items.map((t: { key: string }) => t.key)).toEqual(['aniversario']);
  });

  it('adds the defaults an existing clinic lacks, keeps its edits, and never brings a deleted one back', async () => {
    const clinic = await createClinic();
    // A clinic from before: it already has its own edited confirmation under the default key.
    const db = clinic.app.infra.db;
    await db.insert(aiTemplates).values({ clinicId: clinic.id, key: 'confirmacao', name: 'Minha confirmação', category: 'confirmation', body: 'Confirma, {{patient.firstName}}?' });
    const items = (await clinic.receptionist.agent.get('/api/ai-templates')).body.items as { id: string; key: string; name: string }[];
    expect(items.map((t) => t.key).sort()).toEqual(DEFAULT_KEYS);
    expect(items.find((t) => t.key === 'confirmacao')?.name).toBe('Minha confirmação');

    const birthday = items.find((t) => t.key === 'aniversario')!;
    expect((await clinic.receptionist.agent.delete(`/api/ai-templates/${birthday.id}`)).status).toBe(204);
    expect((await clinic.receptionist.agent.get('/api/ai-templates')).body.items.map((t: { key: string }) => t.key)).not.toContain('aniversario');
    expect(await clinic.app.modules.services.aiTemplates.byKey(clinic.id, 'aniversario')).toBeUndefined();
  });

  it('lets reminders find a renamed default by its key', async () => {
    const clinic = await createClinic();
    const reminder = await clinic.app.modules.services.aiTemplates.byKey(clinic.id, 'lembrete');
    await clinic.receptionist.agent.patch(`/api/ai-templates/${reminder!.id}`).send({ name: 'Lembrete 24 h', body: 'Até amanhã, {{patient.firstName}}!' });
    expect(await clinic.app.modules.services.aiTemplates.byKey(clinic.id, 'lembrete')).toMatchObject({ id: reminder!.id, name: 'Lembrete 24 h', key: 'lembrete' });
  });
});

describe('templates CRUD', () => {
  it('creates, reads, edits and deletes, each audited', async () => {
    const clinic = await createClinic();
    const created = await create(clinic, 'Olá {{ patient.firstName }}, até {{appointment.startsAt|date}} às {{appointment.startsAt|time}}!', 'Aviso');
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body).toMatchObject({ name: 'Aviso', category: 'other', key: null, variables: ['patient.firstName', 'appointment.startsAt'] });
    const id = created.body.id as string;
    expect((await clinic.professional.agent.get(`/api/ai-templates/${id}`)).body.name).toBe('Aviso');
    const patched = await clinic.admin.agent.patch(`/api/ai-templates/${id}`).send({ category: 'reminder', body: 'Oi {{patient.name}}' });
    expect(patched.body).toMatchObject({ category: 'reminder', body: 'Oi {{patient.name}}', variables: ['patient.name'], name: 'Aviso' });
    expect((await clinic.admin.agent.delete(`/api/ai-templates/${id}`)).status).toBe(204);
    expect((await clinic.admin.agent.get(`/api/ai-templates/${id}`)).status).toBe(404);
    expect((await clinic.admin.agent.patch(`/api/ai-templates/${id}`).send({ name: 'x' })).status).toBe(404);
    expect((await clinic.admin.agent.delete(`/api/ai-templates/${id}`)).status).toBe(404);
    const audits = await clinic.app.infra.db.select().from(auditLog).where(and(eq(auditLog.clinicId, clinic.id), eq(auditLog.entityId, id)));
    expect(audits.map((a) => a.action).sort()).toEqual(['ai_template.created', 'ai_template.deleted', 'ai_template.updated']);
  });

  it('refuses an unknown variable, an unknown filter or unbalanced braces with a 400 naming it, and stores nothing', async () => {
    const clinic = await createClinic();
    const before = (await clinic.receptionist.agent.get('/api/ai-templates')).body.items.length;
    const cases: [string, string, string][] = [
      ['Olá {{patient.age}}', 'unknown_variable', 'patient.age'],
      ['Olá {{paciente}}', 'unknown_variable', 'paciente'],
      ['Olá {{patient.name|date}}', 'unknown_filter', 'date'],
      ['Dia {{appointment.startsAt|hora}}', 'unknown_filter', 'hora'],
      ['Olá {{patient.name', 'unbalanced_braces', '{{'],
      ['Olá {{patient.name}} }}', 'unbalanced_braces', '}}'],
      ['Olá {{patient.{{clinic.name}}', 'unbalanced_braces', '{{'],
      ['Olá {{ }}', 'invalid_expression', '{{ }}'],
    ];
    for (const [body, code, token] of cases) {
      const res = await create(clinic, body);
      expect(res.status, body).toBe(400);
      expect(res.body.error.code, body).toBe('invalid_template');
      expect(res.body.error.message, body).toContain(token);
      expect(res.body.error.details.problems, body).toContainEqual(expect.objectContaining({ code, token }));
    }
    const own = (await create(clinic, 'Olá {{clinic.name}}')).body.id as string;
    const patched = await clinic.receptionist.agent.patch(`/api/ai-templates/${own}`).send({ body: 'Olá {{patient.cpf}}' });
    expect(patched.status).toBe(400);
    expect(patched.body.error.message).toContain('patient.cpf');
    expect((await clinic.receptionist.agent.get(`/api/ai-templates/${own}`)).body.body).toBe('Olá {{clinic.name}}');
    expect((await clinic.receptionist.agent.get('/api/ai-templates')).body.items).toHaveLength(before + 1);
  });

  it('lists the variables a client may offer', async () => {
    const clinic = await createClinic();
    const res = await clinic.receptionist.agent.get('/api/ai-templates/variables');
    expect(res.status).toBe(200);
    expect(res.body.items.map((v: { name: string }) => v.name)).toEqual(Object.keys(TEMPLATE_VARIABLES));
    expect(res.body.items.find((v: { name: string }) => v.name === 'appointment.startsAt').filters).toEqual(['date', 'time', 'weekday']);
  });
});

describe('POST /ai-templates/:id/render', () => {
  it("fills the patient, appointment, professional and clinic from real data, dates in the clinic's zone", async () => {
    const clinic = await createClinic({ timezone: 'America/Manaus' });
    await clinic.admin.agent.patch('/api/clinic').send({ address: 'Av. Eduardo Ribeiro, 520 - Manaus', phone: '(92) 3333-4444' });
    const patient = await createPatient(clinic, { name: 'Maria Aparecida Souza' });
    // 13:00 UTC is 09:00 in Manaus (UTC-4); 10/03/2031 is a Monday.
    const appointmentId = await book(clinic, patient.id, '2031-03-10T13:00:00Z');
    const body =
      '{{patient.firstName}} ({{patient.name}}): {{appointment.type}} com {{professional.name}} na {{appointment.startsAt|weekday}}, ' +
      '{{appointment.startsAt|date}} às {{appointment.startsAt|time}} (até {{appointment.endsAt|time}}); {{appointment.startsAt}}. ' +
      '{{clinic.name}}, {{clinic.address}}, {{clinic.phone}}';
    const id = (await create(clinic, body)).body.id as string;
    const res = await clinic.receptionist.agent.post(`/api/ai-templates/${id}/render`).send({ appointmentId });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.text).toBe(
      `Maria (Maria Aparecida Souza): Retorno com ${clinic.professional.name} na segunda-feira, 10/03/2031 às 09:00 (até 09:50); 10/03/2031 às 09:00. ` +
        `${clinic.name}, Av. Eduardo Ribeiro, 520 - Manaus, (92) 3333-4444`,
    );
    expect(res.body.variables).toMatchObject({ 'patient.firstName': 'Maria', 'appointment.startsAt|time': '09:00', 'appointment.startsAt|date': '10/03/2031' });

    const withContact = await clinic.receptionist.agent.post(`/api/ai-templates/${id}/render`).send({ appointmentId, contactId: patient.id });
    expect(withContact.body.text).toBe(res.body.text);
  });

  it('renders a default template for a patient alone when it needs no appointment', async () => {
    const clinic = await createClinic();
    const patient = await createPatient(clinic, { name: 'João Pedro' });
    const birthday = await clinic.app.modules.services.aiTemplates.byKey(clinic.id, 'aniversario');
    const res = await clinic.receptionist.agent.post(`/api/ai-templates/${birthday!.id}/render`).send({ contactId: patient.id });
    expect(res.status).toBe(200);
    expect(res.body.text).toContain('Feliz aniversário, João!');
    expect(res.body.text).toContain(clinic.name);
  });

  it('answers 400 naming each variable without data and what it needs', async () => {
    const clinic = await createClinic();
    const patient = await createPatient(clinic);
    const id = (await create(clinic, 'Oi {{patient.firstName}}, dia {{appointment.startsAt|date}} com {{professional.name}}. {{clinic.address}}')).body.id as string;
    const res = await clinic.receptionist.agent.post(`/api/ai-templates/${id}/render`).send({ contactId: patient.id });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('template_data_missing');
    expect(res.body.error.details.missing).toEqual([
      { variable: 'appointment.startsAt', needs: 'appointmentId' },
      { variable: 'professional.name', needs: 'appointmentId' },
      { variable: 'clinic.address', needs: 'clinic.address' },
    ]);
    const none = await clinic.receptionist.agent.post(`/api/ai-templates/${id}/render`).send({});
    expect(none.body.error.details.missing[0]).toEqual({ variable: 'patient.firstName', needs: 'contactId' });
  });

  it("answers 404 for another clinic's patient or appointment, 400 when they do not match", async () => {
    const [clinic, other] = await Promise.all([createClinic(), createClinic()]);
    const id = (await create(clinic, 'Oi {{patient.firstName}}')).body.id as string;
    const foreignPatient = await createPatient(other);
    const foreignAppointment = await book(other, foreignPatient.id, '2031-04-07T13:00:00Z');
    for (const body of [{ contactId: foreignPatient.id }, { appointmentId: foreignAppointment }]) {
      const res = await clinic.receptionist.agent.post(`/api/ai-templates/${id}/render`).send(body);
      expect(res.status, JSON.stringify(body)).toBe(404);
      expect(JSON.stringify(res.body)).not.toContain(foreignPatient.name);
    }
    const mine = await createPatient(clinic);
    const another = await createPatient(clinic);
    const appointmentId = await book(clinic, mine.id, '2031-04-07T13:00:00Z');
    const mismatch = await clinic.receptionist.agent.post(`/api/ai-templates/${id}/render`).send({ appointmentId, contactId: another.id });
    expect(mismatch.status).toBe(400);
    expect(mismatch.body.error.code).toBe('appointment_contact_mismatch');
  });

  it("needs the contacts:read scope for an API key to render a patient's data", async () => {
    const clinic = await createClinic();
    const patient = await createPatient(clinic);
    const id = (await create(clinic, 'Oi {{patient.firstName}}')).body.id as string;
    const key = (await clinic.admin.agent.post('/api/api-keys').send({ name: 'n8n', scopes: ['ai_templates:read'] })).body.key as string;
    const res = await anonymous(clinic.app)
      .post(`/api/ai-templates/${id}/render`).set('Authorization', `Bearer ${key}`).send({ contactId: patient.id });
    expect(res.status).toBe(403);
  });
});
