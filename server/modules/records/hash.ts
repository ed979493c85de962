import { createHash } from 'node:crypto';
import type { medicalRecords } from '../../../shared/schema/index.js';

type RecordRow = typeof medicalRecords.$inferSelect;

/** JSON with object keys sorted at every level, so equal content always hashes the same. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value ?? null);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

export interface AttachmentDigest {
  fileId: string;
  sha256: string;
}

/**
 * SHA-256 of everything a signature vouches for: who, whom, what, when, the attached files'
 * digests and the previous link of the patient's chain. Version 1 of the canonical form.
 */
export function recordHash(row: RecordRow, attachments: AttachmentDigest[]): string {
  const body = {
    v: 1,
    id: row.id,
    clinicId: row.clinicId,
    contactId: row.contactId,
    appointmentId: row.appointmentId,
    addendumOf: row.addendumOf,
    authorId: row.authorId,
    type: row.type,
    content: row.content,
    chiefComplaint: row.chiefComplaint,
    history: row.history,
    examination: row.examination,
    diagnosis: row.diagnosis,
    plan: row.plan,
    prescriptions: row.prescriptions,
    examRequests: row.examRequests,
    vitalSigns: row.vitalSigns,
    signedBy: row.signedBy,
    signedAt: row.signedAt?.toISOString() ?? null,
    chainSeq: row.chainSeq,
    previousHash: row.previousHash,
    attachments: [...attachments].sort((a, b) => (a.fileId < b.fileId ? -1 : 1)),
  };
  return createHash('sha256').update(canonicalJson(body)).digest('hex');
}

export type BrokenReason = 'content_hash_mismatch' | 'previous_hash_mismatch' | 'sequence_gap';

/** Walks a patient's signed records in chain order and returns the first broken link, if any. */
export function verifyChain(rows: RecordRow[], attachmentsOf: (recordId: string) => AttachmentDigest[]) {
  let previous: string | null = null;
  let expectedSeq = 1;
  for (const row of rows) {
    const seq = row.chainSeq ?? 0;
    const broken = (reason: BrokenReason) => ({ valid: false, checked: rows.length, firstBroken: { recordId: row.id, chainSeq: seq, reason } });
    if (seq !== expectedSeq) return broken('sequence_gap');
    if (row.previousHash !== previous) return broken('previous_hash_mismatch');
    if (recordHash(row, attachmentsOf(row.id)) !== row.contentHash) return broken('content_hash_mismatch');
    previous = row.contentHash;
    expectedSeq += 1;
  }
  return { valid: true, checked: rows.length, firstBroken: null };
}
