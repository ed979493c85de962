import { sql } from 'drizzle-orm';
import { boolean, check, customType, date, foreignKey, index, integer, pgEnum, pgTable, text, time, timestamp, unique, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { contacts } from './contacts.js';
import { clinics, users } from './core.js';

export const OPPORTUNITY_STATUSES = ['open', 'won', 'lost'] as const;
export const ACTIVITY_TYPES = ['call', 'message', 'meeting', 'note'] as const;
/** How an opportunity's history entry came about: a stage change, or closing and reopening it. */
export const HISTORY_KINDS = ['created', 'moved', 'won', 'lost', 'reopened'] as const;
/** The default stages a clinic starts with; rules find "Agendado" and "Em tratamento" by these keys. */
export const DEFAULT_STAGE_KEYS = ['new', 'qualification', 'scheduled', 'in_treatment', 'loyal', 'lost'] as const;

export const opportunityStatusEnum = pgEnum('opportunity_status', OPPORTUNITY_STATUSES);
export const pipelineActivityTypeEnum = pgEnum('pipeline_activity_type', ACTIVITY_TYPES);
export const opportunityHistoryKindEnum = pgEnum('opportunity_history_kind', HISTORY_KINDS);

/** Byte-order text: fractional position keys sort the same in Postgres (any locale) as in JavaScript. */
const sortKey = customType<{ data: string }>({ dataType: () => 'text COLLATE "C"' });

/** The columns of a clinic's board, in `sortOrder`. */
export const pipelineStages = pgTable(
  'pipeline_stages',
  {
    id: uuid('id').primaryKey().default(sql`gen_random_uuid()`),
    clinicId: uuid('clinic_id').notNull().references(() => clinics.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    color: text('color').notNull(),
    sortOrder: integer('sort_order').notNull(),
    /** One of DEFAULT_STAGE_KEYS for a stage the clinic started with; null for its own. */
    defaultKey: text('default_key'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('pipeline_stages_clinic_name_unique').on(t.clinicId, sql`lower(${t.name})`),
    uniqueIndex('pipeline_stages_clinic_key_unique').on(t.clinicId, t.defaultKey),
    // Target of the opportunities' composite foreign key: a card sits in a stage of its own clinic.
    unique('pipeline_stages_clinic_id_unique').on(t.clinicId, t.id),
  ],
);

/**
 * One row per clinic, written when its default stages are created (the marker that they were).
 * Rules are off until an admin turns them on; a deleted target stage leaves its rule without one.
 */
export const pipelineSettings = pgTable('pipeline_settings', {
  clinicId: uuid('clinic_id')
    .primaryKey()
    .references(() => clinics.id, { onDelete: 'cascade' }),
  firstBookingEnabled: boolean('first_booking_enabled').notNull().default(false),
  firstBookingStageId: uuid('first_booking_stage_id').references(() => pipelineStages.id, { onDelete: 'set null' }),
  firstCompletionEnabled: boolean('first_completion_enabled').notNull().default(false),
  firstCompletionStageId: uuid('first_completion_stage_id').references(() => pipelineStages.id, { onDelete: 'set null' }),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
});

/**
 * A deal with a patient or lead. `position` is a fractional key (base 62, byte order) within its
 * stage: a move writes the moved row only, and the unique index keeps two cards from sharing a place.
 */
export const opportunities = pgTable(
  'opportunities',
  {
    id: uuid('id').primaryKey().default(sql`gen_random_uuid()`),
    clinicId: uuid('clinic_id').notNull().references(() => clinics.id, { onDelete: 'cascade' }),
    contactId: uuid('contact_id').notNull().references(() => contacts.id),
    stageId: uuid('stage_id').notNull(),
    position: sortKey('position').notNull(),
    title: text('title').notNull(),
    valueCents: integer('value_cents'),
    probability: integer('probability'),
    expectedCloseDate: date('expected_close_date'),
    ownerId: uuid('owner_id').references(() => users.id),
    status: opportunityStatusEnum('status').notNull().default('open'),
    lostReason: text('lost_reason'),
    closedAt: timestamp('closed_at', { withTimezone: true }),
    /** When it entered its current stage (the last history entry that put it there): the board's "há 3 dias". */
    stageEnteredAt: timestamp('stage_entered_at', { withTimezone: true }).notNull().defaultNow(),
    createdBy: uuid('created_by'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    foreignKey({ name: 'opportunities_stage_fk', columns: [t.clinicId, t.stageId], foreignColumns: [pipelineStages.clinicId, pipelineStages.id] }),
    uniqueIndex('opportunities_stage_position_unique').on(t.clinicId, t.stageId, t.position),
    index('opportunities_contact_idx').on(t.clinicId, t.contactId),
    index('opportunities_clinic_created_idx').on(t.clinicId, t.createdAt),
    check('opportunities_value_positive', sql`${t.valueCents} is null or ${t.valueCents} >= 0`),
    check('opportunities_probability_range', sql`${t.probability} is null or ${t.probability} between 0 and 100`),
    check('opportunities_lost_reason', sql`(${t.status} = 'lost') = (${t.lostReason} is not null)`),
  ],
);

/** Every stage change and every close or reopen: who, from, to, when. Time in stage is computed from it. */
export const opportunityHistory = pgTable(
  'opportunity_history',
  {
    id: uuid('id').primaryKey().default(sql`gen_random_uuid()`),
    clinicId: uuid('clinic_id').notNull().references(() => clinics.id, { onDelete: 'cascade' }),
    opportunityId: uuid('opportunity_id')
      .notNull()
      .references(() => opportunities.id, { onDelete: 'cascade' }),
    /** Denormalised so the patient's timeline reads one index. */
    contactId: uuid('contact_id').notNull(),
    kind: opportunityHistoryKindEnum('kind').notNull(),
    fromStageId: uuid('from_stage_id'),
    toStageId: uuid('to_stage_id'),
    /** The member who did it; null for an API key or a rule. */
    actorId: uuid('actor_id'),
    /** `user`, `api_key` or `rule:first_booking` / `rule:first_completion`. */
    source: text('source').notNull(),
    at: timestamp('at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('opportunity_history_opportunity_idx').on(t.clinicId, t.opportunityId, t.at), index('opportunity_history_contact_idx').on(t.clinicId, t.contactId)],
);

/** A rule applied to an opportunity, once: redelivered appointment events find it and do nothing. */
export const pipelineRuleRuns = pgTable(
  'pipeline_rule_runs',
  {
    id: uuid('id').primaryKey().default(sql`gen_random_uuid()`),
    clinicId: uuid('clinic_id').notNull().references(() => clinics.id, { onDelete: 'cascade' }),
    opportunityId: uuid('opportunity_id')
      .notNull()
      .references(() => opportunities.id, { onDelete: 'cascade' }),
    rule: text('rule').notNull(),
    appointmentId: uuid('appointment_id').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex('pipeline_rule_runs_unique').on(t.clinicId, t.opportunityId, t.rule)],
);

/**
 * Calls, messages, meetings and notes about a patient, optionally on one of their opportunities.
 * With a due date it is a task: overdue once the clinic's local day (and time, when given) passed.
 */
export const pipelineActivities = pgTable(
  'pipeline_activities',
  {
    id: uuid('id').primaryKey().default(sql`gen_random_uuid()`),
    clinicId: uuid('clinic_id').notNull().references(() => clinics.id, { onDelete: 'cascade' }),
    contactId: uuid('contact_id')
      .notNull()
      .references(() => contacts.id),
    opportunityId: uuid('opportunity_id').references(() => opportunities.id, { onDelete: 'set null' }),
    type: pipelineActivityTypeEnum('type').notNull(),
    title: text('title').notNull(),
    notes: text('notes'),
    /** The clinic's local calendar day the task is due. */
    dueDate: date('due_date'),
    /** Optional local time on that day (clinic's zone). */
    dueTime: time('due_time'),
    assigneeId: uuid('assignee_id').references(() => users.id),
    completedAt: timestamp('completed_at', { withTimezone: true }),
    completedBy: uuid('completed_by'),
    createdBy: uuid('created_by'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    index('pipeline_activities_contact_idx').on(t.clinicId, t.contactId),
    index('pipeline_activities_opportunity_idx').on(t.clinicId, t.opportunityId),
    index('pipeline_activities_due_idx').on(t.clinicId, t.dueDate).where(sql`${t.completedAt} is null and ${t.dueDate} is not null`),
    check('pipeline_activities_due_time_needs_date', sql`${t.dueTime} is null or ${t.dueDate} is not null`),
  ],
);
