import { and, asc, eq, inArray } from 'drizzle-orm';
import { medicalRecords, users } from '../../../shared/schema/index.js';
import type { Db } from '../../infra/db.js';
import { attachmentsOf, type AttachmentInfo } from './attachments.js';

type Row = typeof medicalRecords.$inferSelect;

/**
 * Records as the API answers them: attachments, and addenda inline (content, author, signature),
 * since a clinician reads a record together with its corrections. Addenda are signed at creation.
 */
export async function presentRecords(db: Db, rows: Row[]) {
  const first = rows[0];
  if (!first) return [];
  const ids = rows.map((r) => r.id);
  const addenda = await db
    .select({ id: medicalRecords.id, of: medicalRecords.addendumOf, content: medicalRecords.content, authorId: medicalRecords.authorId, authorName: users.name, signedAt: medicalRecords.signedAt, createdAt: medicalRecords.createdAt })
    .from(medicalRecords)
    .innerJoin(users, eq(users.id, medicalRecords.authorId))
    .where(and(eq(medicalRecords.clinicId, first.clinicId), inArray(medicalRecords.addendumOf, ids)))
    .orderBy(asc(medicalRecords.createdAt), asc(medicalRecords.id));
  const attachments = await attachmentsOf(db, first.clinicId, [...ids, ...addenda.map((a) => a.id)]);
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
