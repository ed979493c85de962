import { sql } from 'drizzle-orm';
import { boolean, check, date, index, integer, pgEnum, pgTable, text, timestamp, unique, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { contacts } from './contacts.js';
import { clinics, users } from './core.js';

export const APPOINTMENT_STATUSES = ['scheduled', 'confirmed', 'arrived', 'in_progress', 'completed', 'no_show', 'cancelled'] as const;
/** Statuses that hold the slot; cancelled and no-show free it. */
export const ACTIVE_APPOINTMENT_STATUSES = ['scheduled', 'confirmed', 'arrived', 'in_progress', 'completed'] as const;
export const APPOINTMENT_TYPES = ['first_visit', 'return', 'evaluation', 'procedure', 'session', 'exam', 'other'] as const;
export const PAYMENT_STATUSES = ['pending', 'paid', 'waived', 'refunded'] as const;

export const appointmentStatusEnum = pgEnum('appointment_status', APPOINTMENT_STATUSES);
export const appointmentTypeEnum = pgEnum('appointment_type', APPOINTMENT_TYPES);
export const paymentStatusEnum = pgEnum('payment_status', PAYMENT_STATUSES);

export const appointmentTags = pgTable(
  'appointment_tags',
  {
    id: uuid('id').primaryKey().default(sql`gen_random_uuid()`),
    clinicId: uuid('clinic_id').notNull().references(() => clinics.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    color: text('color').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex('appointment_tags_clinic_name_unique').on(t.clinicId, sql`lower(${t.name})`)],
);

/**
 * No double booking: migration `scheduling_sql` adds an exclusion constraint over
 * (professional_id, tstzrange(starts_at, ends_at)) for active, non-overbooked rows.
 */
export const appointments = pgTable(
  'appointments',
  {
    id: uuid('id').primaryKey().default(sql`gen_random_uuid()`),
    clinicId: uuid('clinic_id').notNull().references(() => clinics.id, { onDelete: 'cascade' }),
    contactId: uuid('contact_id').notNull().references(() => contacts.id),
    professionalId: uuid('professional_id').notNull().references(() => users.id),
    startsAt: timestamp('starts_at', { withTimezone: true }).notNull(),
    endsAt: timestamp('ends_at', { withTimezone: true }).notNull(),
    status: appointmentStatusEnum('status').notNull().default('scheduled'),
    type: appointmentTypeEnum('type'),
    notes: text('notes'),
    priceCents: integer('price_cents'),
    paymentStatus: paymentStatusEnum('payment_status').notNull().default('pending'),
    tagId: uuid('tag_id').references(() => appointmentTags.id, { onDelete: 'set null' }),
    cancellationReason: text('cancellation_reason'),
    /** Encaixe: an admin knowingly double-booked; such rows stay outside the exclusion constraint. */
    overbooked: boolean('overbooked').notNull().default(false),
    seriesId: uuid('series_id'),
    seriesIndex: integer('series_index'),
    createdBy: uuid('created_by'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    index('appointments_professional_time_idx').on(t.clinicId, t.professionalId, t.startsAt),
    index('appointments_clinic_time_idx').on(t.clinicId, t.startsAt),
    index('appointments_contact_idx').on(t.clinicId, t.contactId),
    index('appointments_series_idx').on(t.clinicId, t.seriesId),
    // Target of the medical records' composite foreign key (a record's appointment is of its clinic).
    unique('appointments_clinic_id_unique').on(t.clinicId, t.id),
    check('appointments_time_order', sql`${t.endsAt} > ${t.startsAt} and ${t.endsAt} <= ${t.startsAt} + interval '24 hours'`),
    check('appointments_price_positive', sql`${t.priceCents} is null or ${t.priceCents} >= 0`),
  ],
);

/** Vacation, meetings: time a professional (or, with no professional, the whole clinic) cannot be booked. */
export const scheduleBlocks = pgTable(
  'schedule_blocks',
  {
    id: uuid('id').primaryKey().default(sql`gen_random_uuid()`),
    clinicId: uuid('clinic_id').notNull().references(() => clinics.id, { onDelete: 'cascade' }),
    professionalId: uuid('professional_id').references(() => users.id, { onDelete: 'cascade' }),
    startsAt: timestamp('starts_at', { withTimezone: true }).notNull(),
    endsAt: timestamp('ends_at', { withTimezone: true }).notNull(),
    reason: text('reason'),
    createdBy: uuid('created_by'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('schedule_blocks_time_idx').on(t.clinicId, t.startsAt), check('schedule_blocks_time_order', sql`${t.endsAt} > ${t.startsAt}`)],
);

/** Per-clinic changes to the national calendar: a local holiday (closed) or a reopened national one (open). */
export const clinicHolidays = pgTable(
  'clinic_holidays',
  {
    id: uuid('id').primaryKey().default(sql`gen_random_uuid()`),
    clinicId: uuid('clinic_id').notNull().references(() => clinics.id, { onDelete: 'cascade' }),
    date: date('date').notNull(),
    name: text('name').notNull(),
    open: boolean('open').notNull().default(false),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex('clinic_holidays_clinic_date_unique').on(t.clinicId, t.date)],
);
