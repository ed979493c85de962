import { eq, inArray, or } from 'drizzle-orm';
import { beforeAll, describe, expect, it } from 'vitest';
import { appointmentTags, contacts } from '../../shared/schema/index.js';
import { ClinicData, ClinicQuery, placeholder } from '../../server/infra/clinic-data.js';
import { getTestApp, type TestApp } from '../helpers/app.js';
import { createClinic, type TestClinic } from '../helpers/clinic.js';
import { createPatient, type Patient } from '../helpers/patients.js';

// ClinicData is the one place that writes the clinic filter: given another clinic's ids, it reads,
// changes and deletes nothing of that clinic.
describe('ClinicData', () => {
  let app: TestApp;
  let mine: TestClinic;
  let theirs: TestClinic;
  let myPatient: Patient;
  let theirPatient: Patient;

  beforeAll(async () => {
    app = await getTestApp();
    [mine, theirs] = await Promise.all([createClinic({ app }), createClinic({ app })]);
    [myPatient, theirPatient] = await Promise.all([createPatient(mine), createPatient(theirs)]);
  });

  const ids = [() => myPatient.id, () => theirPatient.id];
  const both = () => inArray(contacts.id, ids.map((id) => id()));

  it('selects, picks and joins only its clinic’s rows', async () => {
    const data = new ClinicData(mine.id, app.infra.db);
    expect((await data.select(contacts, both())).map((r) => r.id)).toEqual([myPatient.id]);
    expect(await data.pick({ id: contacts.id }, contacts, eq(contacts.id, theirPatient.id))).toEqual([]);
  });

  it('updates and deletes nothing of another clinic, even by its id', async () => {
    const data = new ClinicData(mine.id, app.infra.db);
    expect(await data.update(contacts, { notes: 'alterado' }, eq(contacts.id, theirPatient.id)).returning({ id: contacts.id })).toEqual([]);
    expect(await data.delete(contacts, eq(contacts.id, theirPatient.id)).returning({ id: contacts.id })).toEqual([]);
    const [still] = await app.infra.systemDb.select().from(contacts).where(eq(contacts.id, theirPatient.id));
    expect(still?.notes ?? null).not.toBe('alterado');
  });

  it('inserts with its own clinic id, and a transaction keeps the clinic', async () => {
    const data = new ClinicData(theirs.id, app.infra.db);
    const [tag] = await data.transaction((tx) => tx.insert(appointmentTags, { name: `Retorno ${Date.now()}`, color: '#123456' }).returning());
    expect(tag?.clinicId).toBe(theirs.id);
    expect(await new ClinicData(mine.id, app.infra.db).select(appointmentTags, eq(appointmentTags.id, tag?.id ?? ''))).toEqual([]);
  });

  it('builds a query once and runs it for each clinic on its own rows only, whatever the values say', async () => {
    const byIds = new ClinicQuery(app.infra.db, 'test.contacts', (data) =>
      data.pick({ id: contacts.id }, contacts, or(eq(contacts.id, placeholder('a', contacts.id)), eq(contacts.id, placeholder('b', contacts.id)))),
    );
    const values = { a: myPatient.id, b: theirPatient.id };
    expect(await byIds.run(mine.id, values)).toEqual([{ id: myPatient.id }]);
    expect(await byIds.run(theirs.id, values)).toEqual([{ id: theirPatient.id }]);
    // The clinic is filled after the caller's values: a clinicId among them changes nothing.
    expect(await byIds.run(mine.id, { ...values, clinicId: theirs.id })).toEqual([{ id: myPatient.id }]);
  });

  it('refuses to build a query holding a value, which every later run would reuse', () => {
    expect(() => new ClinicQuery(app.infra.db, 'test.fixed', (data) => data.pick({ id: contacts.id }, contacts, eq(contacts.id, myPatient.id)))).toThrow(/holds values/);
    expect(() => new ClinicQuery(app.infra.db, 'test.clinic', (data) => data.pick({ id: contacts.id }, contacts, eq(contacts.name, data.clinicId)))).toThrow(/only when it runs/);
  });
});
