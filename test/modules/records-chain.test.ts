import { createHash } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { asc, eq, sql } from 'drizzle-orm';
import { files, medicalRecordChainHeads, medicalRecords } from '../../shared/schema/index.js';
import { canonicalJson } from '../../server/modules/records/chain.js';
import { buildTestApp, getTestApp, type TestApp } from '../helpers/app.js';
import { createClinic, type TestClinic } from '../helpers/clinic.js';
import { createPatient } from '../helpers/patients.js';
import { signedRecord, uploadFile } from '../helpers/records.js';
import { FakeSupabaseStorage } from '../fakes/supabase-storage.js';

type Row = typeof medicalRecords.$inferSelect;

/** What the chain used to be: an unkeyed SHA-256 anyone with the code and the rows can recompute. */
function unkeyedHash(row: Row, attachments: { fileId: string; sha256: string }[] = []) {
  const body = {
    v: 1, id: row.id, clinicId: row.clinicId, contactId: row.contactId, appointmentId: row.appointmentId, addendumOf: row.addendumOf, authorId: row.authorId,
    type: row.type, content: row.content, chiefComplaint: row.chiefComplaint, history: row.history, examination: row.examination, diagnosis: row.diagnosis,
    plan: row.plan, prescriptions: row.prescriptions, examRequests: row.examRequests, vitalSigns: row.vitalSigns, signedBy: row.signedBy,
    signedAt: row.signedAt?.toISOString() ?? null, chainSeq: row.chainSeq, previousHash: row.previousHash, attachments,
  };
  return createHash('sha256').update(canonicalJson(body)).digest('hex');
}

/** The DBA's way past the triggers: a superuser session with session_replication_role = replica. */
function asDba<T>(app: TestApp, run: (tx: Parameters<Parameters<TestApp['infra']['db']['transaction']>[0]>[0]) => Promise<T>) {
  return app.infra.db.transaction(async (tx) => {
    await tx.execute(sql`set local session_replication_role = replica`);
    return run(tx);
  });
}

/** drizzle wraps the driver's error; the trigger's message is on the cause. */
const refusedWith = (message: string) => (err: unknown) => String((err as { cause?: { message?: string } }).cause?.message).includes(message);

const verify = async (clinic: TestClinic, contactId: string) => {
  const res = await clinic.professional.agent.get(`/api/contacts/${contactId}/medical-records/verify`);
  expect(res.status).toBe(200);
  return res.body as { valid: boolean; checked: number; firstBroken: { recordId: string; chainSeq: number; reason: string } | null };
};

async function threeSigned(clinic: TestClinic) {
  const patient = await createPatient(clinic);
  const first = await signedRecord(clinic, patient.id);
  const second = await signedRecord(clinic, patient.id, { content: 'Retorno: melhora parcial.' });
  const third = await signedRecord(clinic, patient.id, { content: 'Alta.' });
  return { patient, first, second, third };
}

beforeAll(() => getTestApp());

describe('signed-record chain under a key the database does not hold', () => {
  it('chains each signature and records the chain head after each one', async () => {
    const clinic = await createClinic();
    const { patient, first, second, third } = await threeSigned(clinic);
    expect(second.previousHash).toBe(first.contentHash);
    expect(third.previousHash).toBe(second.contentHash);
    expect(await verify(clinic, patient.id)).toEqual({ valid: true, checked: 3, firstBroken: null });
    const heads = await clinic.app.infra.db.select().from(medicalRecordChainHeads).where(eq(medicalRecordChainHeads.contactId, patient.id)).orderBy(asc(medicalRecordChainHeads.length));
    expect(heads.map((h) => [h.length, h.headRecordId, h.headMac])).toEqual([
      [1, first.id, first.contentHash],
      [2, second.id, second.contentHash],
      [3, third.id, third.contentHash],
    ]);
  });

  it('says invalid when a DBA changes a signed record and recomputes the unkeyed hashes down the chain', async () => {
    const clinic = await createClinic();
    const { patient, second, third } = await threeSigned(clinic);
    await asDba(clinic.app, async (tx) => {
      const [row] = await tx.select().from(medicalRecords).where(eq(medicalRecords.id, second.id));
      const forged = { ...(row as Row), content: 'Retorno: paciente assintomático.' };
      forged.contentHash = unkeyedHash(forged);
      await tx.update(medicalRecords).set({ content: forged.content, contentHash: forged.contentHash }).where(eq(medicalRecords.id, second.id));
      const [next] = await tx.select().from(medicalRecords).where(eq(medicalRecords.id, third.id));
      const relinked = { ...(next as Row), previousHash: forged.contentHash };
      await tx.update(medicalRecords).set({ previousHash: relinked.previousHash, contentHash: unkeyedHash(relinked) }).where(eq(medicalRecords.id, third.id));
    });
    expect((await verify(clinic, patient.id)).firstBroken).toEqual({ recordId: second.id, chainSeq: 2, reason: 'content_hash_mismatch' });
  });

  it('says invalid when the newest signed record is deleted, and the head cannot be deleted even as replica', async () => {
    const clinic = await createClinic();
    const { patient, third } = await threeSigned(clinic);
    await asDba(clinic.app, (tx) => tx.delete(medicalRecords).where(eq(medicalRecords.id, third.id)));
    expect(await verify(clinic, patient.id)).toEqual({ valid: false, checked: 2, firstBroken: { recordId: third.id, chainSeq: 3, reason: 'record_missing' } });

    await expect(asDba(clinic.app, (tx) => tx.delete(medicalRecordChainHeads).where(eq(medicalRecordChainHeads.contactId, patient.id)))).rejects.toSatisfy(refusedWith('chain_head_append_only'));
    await expect(asDba(clinic.app, (tx) => tx.update(medicalRecordChainHeads).set({ length: 2 }).where(eq(medicalRecordChainHeads.headRecordId, third.id)))).rejects.toSatisfy(refusedWith('chain_head_append_only'));
    const heads = await clinic.app.infra.db.select().from(medicalRecordChainHeads).where(eq(medicalRecordChainHeads.contactId, patient.id));
    expect(heads).toHaveLength(3);
  });

  it('says invalid when a head is appended without the key', async () => {
    const clinic = await createClinic();
    const { patient, third } = await threeSigned(clinic);
    await clinic.app.infra.db.insert(medicalRecordChainHeads).values({ clinicId: clinic.id, contactId: patient.id, length: 4, headRecordId: third.id, headMac: third.contentHash, mac: 'f'.repeat(64) });
    expect((await verify(clinic, patient.id)).firstBroken).toEqual({ recordId: third.id, chainSeq: 4, reason: 'head_mismatch' });
  });

  it('re-reads attachments: overwritten bytes, a changed stored digest or a renamed file all break the chain', async () => {
    const clinic = await createClinic();
    const patient = await createPatient(clinic);
    const [laudo, receita] = [await uploadFile(clinic, '%PDF-1.4 laudo original'), await uploadFile(clinic, '%PDF-1.4 receita', 'receita.pdf')];
    const record = await signedRecord(clinic, patient.id, { attachmentIds: [laudo] });
    const other = await signedRecord(clinic, patient.id, { attachmentIds: [receita] });
    expect(await verify(clinic, patient.id)).toMatchObject({ valid: true, checked: 2 });

    const storage = clinic.app.infra.storage;
    const [file] = await clinic.app.infra.db.select().from(files).where(eq(files.id, laudo));
    await storage.put(file!.storageKey, Buffer.from('%PDF-1.4 laudo adulterado'), 'application/pdf');
    expect((await verify(clinic, patient.id)).firstBroken).toEqual({ recordId: record.id, chainSeq: 1, reason: 'attachment_mismatch' });

    // Covering the tracks by storing the new bytes' digest only moves the break to the record's MAC.
    await clinic.app.infra.db.update(files).set({ sha256: createHash('sha256').update('%PDF-1.4 laudo adulterado').digest('hex') }).where(eq(files.id, laudo));
    expect((await verify(clinic, patient.id)).firstBroken).toEqual({ recordId: record.id, chainSeq: 1, reason: 'content_hash_mismatch' });

    await clinic.app.infra.db.update(files).set({ filename: 'receita-falsa.pdf' }).where(eq(files.id, receita));
    await storage.put(file!.storageKey, Buffer.from('%PDF-1.4 laudo original'), 'application/pdf');
    await clinic.app.infra.db.update(files).set({ sha256: createHash('sha256').update('%PDF-1.4 laudo original').digest('hex') }).where(eq(files.id, laudo));
    expect((await verify(clinic, patient.id)).firstBroken).toEqual({ recordId: other.id, chainSeq: 2, reason: 'content_hash_mismatch' });
  });

  it('re-reads attachments from Supabase Storage through the adapter', async () => {
    const fake = await new FakeSupabaseStorage('service-key').start();
    const app = await buildTestApp({ env: { SUPABASE_URL: fake.url, SUPABASE_SERVICE_ROLE_KEY: 'service-key' } });
    try {
      const clinic = await createClinic({ app });
      const patient = await createPatient(clinic);
      const fileId = await uploadFile(clinic, '%PDF-1.4 exame');
      const record = await signedRecord(clinic, patient.id, { attachmentIds: [fileId] });
      expect(await verify(clinic, patient.id)).toMatchObject({ valid: true, checked: 1 });
      const [key] = [...fake.objects.keys()].filter((k) => k.endsWith(fileId));
      fake.objects.set(key!, { data: Buffer.from('%PDF-1.4 outro exame'), contentType: 'application/pdf' });
      expect((await verify(clinic, patient.id)).firstBroken).toEqual({ recordId: record.id, chainSeq: 1, reason: 'attachment_mismatch' });
      fake.objects.delete(key!);
      expect((await verify(clinic, patient.id)).firstBroken?.reason).toBe('attachment_mismatch');
    } finally {
      await app.close();
      await fake.stop();
    }
  });
});

