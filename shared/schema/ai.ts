import { sql } from 'drizzle-orm';
import { bigint, boolean, check, date, index, integer, jsonb, pgEnum, pgTable, primaryKey, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { clinics, users, type WorkingHours } from './core.js';
import { appointmentTypeEnum } from './scheduling.js';

export const TEMPLATE_CATEGORIES = ['confirmation', 'reminder', 'follow_up', 'return', 'birthday', 'other'] as const;
/** What a model call was for. */
export const AI_FEATURES = ['auto_reply', 'professional_assistant', 'embedding', 'other'] as const;
export const aiTemplateCategoryEnum = pgEnum('ai_template_category', TEMPLATE_CATEGORIES);
export const aiFeatureEnum = pgEnum('ai_feature', AI_FEATURES);

const createdAt = () => timestamp('created_at', { withTimezone: true }).notNull().defaultNow();
const updatedAt = () => timestamp('updated_at', { withTimezone: true }).notNull().defaultNow();

/**
 * The assistant's settings, one row per clinic once it saved them (a clinic without a row uses the
 * defaults of server/modules/ai/config.ts). Id lists are arrays: the rows they name are checked on
 * save, and ids of numbers or professionals removed later are dropped when read.
 */
export const aiConfigs = pgTable(
  'ai_configs',
  {
    clinicId: uuid('clinic_id')
      .primaryKey()
      .references(() => clinics.id, { onDelete: 'cascade' }),
    enabled: boolean('enabled').notNull().default(false),
    numberIds: uuid('number_ids').array().notNull().default(sql`'{}'`),
    /** Weekday -> local intervals in the clinic's zone; null: at any hour. */
    hours: jsonb('hours').$type<WorkingHours>(),
    /** Null: the default prompt (so improvements to it reach clinics that never wrote their own). */
    systemPrompt: text('system_prompt'),
    /** Knowledge bases (issue #12 RAG); checked against their table at merge. */
    knowledgeBaseIds: uuid('knowledge_base_ids').array().notNull().default(sql`'{}'`),
    /** Null: every active professional of the clinic. */
    bookingProfessionalIds: uuid('booking_professional_ids').array(),
    bookingAppointmentTypes: appointmentTypeEnum('booking_appointment_types').array().notNull(),
    pauseAfterHumanMinutes: integer('pause_after_human_minutes').notNull(),
    debounceSeconds: integer('debounce_seconds').notNull(),
    maxRepliesPerHour: integer('max_replies_per_hour').notNull(),
    handoffKeywords: text('handoff_keywords').array().notNull(),
    dailyTokenBudget: integer('daily_token_budget').notNull(),
    /** The professional's record assistant: health data goes to the model provider only once switched on. */
    clinicalAiEnabled: boolean('clinical_ai_enabled').notNull().default(false),
    clinicalAiStatementVersion: text('clinical_ai_statement_version'),
    clinicalAiEnabledAt: timestamp('clinical_ai_enabled_at', { withTimezone: true }),
    clinicalAiEnabledBy: uuid('clinical_ai_enabled_by').references(() => users.id, { onDelete: 'set null' }),
    updatedBy: uuid('updated_by').references(() => users.id, { onDelete: 'set null' }),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    check('ai_configs_pause_range', sql`${t.pauseAfterHumanMinutes} between 1 and 43200`),
    check('ai_configs_debounce_range', sql`${t.debounceSeconds} between 0 and 300`),
    check('ai_configs_replies_range', sql`${t.maxRepliesPerHour} between 1 and 120`),
    check('ai_configs_budget_range', sql`${t.dailyTokenBudget} >= 0`),
  ],
);

/** Message templates (quick replies in the inbox, reminders). Defaults carry a stable `key`. */
export const aiTemplates = pgTable(
  'ai_templates',
  {
    id: uuid('id').primaryKey().default(sql`gen_random_uuid()`),
    clinicId: uuid('clinic_id')
      .notNull()
      .references(() => clinics.id, { onDelete: 'cascade' }),
    /** Stable key of a default template (`lembrete`...): reminders find it by key, whatever its name. */
    key: text('key'),
    name: text('name').notNull(),
    category: aiTemplateCategoryEnum('category').notNull(),
    body: text('body').notNull(),
    createdBy: uuid('created_by').references(() => users.id, { onDelete: 'set null' }),
    /** Deleted templates keep their row so a deleted default is not seeded again. */
    deletedAt: timestamp('deleted_at', { withTimezone: true }),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    uniqueIndex('ai_templates_clinic_key_unique').on(t.clinicId, t.key),
    index('ai_templates_clinic_idx').on(t.clinicId, t.createdAt),
  ],
);

/** Model usage per clinic, local day (the clinic's zone), feature and model; one row updated in place. */
export const aiUsageDaily = pgTable(
  'ai_usage_daily',
  {
    clinicId: uuid('clinic_id')
      .notNull()
      .references(() => clinics.id, { onDelete: 'cascade' }),
    day: date('day').notNull(),
    feature: aiFeatureEnum('feature').notNull(),
    model: text('model').notNull(),
    inputTokens: bigint('input_tokens', { mode: 'number' }).notNull().default(0),
    outputTokens: bigint('output_tokens', { mode: 'number' }).notNull().default(0),
    calls: integer('calls').notNull().default(0),
    errors: integer('errors').notNull().default(0),
    updatedAt: updatedAt(),
  },
  (t) => [primaryKey({ name: 'ai_usage_daily_pk', columns: [t.clinicId, t.day, t.feature, t.model] })],
);
