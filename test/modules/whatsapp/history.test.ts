import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import { contacts, files, integrationWebhookEvents } from '../../../shared/schema/index.js';
import { buildTestApp, type TestApp } from '../../helpers/app.js';
import { createClinic, type TestClinic } from '../../helpers/clinic.js';
import { createPatient, type Patient } from '../../helpers/patients.js';
import { contactOf, createNumber, deliveriesOf, ingest, jidsOf, messagesOf, textMessage, type TestNumber } from '../../helpers/whatsapp-webhooks.js';

let app: TestApp;
let clinic: TestClinic;

beforeAll(async () => {
  app = await buildTestApp();
  clinic = await createClinic({ app });
});
afterAll(async () => {
  await app.close();
});

const jidOfPatient = (p: Patient) => `${p.phone!.replace(/\D/g, '')}@s.whatsapp.net`;

async function conversationWith(patient: Patient, number: TestNumber, texts: string[]) {
  for (const text of texts) await ingest(app, number, textMessage(number, text, { remoteJid: jidOfPatient(patient) }));
}

describe("a patient's WhatsApp messages everywhere else", () => {
  it('appear in the timeline; a private number is seen by its professional and admins only', async () => {
    const patient = await createPatient(clinic);
    await conversationWith(patient, await createNumber(app, clinic.id), ['Bom dia, confirmo a consulta']);
    await conversationWith(patient, await createNumber(app, clinic.id, { professionalId: clinic.professional.id }), ['Doutora, sobre a sessão de ontem']);
    const items = async (agent: TestClinic['admin']['agent']) => {
      const res = await agent.get(`/api/contacts/${patient.id}/timeline`);
      expect(res.status).toBe(200);
      return (res.body.items ?? res.body).filter((i: { type: string }) => i.type === 'message');
    };
    const byAdmin = await items(clinic.admin.agent);
    expect(byAdmin).toHaveLength(2);
    expect(byAdmin[0]).toMatchObject({ title: 'Mensagem recebida pelo WhatsApp', data: { direction: 'inbound', messageType: 'text' } });
    expect((await items(clinic.professional.agent)).map((i: { data: { preview: string } }) => i.data.preview).sort()).toEqual(['Bom dia, confirmo a consulta', 'Doutora, sobre a sessão de ontem']);
    expect((await items(clinic.receptionist.agent)).map((i: { data: { preview: string } }) => i.data.preview)).toEqual(['Bom dia, confirmo a consulta']);
  });

  it('are in the LGPD export', async () => {
    const patient = await createPatient(clinic);
    await conversationWith(patient, await createNumber(app, clinic.id), ['Primeira mensagem', 'Segunda mensagem']);
    const res = await clinic.doctorAdmin.agent.get(`/api/contacts/${patient.id}/export`);
    expect(res.status).toBe(200);
    const section = res.body.whatsapp;
    expect(section.addresses).toContain(jidOfPatient(patient));
    expect(section.conversations).toHaveLength(1);
    expect(section.conversations[0].messages.map((m: { text: string }) => m.text)).toEqual(['Primeira mensagem', 'Segunda mensagem']);
  });

  it('make deleting the patient soft', async () => {
    const patient = await createPatient(clinic);
    await conversationWith(patient, await createNumber(app, clinic.id), ['Oi']);
    expect((await clinic.admin.agent.delete(`/api/contacts/${patient.id}`)).status).toBe(204);
    const [row] = await app.infra.db.select().from(contacts).where(eq(contacts.id, patient.id));
    expect(row?.deletedAt).toBeInstanceOf(Date);
  });

  it('lose their text, media and addresses on anonymisation, and the kept webhook payloads that hold them go', async () => {
    const patient = await createPatient(clinic);
    const number = await createNumber(app, clinic.id);
    const bystander = await createPatient(clinic);
    await conversationWith(patient, number, ['Tenho alergia a dipirona']);
    await conversationWith(bystander, number, ['Outra pessoa']);
    const [message] = (await messagesOf(app, number)).filter((m) => m.text === 'Tenho alergia a dipirona');
    const [file] = await app.infra.db.insert(files).values({ clinicId: clinic.id, storageKey: `${clinic.id}/wa-test`, filename: 'receita.jpg', contentType: 'image/jpeg', size: 3, sha256: 'x' }).returning();
    await app.infra.storage.put(file!.storageKey, Buffer.from('abc'), 'image/jpeg');
    await app.infra.db.execute(`update messages set file_id = '${file!.id}', media_state = 'stored' where id = '${message!.id}'`);

    expect((await clinic.admin.agent.post(`/api/contacts/${patient.id}/anonymize`).send({ confirm: true })).status).toBe(200);
    const rows = await messagesOf(app, number);
    const erased = rows.find((m) => m.id === message!.id)!;
    expect(erased).toMatchObject({ text: null, content: null, fileId: null, direction: 'inbound' });
    expect(rows.find((m) => m.text === 'Outra pessoa')).toBeDefined();
    expect(await app.infra.db.select().from(files).where(eq(files.id, file!.id))).toHaveLength(0);
    expect(await app.infra.storage.read(file!.storageKey)).toBeNull();
    expect(await jidsOf(app, patient.id)).toEqual([]);
    const payloads = JSON.stringify((await deliveriesOf(app, number)).map((d) => d.payload));
    expect(payloads).not.toContain('dipirona');
    expect(payloads).toContain('Outra pessoa');
    expect((await contactOf(app, patient.id))!.anonymizedAt).toBeInstanceOf(Date);
  });

  it('processed webhook payloads are pruned after the retention; unprocessed ones stay', async () => {
    const number = await createNumber(app, clinic.id);
    await ingest(app, number, textMessage(number, 'Mensagem antiga'));
    const [delivery] = await deliveriesOf(app, number);
    const history = app.modules.services.whatsappIngestion.history;
    expect((await history.prune()).payloads).toBe(0);
    await app.infra.db.insert(integrationWebhookEvents).values({ clinicId: clinic.id, connectionId: number.connectionId, externalId: 'nao-processado', type: 'messages.upsert', payload: {} });
    const later = new Date(Date.now() + app.infra.config.whatsappWebhookRetentionMs + 60_000);
    expect((await history.prune(later)).payloads).toBeGreaterThanOrEqual(1);
    const left = await deliveriesOf(app, number);
    expect(left.map((d) => d.externalId)).toEqual(['nao-processado']);
    expect(left.find((d) => d.id === delivery!.id)).toBeUndefined();
    // The message itself stays: only the raw payload goes.
    expect((await messagesOf(app, number)).map((m) => m.text)).toEqual(['Mensagem antiga']);
  });
});
