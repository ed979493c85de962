import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import { contacts } from '../../shared/schema/index.js';
import { conflict } from '../../server/lib/errors.js';
import { createModules } from '../../server/modules/index.js';
import { defineSubscriber, type Module } from '../../server/modules/module.js';
import { buildTestApp, getTestApp, type TestApp } from '../helpers/app.js';
import { createClinic, type TestClinic } from '../helpers/clinic.js';
import { createPatient } from '../helpers/patients.js';

/**
 * A feature that plugs in only through its module.ts, as the CRM will: each answer and reaction
 * it declares must reach the service that asks or the relay, with no edit elsewhere.
 */
function crmModule() {
  const state = {
    withOpportunities: new Set<string>(),
    withContract: new Set<string>(),
    lockedFiles: new Set<string>(),
    anonymized: [] as string[],
    created: [] as string[],
  };
  const module: Module = {
    name: 'crm-test',
    services: {},
    subscribers: [defineSubscriber({ name: 'crm-test', events: ['contact.created'], handle: (event) => void state.created.push(event.payload.id) })],
    provides: {
      timeline: {
        opportunity: async (_ctx, contactId) =>
          state.withOpportunities.has(contactId) ? [{ type: 'opportunity', id: contactId, at: '2030-01-01T12:00:00.000Z', title: 'Oportunidade: implante' }] : [],
      },
      exportSections: { opportunities: async (_ctx, contactId) => (state.withOpportunities.has(contactId) ? [{ stage: 'proposta' }] : []) },
      anonymizers: [async (_tx, _ctx, contactId) => void state.anonymized.push(contactId)],
      dependents: [async (_clinicId, contactId) => state.withOpportunities.has(contactId)],
      clinicalHistory: [async (_clinicId, contactId) => state.withContract.has(contactId)],
      fileAccessGuards: [
        async (_ctx, fileId, operation) => {
          if (operation === 'delete' && state.lockedFiles.has(fileId)) throw conflict('file_in_proposal', 'Arquivo usado em uma proposta');
        },
      ],
    },
  };
  return { module, state };
}

describe('a module declared in its manifest', () => {
  let app: TestApp;
  let clinic: TestClinic;
  const crm = crmModule();
  beforeAll(async () => {
    app = await buildTestApp({ modules: [crm.module] });
    clinic = await createClinic({ app });
  });
  afterAll(() => app.close());

  it('adds its items to the patient timeline and its section to the LGPD export', async () => {
    const patient = await createPatient(clinic);
    crm.state.withOpportunities.add(patient.id);
    const timeline = await clinic.professional.agent.get(`/api/contacts/${patient.id}/timeline`);
    expect(timeline.status).toBe(200);
    expect(timeline.body.items).toContainEqual(expect.objectContaining({ type: 'opportunity', title: 'Oportunidade: implante' }));
    const exported = await clinic.doctorAdmin.agent.get(`/api/contacts/${patient.id}/export`);
    expect(exported.body.opportunities).toEqual([{ stage: 'proposta' }]);
  });

  it('decides how a patient is deleted: its rows hide the patient, its history refuses', async () => {
    const withRows = await createPatient(clinic);
    crm.state.withOpportunities.add(withRows.id);
    expect((await clinic.receptionist.agent.delete(`/api/contacts/${withRows.id}`)).status).toBe(204);
    const [hidden] = await app.infra.db.select({ deletedAt: contacts.deletedAt }).from(contacts).where(eq(contacts.id, withRows.id));
    expect(hidden?.deletedAt).toBeInstanceOf(Date);

    const withHistory = await createPatient(clinic);
    crm.state.withContract.add(withHistory.id);
    const refused = await clinic.receptionist.agent.delete(`/api/contacts/${withHistory.id}`);
    expect(refused.status).toBe(409);
    expect(refused.body.error.code).toBe('has_clinical_records');
  });

  it('anonymises its own data in the anonymisation, and guards the files it uses', async () => {
    const patient = await createPatient(clinic);
    expect((await clinic.admin.agent.post(`/api/contacts/${patient.id}/anonymize`).send({ confirm: true })).status).toBe(200);
    expect(crm.state.anonymized).toEqual([patient.id]);

    const file = await clinic.admin.agent.post('/api/files').attach('file', Buffer.from('%PDF-1.4 proposta'), { filename: 'proposta.pdf', contentType: 'application/pdf' });
    crm.state.lockedFiles.add(file.body.id);
    const del = await clinic.admin.agent.delete(`/api/files/${file.body.id}`);
    expect(del.status).toBe(409);
    expect(del.body.error.code).toBe('file_in_proposal');
  });

  it('receives the events it subscribes to', async () => {
    const patient = await createPatient(clinic);
    await app.infra.events.flush();
    expect(crm.state.created).toContain(patient.id);
  });
});

describe('wiring the modules', () => {
  it('refuses a module listed twice, a service or a timeline type declared by two modules', async () => {
    const { infra } = await getTestApp();
    expect(() => createModules(infra, [{ name: 'records', services: {} }])).toThrow('Module "records" is listed twice');
    expect(() => createModules(infra, [{ name: 'x', services: { contacts: {} } }])).toThrow('Service "contacts" of module "x" is declared by another module too');
    const appointment = async () => [];
    expect(() => createModules(infra, [{ name: 'x', services: {}, provides: { timeline: { appointment } } }])).toThrow('Timeline items "appointment" of module "x" are provided twice');
  });
});
