import { z } from 'zod';

const LONG_TEXT = 20_000;
const FIELD_TEXT = 5_000;
const longText = z.string().max(LONG_TEXT);
const fieldText = z.string().max(FIELD_TEXT).nullable();
const listItem = z.string().trim().min(1).max(500);

export const recordType = z.enum(['consultation', 'evolution', 'exam', 'prescription', 'note']);

export const vitalSigns = z.strictObject({
  systolic: z.number().int().min(30).max(300).optional(),
  diastolic: z.number().int().min(10).max(200).optional(),
  heartRate: z.number().int().min(10).max(300).optional(),
  respiratoryRate: z.number().int().min(1).max(120).optional(),
  temperature: z.number().min(25).max(45).optional(),
  weightKg: z.number().min(0.2).max(700).optional(),
  heightCm: z.number().min(20).max(280).optional(),
  oxygenSaturation: z.number().int().min(0).max(100).optional(),
});

/** The clinical fields of a record; all optional so a draft can be saved bit by bit. */
const clinicalFields = {
  content: longText.optional(),
  chiefComplaint: fieldText.optional(),
  history: fieldText.optional(),
  examination: fieldText.optional(),
  diagnosis: fieldText.optional(),
  plan: fieldText.optional(),
  prescriptions: z.array(listItem).max(50).optional(),
  examRequests: z.array(listItem).max(50).optional(),
  vitalSigns: vitalSigns.nullable().optional(),
  /** Files uploaded through POST /files; replaces the draft's attachments. */
  attachmentIds: z.array(z.uuid()).max(20).optional(),
};

export const recordCreate = z.strictObject({
  contactId: z.uuid(),
  appointmentId: z.uuid().optional(),
  type: recordType,
  ...clinicalFields,
});

export const recordPatch = z
  .strictObject({ type: recordType.optional(), appointmentId: z.uuid().nullable().optional(), ...clinicalFields })
  .refine((p) => Object.keys(p).length > 0, 'Send at least one field');

export const addendumCreate = z.strictObject({
  content: longText.min(1),
  attachmentIds: clinicalFields.attachmentIds,
});

export const attachment = z.object({ id: z.uuid(), filename: z.string(), contentType: z.string(), size: z.number().int(), sha256: z.string() });

/** A correction of a signed record, shown inline with it (an addendum is signed when created). */
export const addendum = z.object({
  id: z.uuid(),
  content: z.string(),
  authorId: z.uuid(),
  authorName: z.string(),
  signedAt: z.string().nullable(),
  attachments: z.array(attachment),
});

export const medicalRecord = z.object({
  id: z.uuid(),
  contactId: z.uuid(),
  appointmentId: z.uuid().nullable(),
  addendumOf: z.uuid().nullable(),
  authorId: z.uuid(),
  type: recordType,
  status: z.enum(['draft', 'signed']),
  content: z.string(),
  chiefComplaint: z.string().nullable(),
  history: z.string().nullable(),
  examination: z.string().nullable(),
  diagnosis: z.string().nullable(),
  plan: z.string().nullable(),
  prescriptions: z.array(z.string()),
  examRequests: z.array(z.string()),
  vitalSigns: vitalSigns.nullable(),
  signedAt: z.string().nullable(),
  signedBy: z.uuid().nullable(),
  /** HMAC-SHA256 of the signed content (keyed outside the database) and of the previous link. */
  contentHash: z.string().nullable(),
  previousHash: z.string().nullable(),
  attachments: z.array(attachment),
  addenda: z.array(addendum),
  createdAt: z.string(),
  updatedAt: z.string(),
});

export const CHAIN_BREAK_REASONS = ['content_hash_mismatch', 'previous_hash_mismatch', 'sequence_gap', 'attachment_mismatch', 'head_mismatch', 'record_missing'] as const;

export const chainReport = z.object({
  valid: z.boolean(),
  checked: z.number().int(),
  /**
   * The first broken link: a record whose MAC, link or sequence does not match, an attachment whose
   * stored bytes changed, a chain head the records no longer match, or (record_missing) the head
   * of a signed record that is gone.
   */
  firstBroken: z
    .object({
      recordId: z.uuid(),
      chainSeq: z.number().int(),
      reason: z.enum(CHAIN_BREAK_REASONS),
    })
    .nullable(),
});
