// The restore drill of docs/deploy.md ("Backups and restore"): a clinic with a patient, signed
// medical records (hash chain) and audit rows is backed up with the code behind `npm run db:backup`,
// restored into a fresh database with `db:restore`'s, and the app booted on the copy serves the
// patient, verifies the chain and holds the same audit trail.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { asc, eq } from 'drizzle-orm';
import postgres from 'postgres';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { auditLog } from '../../shared/schema/index.js';
import { openDatabase, type Database } from '../../server/infra/db.js';
import { DataDirLockedError } from '../../server/infra/data-dir-lock.js';
import { BackupError, backup, restore } from '../../scripts/lib/backup.js';
import { buildTestApp, getTestApp, type TestApp } from '../helpers/app.js';
import { createClinic, signIn, type TestClinic } from '../helpers/clinic.js';
import { createPatient, type Patient } from '../helpers/patients.js';
import { signedRecord } from '../helpers/records.js';
import { canRun } from '../helpers/skip.js';

const work = mkdtempSync(path.join(tmpdir(), 'opb-backup-'));
const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  rmSync(work, { recursive: true, force: true });
});

interface Source {
  clinic: TestClinic;
  patient: Patient;
  records: string[];
  audit: unknown[];
}

const auditOf = (app: TestApp, clinicId: string) =>
  app.infra.db
    .select({ id: auditLog.id, action: auditLog.action, entityId: auditLog.entityId, contactId: auditLog.contactId, details: auditLog.details, createdAt: auditLog.createdAt })
    .from(auditLog)
    .where(eq(auditLog.clinicId, clinicId))
    .orderBy(asc(auditLog.createdAt), asc(auditLog.id));

/** A patient with three signed records, and the clinic's audit trail as it stands. */
async function clinicWithRecords(app: TestApp): Promise<Source> {
  const clinic = await createClinic({ app });
  const patient = await createPatient(clinic);
  const records: string[] = [];
  for (const content of ['Primeira consulta.', 'Retorno: melhora parcial.', 'Alta.']) records.push((await signedRecord(clinic, patient.id, { content })).id);
  const audit = await auditOf(app, clinic.id);
  expect(audit.map((a) => a.action)).toContain('medical_record.signed');
  return { clinic, patient, records, audit };
}

/** What a professional of the clinic sees on the restored copy, and its audit trail before any request. */
async function checkRestored(database: Database, source: Source) {
  await database.migrate(); // as the server does at boot: nothing pending, the journal came along
  const app = await buildTestApp({ database });
  cleanups.push(() => app.close());
  expect(await auditOf(app, source.clinic.id)).toEqual(source.audit);
  const professional = await signIn(app, source.clinic.professional.email);
  const patient = await professional.get(`/api/contacts/${source.patient.id}`);
  expect(patient.status).toBe(200);
  expect(patient.body.name).toBe(source.patient.name);
  const list = await professional.get(`/api/contacts/${source.patient.id}/medical-records`);
  expect(list.status).toBe(200);
  expect((list.body.items as { id: string }[]).map((r) => r.id).sort()).toEqual([...source.records].sort());
  const verify = await professional.get(`/api/contacts/${source.patient.id}/medical-records/verify`);
  expect(verify.body).toEqual({ valid: true, checked: 3, firstBroken: null });
}

const hasPgDump = (() => {
  try {
    execFileSync('pg_dump', ['--version']);
    return true;
  } catch {
    return false;
  }
})();
const databaseUrl = inject('databaseUrl');

describe.runIf(databaseUrl && canRun('backup drill on Postgres', hasPgDump, 'pg_dump is not installed (postgresql-client)'))('backup and restore on Postgres', () => {
  it('restores a pg_dump of the database into a fresh one that the app serves from', { timeout: 120_000 }, async () => {
    const source = await clinicWithRecords(await getTestApp());
    const file = path.join(work, 'operabase.dump');
    await backup({ databaseUrl, dataDir: work }, file);

    const name = `opb_restore_${Date.now().toString(36)}`;
    const admin = postgres(databaseUrl as string, { max: 1, onnotice: () => {} });
    await admin.unsafe(`create database ${name}`);
    cleanups.push(async () => {
      await admin.unsafe(`drop database if exists ${name} with (force)`);
      await admin.end();
    });
    const url = new URL(databaseUrl as string);
    url.pathname = `/${name}`;
    await restore({ databaseUrl: url.toString(), dataDir: work }, file);
    // A second restore onto the now full database is refused before pg_restore touches it.
    await expect(restore({ databaseUrl: url.toString(), dataDir: work }, file)).rejects.toThrow(BackupError);

    const database = await openDatabase({ url: url.toString(), poolMax: 2 });
    cleanups.push(() => database.close());
    await checkRestored(database, source);
  });
});

describe('backup and restore of the embedded database (DATA_DIR)', () => {
  it('copies a stopped DATA_DIR, refuses while a server holds it, and the app serves from the restored folder', { timeout: 240_000 }, async () => {
    const dataDir = path.join(work, 'data');
    const original = await openDatabase({ dataDir });
    await original.migrate();
    const app = await buildTestApp({ database: original });
    const source = await clinicWithRecords(app);
    await app.close();
    await original.close();

    // A live process (here the test runner's parent) holding the folder: no copy is taken.
    writeFileSync(path.join(dataDir, 'lock'), String(process.ppid));
    await expect(backup({ dataDir }, path.join(work, 'refused.tar.gz'))).rejects.toThrow(DataDirLockedError);
    rmSync(path.join(dataDir, 'lock'));

    const file = path.join(work, 'data.tar.gz');
    await backup({ dataDir }, file);
    await expect(restore({ dataDir }, file)).rejects.toThrow(/not empty/);
    const restoredDir = path.join(work, 'restored');
    await restore({ dataDir: restoredDir }, file);
    const database = await openDatabase({ dataDir: restoredDir });
    cleanups.push(() => database.close());
    await checkRestored(database, source);
  });
});
