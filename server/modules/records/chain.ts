import { createHmac, timingSafeEqual } from 'node:crypto';
import type { CHAIN_BREAK_REASONS } from '../../../shared/api/records.js';
import type { medicalRecordChainHeads, medicalRecords } from '../../../shared/schema/index.js';

type RecordRow = typeof medicalRecords.$inferSelect;
type HeadRow = typeof medicalRecordChainHeads.$inferSelect;

/** JSON with object keys sorted at every level, so equal content always gives the same MAC. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value ?? null);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

/** What a signature vouches for about an attached file: its name, type, size and bytes (SHA-256). */
export interface AttachmentFacts {
  id: string;
  filename: string;
  contentType: string;
  size: number;
  sha256: string;
}

/**
 * HMAC-SHA256 under a key derived (HKDF) from ENCRYPTION_KEY, which the database never holds: with
 * database access alone a changed record cannot be given a matching MAC. Version 2 of the
 * canonical form (version 1 was an unkeyed SHA-256).
 */
export const CHAIN_KEY_LABEL = 'medical-records-chain/v2';

export class ChainMac {
  /** `key`: SecretBox.deriveKey(CHAIN_KEY_LABEL), so the database never holds it. */
  constructor(private readonly key: Buffer) {}

  private mac(value: unknown): string {
    return createHmac('sha256', this.key).update(canonicalJson(value)).digest('hex');
  }

  private static same(a: string, b: string | null): boolean {
    return b !== null && a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));
  }

  record(row: RecordRow, attachments: AttachmentFacts[]): string {
    return this.mac({
      v: 2,
      kind: 'medical_record',
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
      attachments: [...attachments].sort((a, b) => (a.id < b.id ? -1 : 1)).map((f) => ({ fileId: f.id, filename: f.filename, contentType: f.contentType, size: f.size, sha256: f.sha256 })),
    });
  }

  head(h: Pick<HeadRow, 'clinicId' | 'contactId' | 'length' | 'headRecordId' | 'headMac'>): string {
    return this.mac({ v: 2, kind: 'chain_head', clinicId: h.clinicId, contactId: h.contactId, length: h.length, headRecordId: h.headRecordId, headMac: h.headMac });
  }

  recordMatches(row: RecordRow, attachments: AttachmentFacts[]): boolean {
    return ChainMac.same(this.record(row, attachments), row.contentHash);
  }

  headMatches(h: HeadRow): boolean {
    return ChainMac.same(this.head(h), h.mac);
  }
}

export type BrokenReason = (typeof CHAIN_BREAK_REASONS)[number];

export interface ChainEvidence {
  /** The patient's signed records in chain order. */
  rows: RecordRow[];
  /** The patient's chain heads in length order. */
  heads: HeadRow[];
  /** Each record's attachments as the database describes them now. */
  attachments: (recordId: string) => AttachmentFacts[];
  /** SHA-256 of a file's stored bytes, read again from storage (null when the file is gone). */
  storedSha256: (fileId: string) => string | null;
}

/**
 * Walks the chain and returns the first broken link: a record whose MAC, link or sequence does not
 * match, an attachment whose bytes changed, or a head (one per signature) that the records no
 * longer match, which is how the deletion of the newest record shows.
 */
export function verifyChain(mac: ChainMac, { rows, heads, attachments, storedSha256 }: ChainEvidence) {
  const checked = rows.length;
  const broken = (recordId: string, chainSeq: number, reason: BrokenReason) => ({ valid: false, checked, firstBroken: { recordId, chainSeq, reason } });
  const headAt = new Map(heads.map((h) => [h.length, h]));
  let previous: string | null = null;
  for (const [index, row] of rows.entries()) {
    const seq = row.chainSeq ?? 0;
    if (seq !== index + 1) return broken(row.id, seq, 'sequence_gap');
    if (row.previousHash !== previous) return broken(row.id, seq, 'previous_hash_mismatch');
    const files = attachments(row.id);
    if (!mac.recordMatches(row, files)) return broken(row.id, seq, 'content_hash_mismatch');
    if (files.some((f) => storedSha256(f.id) !== f.sha256)) return broken(row.id, seq, 'attachment_mismatch');
    const head = headAt.get(seq);
    if (!head || !mac.headMatches(head) || head.headRecordId !== row.id || head.headMac !== row.contentHash) return broken(row.id, seq, 'head_mismatch');
    previous = row.contentHash;
  }
  // A head past the last record: signed records were deleted from the end of the chain.
  const beyond = heads.find((h) => h.length > rows.length);
  if (beyond) return broken(beyond.headRecordId, beyond.length, mac.headMatches(beyond) ? 'record_missing' : 'head_mismatch');
  return { valid: true, checked, firstBroken: null };
}
