import { sql } from 'drizzle-orm';
import { date, index, pgEnum, pgTable, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { clinics } from './core.js';

export const contactStatusEnum = pgEnum('contact_status', ['lead', 'active', 'inactive']);

/** Patients (and leads). Phones are E.164, CPF is 11 digits; both unique per clinic among live rows. */
export const contacts = pgTable(
  'contacts',
  {
    id: uuid('id').primaryKey().default(sql`gen_random_uuid()`),
    clinicId: uuid('clinic_id').notNull().references(() => clinics.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    phone: text('phone'),
    email: text('email'),
    cpf: text('cpf'),
    birthDate: date('birth_date'),
    status: contactStatusEnum('status').notNull().default('lead'),
    notes: text('notes'),
    /** Lower-case, accent-free name, email, phone and CPF digits: what search matches (trigram index). */
    searchText: text('search_text').notNull().default(''),
    tags: text('tags').array().notNull().default(sql`'{}'::text[]`),
    deletedAt: timestamp('deleted_at', { withTimezone: true }),
    anonymizedAt: timestamp('anonymized_at', { withTimezone: true }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    index('contacts_clinic_created_idx').on(t.clinicId, t.createdAt),
    index('contacts_search_trgm_idx').using('gin', t.searchText.op('gin_trgm_ops')),
    uniqueIndex('contacts_clinic_cpf_unique').on(t.clinicId, t.cpf).where(sql`${t.cpf} is not null and ${t.deletedAt} is null`),
    uniqueIndex('contacts_clinic_phone_unique').on(t.clinicId, t.phone).where(sql`${t.phone} is not null and ${t.deletedAt} is null`),
  ],
);
