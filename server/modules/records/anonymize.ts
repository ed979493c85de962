import { eq, isNull, or } from 'drizzle-orm';
import { files, medicalRecordAttachments, medicalRecords } from '../../../shared/schema/index.js';
import type { ClinicData } from '../../infra/clinic-data.js';
import type { Redact } from '../lgpd/redact.js';

const orNull = (text: string | null, redact: Redact) => (text === null ? null : redact(text));

/**
 * Anonymisation of a patient's drafts: the clinical text stays, the patient's identifiers go, in
 * every text field. Signed records and their files are immutable (a trigger refuses it) and are
 * kept as signed, as the law requires.
 */
export async function anonymizeDrafts(data: ClinicData, contactId: string, redact: Redact) {
  const drafts = await data.select(medicalRecords, eq(medicalRecords.contactId, contactId), eq(medicalRecords.status, 'draft'));
  for (const d of drafts) {
    await data.update(
      medicalRecords,
      {
        content: redact(d.content),
        chiefComplaint: orNull(d.chiefComplaint, redact),
        history: orNull(d.history, redact),
        examination: orNull(d.examination, redact),
        diagnosis: orNull(d.diagnosis, redact),
        plan: orNull(d.plan, redact),
        prescriptions: d.prescriptions.map(redact),
        examRequests: d.examRequests.map(redact),
        updatedAt: new Date(),
      },
      eq(medicalRecords.id, d.id),
    );
  }
}

/**
 * A file's name may name the patient ("rg-joana.pdf") even when it is attached to nothing, and a
 * file does not know whom it is about: every file name of the clinic loses the patient's
 * identifiers, except the files of signed records, frozen with them.
 */
export async function anonymizeFileNames(data: ClinicData, redact: Redact) {
  const candidates = await data
    .pick({ id: files.id, filename: files.filename }, files, or(isNull(medicalRecords.status), eq(medicalRecords.status, 'draft')))
    .leftJoin(medicalRecordAttachments, data.owns(medicalRecordAttachments, eq(medicalRecordAttachments.fileId, files.id)))
    .leftJoin(medicalRecords, data.owns(medicalRecords, eq(medicalRecords.id, medicalRecordAttachments.recordId)));
  for (const f of candidates) {
    const filename = redact(f.filename);
    if (filename !== f.filename) await data.update(files, { filename }, eq(files.id, f.id));
  }
}
