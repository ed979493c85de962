import { and, eq, inArray, ne } from 'drizzle-orm';
import { files, medicalRecordAttachments } from '../../../shared/schema/index.js';
import type { Db, Tx } from '../../infra/db.js';
import { conflict } from '../../http/errors.js';
import type { FileService } from '../files/service.js';
import type { AttachmentFacts } from './chain.js';

export type AttachmentInfo = AttachmentFacts;

/** The files attached to the given records, by record id. */
export async function attachmentsOf(db: Db | Tx, clinicId: string, recordIds: string[]): Promise<Map<string, AttachmentInfo[]>> {
  const stored = await storedAttachmentsOf(db, clinicId, recordIds);
  return new Map([...stored].map(([recordId, list]) => [recordId, list.map(({ storageKey: _k, ...f }) => f)]));
}

/** Like `attachmentsOf`, with each file's storage key (for re-reading the bytes). */
export async function storedAttachmentsOf(db: Db | Tx, clinicId: string, recordIds: string[]) {
  const byRecord = new Map<string, (AttachmentInfo & { storageKey: string })[]>();
  if (recordIds.length === 0) return byRecord;
  const rows = await db
    .select({ recordId: medicalRecordAttachments.recordId, id: files.id, filename: files.filename, contentType: files.contentType, size: files.size, sha256: files.sha256, storageKey: files.storageKey })
    .from(medicalRecordAttachments)
    .innerJoin(files, eq(files.id, medicalRecordAttachments.fileId))
    .where(and(eq(medicalRecordAttachments.clinicId, clinicId), inArray(medicalRecordAttachments.recordId, recordIds)));
  for (const { recordId, ...file } of rows) byRecord.set(recordId, [...(byRecord.get(recordId) ?? []), file]);
  return byRecord;
}

/** 404 unless every file is of the clinic; call before the transaction (PGlite has one connection). */
export async function checkFiles(fileService: FileService, clinicId: string, fileIds: string[] | undefined) {
  for (const id of new Set(fileIds)) await fileService.get(clinicId, id);
}

/** Replaces a draft's attachments (files checked by `checkFiles`); a file belongs to one record only. */
export async function setAttachments(tx: Tx, clinicId: string, recordId: string, fileIds: string[]) {
  const unique = [...new Set(fileIds)];
  if (unique.length > 0) {
    const taken = await tx
      .select({ fileId: medicalRecordAttachments.fileId })
      .from(medicalRecordAttachments)
      .where(and(inArray(medicalRecordAttachments.fileId, unique), ne(medicalRecordAttachments.recordId, recordId)));
    if (taken.length > 0) throw conflict('file_already_attached', 'A file is already attached to another record', { fileIds: taken.map((t) => t.fileId) });
  }
  await tx.delete(medicalRecordAttachments).where(eq(medicalRecordAttachments.recordId, recordId));
  if (unique.length > 0) await tx.insert(medicalRecordAttachments).values(unique.map((fileId) => ({ recordId, fileId, clinicId })));
}

/** The record (and patient) a file is attached to, if any. */
export async function recordOfFile(db: Db, clinicId: string, fileId: string) {
  const [row] = await db
    .select({ recordId: medicalRecordAttachments.recordId })
    .from(medicalRecordAttachments)
    .where(and(eq(medicalRecordAttachments.clinicId, clinicId), eq(medicalRecordAttachments.fileId, fileId)));
  return row?.recordId ?? null;
}
