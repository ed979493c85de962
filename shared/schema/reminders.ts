import { sql } from 'drizzle-orm';
import { boolean, foreignKey, index, jsonb, pgEnum, pgTable, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { clinics, users } from './core.js';
import { appointments } from './scheduling.js';
import { conversations, messages } from './whatsapp.js';

export const REMINDER_KINDS = ['day_before', 'hours_before'] as const;
export type ReminderKind = (typeof REMINDER_KINDS)[number];
/** What the patient's answer to a reminder was taken as. */
export const REMINDER_ANSWERS = ['confirm', 'reschedule'] as const;
export const reminderAnswerEnum = pgEnum('reminder_answer', REMINDER_ANSWERS);

/** When one reminder goes: the day(s) before at a local time, or some minutes before the start. */
export type ReminderOffset =
  | { kind: 'day_before'; daysBefore: number; at: string; templateId: string | null }
  | { kind: 'hours_before'; minutesBefore: number; templateId: string | null };

/** A clinic's reminder settings, once saved (without a row: the defaults of server/modules/reminders/settings.ts). */
export const reminderSettings = pgTable('reminder_settings', {
  clinicId: uuid('clinic_id')
    .primaryKey()
    .references(() => clinics.id, { onDelete: 'cascade' }),
  enabled: boolean('enabled').notNull().default(false),
  offsets: jsonb('offsets').$type<ReminderOffset[]>().notNull(),
  /** Null: the professional's own open number, else the clinic's first open shared number. */
  numberId: uuid('number_id'),
  /** Local HH:MM in the clinic's zone; both null: no quiet hours. */
  quietStart: text('quiet_start'),
  quietEnd: text('quiet_end'),
  updatedBy: uuid('updated_by').references(() => users.id, { onDelete: 'set null' }),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
});

/**
 * One row per reminder sent: for an appointment, a kind and the start time it announced (a
 * rescheduled appointment gets new rows). The patient's answer is recorded here.
 */
export const appointmentReminders = pgTable(
  'appointment_reminders',
  {
    id: uuid('id').primaryKey().default(sql`gen_random_uuid()`),
    clinicId: uuid('clinic_id')
      .notNull()
      .references(() => clinics.id, { onDelete: 'cascade' }),
    appointmentId: uuid('appointment_id').notNull(),
    kind: text('kind').$type<ReminderKind>().notNull(),
    startsAt: timestamp('starts_at', { withTimezone: true }).notNull(),
    conversationId: uuid('conversation_id').references(() => conversations.id, { onDelete: 'set null' }),
    messageId: uuid('message_id').references(() => messages.id, { onDelete: 'set null' }),
    sentAt: timestamp('sent_at', { withTimezone: true }).notNull().defaultNow(),
    answer: reminderAnswerEnum('answer'),
    /** The patient's message taken as the answer (a redelivered event finds its own answer by it). */
    answerMessageId: uuid('answer_message_id'),
    answeredAt: timestamp('answered_at', { withTimezone: true }),
  },
  (t) => [
    foreignKey({ name: 'appointment_reminders_appointment_fk', columns: [t.clinicId, t.appointmentId], foreignColumns: [appointments.clinicId, appointments.id] }).onDelete('cascade'),
    uniqueIndex('appointment_reminders_unique').on(t.clinicId, t.appointmentId, t.kind, t.startsAt),
    // The reply parser: the reminders of a conversation still awaiting an answer, newest first.
    index('appointment_reminders_conversation_idx').on(t.clinicId, t.conversationId, t.sentAt),
  ],
);
