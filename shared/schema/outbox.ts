import { bigint, bigserial, index, integer, jsonb, pgTable, primaryKey, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { clinics } from './core.js';

/**
 * Domain events recorded in the transaction of the change they describe. Rows stay after delivery
 * (a short log) and are pruned on a schedule once every subscriber has them.
 */
export const outbox = pgTable(
  'outbox',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    clinicId: uuid('clinic_id')
      .notNull()
      .references(() => clinics.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    aggregateType: text('aggregate_type').notNull(),
    aggregateId: text('aggregate_id').notNull(),
    payload: jsonb('payload').notNull(),
    actor: text('actor'),
    requestId: text('request_id'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('outbox_created_at_idx').on(t.createdAt)],
);

/**
 * What each subscriber still has to receive: one row per (subscriber, event), written with the
 * event and deleted once delivered. A failure keeps the row with its attempts and next try; a
 * row past the last attempt is marked failed (dead) and no longer holds back its aggregate.
 */
export const outboxDeliveries = pgTable(
  'outbox_deliveries',
  {
    subscriber: text('subscriber').notNull(),
    eventId: bigint('event_id', { mode: 'number' })
      .notNull()
      .references(() => outbox.id, { onDelete: 'cascade' }),
    /** `<clinic>:<aggregate type>:<aggregate id>`: the unit of ordering. */
    aggregate: text('aggregate').notNull(),
    attempts: integer('attempts').notNull().default(0),
    nextAttemptAt: timestamp('next_attempt_at', { withTimezone: true }).notNull().defaultNow(),
    /** Claimed by a relay until then (a lease): a crashed relay's claims come back when it runs out. */
    lockedUntil: timestamp('locked_until', { withTimezone: true }),
    lastError: text('last_error'),
    failedAt: timestamp('failed_at', { withTimezone: true }),
  },
  (t) => [primaryKey({ columns: [t.subscriber, t.eventId] }), index('outbox_deliveries_aggregate_idx').on(t.subscriber, t.aggregate, t.eventId)],
);
