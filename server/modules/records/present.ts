import { asc, eq, inArray } from 'drizzle-orm';
import { medicalRecords, users } from '../../../shared/schema/index.js';
import type { ClinicData } from '../../infra/clinic-data.js';
import { attachmentsOf, type AttachmentInfo } from './attachments.js';

type Row = typeof medicalRecords.$inferSelect;
export type PresentedRecord = Awaited<ReturnType<typeof presentRecords>>[number];

/**
 * Records as the API answers them: attachments, and addenda inline (content, author, signature),
 * since a clinician reads a record together with its corrections. Addenda are signed at creation.
 */
export async function presentRecords(data: ClinicData, rows: Row[]) {
  if (rows.length === 0) return [];
  const ids = rows.map((r) => r.id);
  const addenda = await data
    .pick(
      { id: medicalRecords.id, of: medicalRecords.addendumOf, content: medicalRecords.content, authorId: medicalRecords.authorId, authorName: users.name, signedAt: medicalRecords.signedAt, createdAt: medicalRecords.createdAt },
      medicalRecords,
      inArray(medicalRecords.addendumOf, ids),
    )
    .innerJoin(users, eq(users.id, medicalRecords.authorId))
    .orderBy(asc(medicalRecords.createdAt), asc(medicalRecords.id));
  const attachments = await attachmentsOf(data, [...ids, ...addenda.map((a) => a.id)]);
  return rows.map(({ clinicId: _c, chainSeq: _s, ...row }) => ({
    ...row,
    signedAt: row.signedAt?.toISOString() ?? null,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
    attachments: attachments.get(row.id) ?? ([] as AttachmentInfo[]),
    addenda: addenda
      .filter((a) => a.of === row.id)
      .map((a) => ({ id: a.id, content: a.content, authorId: a.authorId, authorName: a.authorName, signedAt: a.signedAt?.toISOString() ?? null, attachments: attachments.get(a.id) ?? [] })),
  }));
}
