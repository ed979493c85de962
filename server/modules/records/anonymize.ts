import { and, eq, isNull, or } from 'drizzle-orm';
import { files, medicalRecordAttachments, medicalRecords } from '../../../shared/schema/index.js';
import type { Tx } from '../../infra/db.js';
import type { Redact } from '../lgpd/redact.js';

const orNull = (text: string | null, redact: Redact) => (text === null ? null : redact(text));

/**
 * Anonymisation of a patient's drafts: the clinical text stays, the patient's identifiers go, in
 * every text field. Signed records and their files are immutable (a trigger refuses it) and are
 * kept as signed, as the law requires.
 */
export async function anonymizeDrafts(tx: Tx, clinicId: string, contactId: string, redact: Redact) {
  const drafts = await tx
    .select()
    .from(medicalRecords)
    .where(and(eq(medicalRecords.clinicId, clinicId), eq(medicalRecords.contactId, contactId), eq(medicalRecords.status, 'draft')));
  for (const d of drafts) {
    await tx
      .update(medicalRecords)
      .set({
        content: redact(d.content),
        chiefComplaint: orNull(d.chiefComplaint, redact),
        history: orNull(d.history, redact),
        examination: orNull(d.examination, redact),
        diagnosis: orNull(d.diagnosis, redact),
        plan: orNull(d.plan, redact),
        prescriptions: d.prescriptions.map(redact),
        examRequests: d.examRequests.map(redact),
        updatedAt: new Date(),
      })
      .where(eq(medicalRecords.id, d.id));
  }
}

/**
 * A file's name may name the patient ("rg-joana.pdf") even when it is attached to nothing, and a
 * file does not know whom it is about: every file name of the clinic loses the patient's
 * identifiers, except the files of signed records, frozen with them.
 */
export async function anonymizeFileNames(tx: Tx, clinicId: string, redact: Redact) {
  const candidates = await tx
    .select({ id: files.id, filename: files.filename })
    .from(files)
    .leftJoin(medicalRecordAttachments, eq(medicalRecordAttachments.fileId, files.id))
    .leftJoin(medicalRecords, eq(medicalRecords.id, medicalRecordAttachments.recordId))
    .where(and(eq(files.clinicId, clinicId), or(isNull(medicalRecords.status), eq(medicalRecords.status, 'draft'))));
  for (const f of candidates) {
    const filename = redact(f.filename);
    if (filename !== f.filename) await tx.update(files).set({ filename }).where(eq(files.id, f.id));
  }
}
