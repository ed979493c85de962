import { sql } from 'drizzle-orm';
import { boolean, foreignKey, index, inet, integer, jsonb, pgEnum, pgTable, primaryKey, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { clinics, files, users } from './core.js';
import { contacts } from './contacts.js';
import { appointments } from './scheduling.js';

export const recordTypeEnum = pgEnum('medical_record_type', ['consultation', 'evolution', 'exam', 'prescription', 'note']);
export const recordStatusEnum = pgEnum('medical_record_status', ['draft', 'signed']);

export interface VitalSigns {
  systolic?: number;
  diastolic?: number;
  heartRate?: number;
  respiratoryRate?: number;
  temperature?: number;
  weightKg?: number;
  heightCm?: number;
  oxygenSaturation?: number;
}

/**
 * Prontuários. Drafts are edited by their author; signing freezes a row (a trigger refuses UPDATE
 * and DELETE of signed rows) and chains its HMAC-SHA256 (`content_hash`, keyed outside the
 * database) to the patient's previous signed row; `medical_record_chain_heads` records each step.
 * Addenda are rows with `addendum_of` set, signed at creation. Foreign keys restrict deletion:
 * records are kept for the 20 years the law requires.
 */
export const medicalRecords = pgTable(
  'medical_records',
  {
    id: uuid('id').primaryKey().default(sql`gen_random_uuid()`),
    clinicId: uuid('clinic_id').notNull().references(() => clinics.id),
    contactId: uuid('contact_id').notNull().references(() => contacts.id),
    appointmentId: uuid('appointment_id'),
    addendumOf: uuid('addendum_of'),
    authorId: uuid('author_id').notNull().references(() => users.id),
    type: recordTypeEnum('type').notNull(),
    status: recordStatusEnum('status').notNull().default('draft'),
    content: text('content').notNull().default(''),
    chiefComplaint: text('chief_complaint'),
    history: text('history'),
    examination: text('examination'),
    diagnosis: text('diagnosis'),
    plan: text('plan'),
    prescriptions: jsonb('prescriptions').$type<string[]>().notNull().default([]),
    examRequests: jsonb('exam_requests').$type<string[]>().notNull().default([]),
    vitalSigns: jsonb('vital_signs').$type<VitalSigns>(),
    signedAt: timestamp('signed_at', { withTimezone: true }),
    signedBy: uuid('signed_by').references(() => users.id),
    /** Position in the patient's chain of signed records, from 1. */
    chainSeq: integer('chain_seq'),
    /** MAC of the previous link, and this record's MAC (see server/modules/records/chain.ts). */
    previousHash: text('previous_hash'),
    contentHash: text('content_hash'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    index('medical_records_contact_idx').on(t.clinicId, t.contactId, t.createdAt),
    index('medical_records_addendum_idx').on(t.addendumOf),
    uniqueIndex('medical_records_chain_unique').on(t.contactId, t.chainSeq),
    // The appointment, when given, is of the same clinic (a plain FK would accept another clinic's).
    foreignKey({ name: 'medical_records_appointment_fk', columns: [t.clinicId, t.appointmentId], foreignColumns: [appointments.clinicId, appointments.id] }),
  ],
);

/**
 * Append-only (a trigger that fires even under `session_replication_role = replica` refuses UPDATE
 * and DELETE): one row per signature with the patient's chain length and head MAC, itself MAC'd.
 * Deleting the newest signed record leaves a head that no longer matches the chain.
 */
export const medicalRecordChainHeads = pgTable(
  'medical_record_chain_heads',
  {
    clinicId: uuid('clinic_id').notNull().references(() => clinics.id),
    contactId: uuid('contact_id').notNull().references(() => contacts.id),
    length: integer('length').notNull(),
    headRecordId: uuid('head_record_id').notNull(),
    headMac: text('head_mac').notNull(),
    mac: text('mac').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.contactId, t.length] })],
);

/** Files attached to a record; readable only by professionals. Frozen with the record. */
export const medicalRecordAttachments = pgTable(
  'medical_record_attachments',
  {
    recordId: uuid('record_id').notNull().references(() => medicalRecords.id),
    fileId: uuid('file_id').notNull().references(() => files.id),
    clinicId: uuid('clinic_id').notNull().references(() => clinics.id),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.recordId, t.fileId] }), uniqueIndex('medical_record_attachments_file_unique').on(t.fileId)],
);

/** Anamnesis templates; editing one that has answers inserts a new version of the same family. */
export const anamnesisTemplates = pgTable(
  'anamnesis_templates',
  {
    id: uuid('id').primaryKey().default(sql`gen_random_uuid()`),
    clinicId: uuid('clinic_id').notNull().references(() => clinics.id, { onDelete: 'cascade' }),
    familyId: uuid('family_id').notNull(),
    version: integer('version').notNull().default(1),
    name: text('name').notNull(),
    description: text('description'),
    questions: jsonb('questions').$type<unknown[]>().notNull(),
    /** Set on the clinic's default templates (seeded once per clinic). */
    defaultKey: text('default_key'),
    /** Superseded by a newer version, or deleted by the clinic. */
    archivedAt: timestamp('archived_at', { withTimezone: true }),
    createdBy: uuid('created_by').references(() => users.id, { onDelete: 'set null' }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    index('anamnesis_templates_clinic_idx').on(t.clinicId, t.archivedAt),
    uniqueIndex('anamnesis_templates_family_version_unique').on(t.familyId, t.version),
    uniqueIndex('anamnesis_templates_default_unique').on(t.clinicId, t.defaultKey).where(sql`${t.defaultKey} is not null and ${t.version} = 1`),
  ],
);

export const anamnesisStatusEnum = pgEnum('anamnesis_status', ['pending', 'in_progress', 'submitted']);

/** One template version sent to one patient; answered through an unguessable link. */
export const anamnesisResponses = pgTable(
  'anamnesis_responses',
  {
    id: uuid('id').primaryKey().default(sql`gen_random_uuid()`),
    clinicId: uuid('clinic_id').notNull().references(() => clinics.id),
    contactId: uuid('contact_id').notNull().references(() => contacts.id),
    templateId: uuid('template_id').notNull().references(() => anamnesisTemplates.id),
    tokenHash: text('token_hash').notNull(),
    /** SHA-256 of the secret handed to the device that gave consent; only it reads the draft. */
    resumeSecretHash: text('resume_secret_hash'),
    status: anamnesisStatusEnum('status').notNull().default('pending'),
    answers: jsonb('answers').$type<Record<string, unknown>>().notNull().default({}),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
    consentVersion: text('consent_version'),
    consentAt: timestamp('consent_at', { withTimezone: true }),
    consentIp: inet('consent_ip'),
    submittedAt: timestamp('submitted_at', { withTimezone: true }),
    submittedIp: inet('submitted_ip'),
    sentBy: uuid('sent_by').references(() => users.id, { onDelete: 'set null' }),
    revoked: boolean('revoked').notNull().default(false),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex('anamnesis_responses_token_unique').on(t.tokenHash), index('anamnesis_responses_contact_idx').on(t.clinicId, t.contactId, t.createdAt)],
);
