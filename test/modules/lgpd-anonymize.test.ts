import { beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { getTestApp } from '../helpers/app.js';
import { anonymous, createClinic, type TestClinic } from '../helpers/clinic.js';
import { randomCpf } from '../helpers/patients.js';
import { draftRecord, signedRecord, uploadFile } from '../helpers/records.js';
import { identifierRedactor } from '../../server/modules/lgpd/redact.js';

beforeAll(() => getTestApp());

const letters = (n: number) => Array.from({ length: n }, () => String.fromCharCode(97 + Math.floor(Math.random() * 26))).join('');

/** A patient whose identifiers are unique in the whole database, in the forms staff type them. */
function identity() {
  const surname = `Qu${letters(6)}`;
  const name = `Joana ${surname}`;
  const local = `9${String(Math.floor(Math.random() * 1e8)).padStart(8, '0')}`;
  const cpf = randomCpf();
  const email = `joana.${surname.toLowerCase()}@example.com`;
  const formatted = {
    phone: `(11) ${local.slice(0, 5)}-${local.slice(5)}`,
    cpf: `${cpf.slice(0, 3)}.${cpf.slice(3, 6)}.${cpf.slice(6, 9)}-${cpf.slice(9)}`,
  };
  const text = `${name}, tel ${formatted.phone}, CPF ${formatted.cpf}, ${email}`;
  return { name, surname, phone: `11${local}`, cpf, email, formatted, text };
}
type Identity = ReturnType<typeof identity>;

interface Hit {
  table: string;
  row: Record<string, unknown>;
}

/** Every row of every table whose text holds one of the identifiers (digits compared without punctuation). */
async function rowsNaming(clinic: TestClinic, who: Identity): Promise<Hit[]> {
  const db = clinic.app.infra.db;
  const tables = (await db.execute(sql`select table_name from information_schema.tables where table_schema = 'public' and table_type = 'BASE TABLE' and table_name not like '%drizzle%'`)) as unknown as
    | { rows: { table_name: string }[] }
    | { table_name: string }[];
  const names = (Array.isArray(tables) ? tables : tables.rows).map((t) => t.table_name);
  const hits: Hit[] = [];
  for (const table of names) {
    const result = (await db.execute(sql`
      select row_to_json(t)::text as j from ${sql.identifier(table)} t
      where row_to_json(t)::text ilike ${`%${who.surname}%`} or row_to_json(t)::text ilike ${`%${who.email}%`}
         or regexp_replace(row_to_json(t)::text, '[^0-9]', '', 'g') like ${`%${who.cpf}%`}
         or regexp_replace(row_to_json(t)::text, '[^0-9]', '', 'g') like ${`%${who.phone}%`}`)) as unknown as { rows: { j: string }[] } | { j: string }[];
    for (const r of Array.isArray(result) ? result : result.rows) hits.push({ table, row: JSON.parse(r.j) as Record<string, unknown> });
  }
  return hits;
}

describe('anonymisation of free text', () => {
  it('leaves the name, phone, CPF and email of the patient only in signed clinical records', async () => {
    const clinic = await createClinic();
    const who = identity();
    const pro = clinic.professional.agent;
    const patient = await clinic.receptionist.agent.post('/api/contacts').send({ name: who.name, phone: who.formatted.phone, cpf: who.cpf, email: who.email, status: 'active', notes: who.text, tags: [who.surname] });
    expect(patient.status, JSON.stringify(patient.body)).toBe(201);
    const contactId = patient.body.id as string;

    // Scheduling: appointment notes, a cancellation reason, a block's reason.
    // Booked with an Idempotency-Key: the stored answer (name, notes) is kept for retries.
    const book = (hour: number) =>
      clinic.receptionist.agent
        .post('/api/appointments')
        .set('Idempotency-Key', `reserva-${hour}`)
        .send({ contactId, professionalId: clinic.professional.id, startsAt: `2030-03-11T${hour}:00:00-03:00`, durationMinutes: 30, notes: who.text });
    const kept = await book(10);
    expect(kept.status).toBe(201);
    const cancelled = await book(11);
    await clinic.receptionist.agent.post(`/api/appointments/${cancelled.body.id}/status`).send({ status: 'cancelled', reason: `Ligou ${who.formatted.phone}: ${who.name} viajou` }).expect(200);
    await clinic.receptionist.agent.post('/api/schedule-blocks').send({ professionalId: clinic.professional.id, startsAt: '2030-03-12T10:00:00-03:00', endsAt: '2030-03-12T12:00:00-03:00', reason: `Cirurgia de ${who.name}` }).expect(201);

    // Records: a draft with every text field and an attachment, a signed record and an addendum with theirs, a loose file.
    const fields = { content: who.text, chiefComplaint: who.text, history: who.text, examination: who.text, diagnosis: who.text, plan: who.text, prescriptions: [who.text], examRequests: [who.text] };
    const draftFile = await uploadFile(clinic, '%PDF rascunho', `exame-${who.surname}.pdf`);
    const draft = await draftRecord(clinic, contactId, { ...fields, attachmentIds: [draftFile] });
    const signedFile = await uploadFile(clinic, '%PDF assinado', `laudo-${who.surname}.pdf`);
    const signed = await signedRecord(clinic, contactId, { ...fields, attachmentIds: [signedFile] });
    const addendum = await pro.post(`/api/medical-records/${signed.id}/addenda`).send({ content: `Adendo: ${who.text}` });
    expect(addendum.status).toBe(201);
    await uploadFile(clinic, '%PDF rg', `rg-${who.surname}.pdf`);

    // Anamneses: one submitted, one saved half-way (both with free text).
    const template = await pro.post('/api/anamnesis/templates').send({ name: 'Triagem', questions: [{ id: 'obs', label: 'Observações', type: 'textarea', required: true }] });
    const consent = { accepted: true, version: '2026-11-v1' };
    const responseIds: string[] = [];
    for (const submit of [true, false]) {
      const sent = await pro.post(`/api/contacts/${contactId}/anamnesis`).send({ templateId: template.body.id });
      await anonymous(clinic.app).post(`/api/public/anamnesis/${sent.body.token}`).send({ answers: { obs: `Sou ${who.text}` }, submit, consent }).expect(200);
      responseIds.push(sent.body.id as string);
    }

    // The professional's week view is cached with the patient's name and notes (read once the
    // writes' delayed invalidations have passed, so the entry stays).
    await new Promise((resolve) => setTimeout(resolve, 900));
    const week = `/api/appointments?professionalId=${clinic.professional.id}&from=2030-03-10T00:00:00Z&to=2030-03-17T00:00:00Z`;
    expect(JSON.stringify((await pro.get(week)).body)).toContain(who.surname);

    // The test can fail: before anonymisation the identifiers are all over the place.
    const before = new Set((await rowsNaming(clinic, who)).map((h) => h.table));
    expect([...before].sort()).toEqual(expect.arrayContaining(['anamnesis_responses', 'appointments', 'contacts', 'files', 'idempotency_keys', 'medical_records', 'schedule_blocks']));

    await clinic.admin.agent.post(`/api/contacts/${contactId}/anonymize`).send({ confirm: true }).expect(200);

    const signedIds = new Set([signed.id, addendum.body.id as string]);
    const after = await rowsNaming(clinic, who);
    const outsideSignedRecords = after.filter((h) => !(h.table === 'medical_records' && signedIds.has(h.row.id as string) && h.row.status === 'signed') && !(h.table === 'files' && h.row.id === signedFile));
    expect(outsideSignedRecords).toEqual([]);
    expect(after.filter((h) => h.table === 'medical_records').map((h) => h.row.id).sort()).toEqual([...signedIds].sort());

    // What remains is still readable and the signed chain still holds.
    const shownDraft = await pro.get(`/api/medical-records/${draft.id}`);
    expect(shownDraft.body.content).toBe('[dado removido], tel [dado removido], CPF [dado removido], [dado removido]');
    expect(shownDraft.body.attachments[0].filename).toBe('exame-[dado removido].pdf');
    expect((await pro.get(`/api/appointments/${cancelled.body.id}`)).body.cancellationReason).toBe('Removido na anonimização (LGPD)');
    expect((await pro.get(`/api/appointments/${kept.body.id}`)).body.notes).toBeNull();
    expect((await pro.get(`/api/contacts/${contactId}/medical-records/verify`)).body).toMatchObject({ valid: true, checked: 2 });
    for (const id of responseIds) {
      const answered = await pro.get(`/api/anamnesis/responses/${id}`);
      expect(answered.body.answers).toEqual({ obs: 'Sou [dado removido], tel [dado removido], CPF [dado removido], [dado removido]' });
      // The IP that gave consent identifies the patient too; the consent's version and time stay.
      expect(answered.body.consent).toMatchObject({ version: '2026-11-v1', ip: null });
    }
    expect(JSON.stringify((await pro.get(week)).body)).not.toContain(who.surname);
  });
});

describe('identifier redaction', () => {
  const redact = identifierRedactor({ name: 'João da Silva Prado', phone: '+5511987654321', email: 'joao.prado@example.com', cpf: '52998224725' });

  it('finds the identifiers in the forms people type them, whatever the case, accents or punctuation', () => {
    const cases: [string, string][] = [
      ['joao da silva prado ligou', '[dado removido] ligou'],
      ['Sr. PRADO e a esposa', 'Sr. [dado removido] e a esposa'],
      ['tel (11) 98765-4321 ou +55 11 98765 4321', 'tel [dado removido] ou [dado removido]'],
      ['recado: 8765-4321', 'recado: [dado removido]'],
      ['CPF 529.982.247-25', 'CPF [dado removido]'],
      ['escreve para JOAO.PRADO@example.com', 'escreve para [dado removido]'],
    ];
    for (const [input, output] of cases) expect(redact(input), input).toBe(output);
  });

  it('leaves other words and numbers alone', () => {
    for (const text of ['Pradoso fica', 'dor de cabeça da mãe', 'glicemia 1198765432100', 'Silvana']) expect(redact(text)).toBe(text);
  });
});
