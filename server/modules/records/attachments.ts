import { eq, inArray, ne } from 'drizzle-orm';
import { files, medicalRecordAttachments } from '../../../shared/schema/index.js';
import type { ClinicData } from '../../infra/clinic-data.js';
import { conflict } from '../../lib/errors.js';
import type { FileService } from '../files/service.js';
import type { AttachmentFacts } from './chain.js';

export type AttachmentInfo = AttachmentFacts;

/** The files attached to the given records, by record id. */
export async function attachmentsOf(data: ClinicData, recordIds: string[]): Promise<Map<string, AttachmentInfo[]>> {
  const stored = await storedAttachmentsOf(data, recordIds);
  return new Map([...stored].map(([recordId, list]) => [recordId, list.map(({ storageKey: _k, ...f }) => f)]));
}

/** Like `attachmentsOf`, with each file's storage key (for re-reading the bytes). */
export async function storedAttachmentsOf(data: ClinicData, recordIds: string[]) {
  const byRecord = new Map<string, (AttachmentInfo & { storageKey: string })[]>();
  if (recordIds.length === 0) return byRecord;
  const rows = await data
    .pick(
      { recordId: medicalRecordAttachments.recordId, id: files.id, filename: files.filename, contentType: files.contentType, size: files.size, sha256: files.sha256, storageKey: files.storageKey },
      medicalRecordAttachments,
      inArray(medicalRecordAttachments.recordId, recordIds),
    )
    .innerJoin(files, data.owns(files, eq(files.id, medicalRecordAttachments.fileId)));
  for (const { recordId, ...file } of rows) byRecord.set(recordId, [...(byRecord.get(recordId) ?? []), file]);
  return byRecord;
}

/** 404 unless every file is of the clinic; call before the transaction (PGlite has one connection). */
export async function checkFiles(fileService: FileService, clinicId: string, fileIds: string[] | undefined) {
  for (const id of new Set(fileIds)) await fileService.get(clinicId, id);
}

/** Replaces a draft's attachments (files checked by `checkFiles`); a file belongs to one record only. */
export async function setAttachments(data: ClinicData, recordId: string, fileIds: string[]) {
  const unique = [...new Set(fileIds)];
  if (unique.length > 0) {
    const taken = await data.pick(
      { fileId: medicalRecordAttachments.fileId },
      medicalRecordAttachments,
      inArray(medicalRecordAttachments.fileId, unique),
      ne(medicalRecordAttachments.recordId, recordId),
    );
    if (taken.length > 0) throw conflict('file_already_attached', 'A file is already attached to another record', { fileIds: taken.map((t) => t.fileId) });
  }
  await data.delete(medicalRecordAttachments, eq(medicalRecordAttachments.recordId, recordId));
  if (unique.length > 0) await data.insert(medicalRecordAttachments, unique.map((fileId) => ({ recordId, fileId })));
}

/** The record a file is attached to, if any. */
export async function recordOfFile(data: ClinicData, fileId: string) {
  const [row] = await data.pick({ recordId: medicalRecordAttachments.recordId }, medicalRecordAttachments, eq(medicalRecordAttachments.fileId, fileId));
  return row?.recordId ?? null;
}
