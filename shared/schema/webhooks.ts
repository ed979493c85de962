import { sql } from 'drizzle-orm';
import { bigint, boolean, check, index, integer, pgTable, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { clinics, users } from './core.js';

export const WEBHOOK_AUTH_MODES = ['standard', 'header', 'jwt'] as const;
export type WebhookAuthMode = (typeof WEBHOOK_AUTH_MODES)[number];
export const WEBHOOK_DELIVERY_STATUSES = ['pending', 'delivered', 'failed'] as const;
export type WebhookDeliveryStatus = (typeof WEBHOOK_DELIVERY_STATUSES)[number];

/** A clinic's outbound webhook endpoint (an N8N Webhook node): what it hears and how it is signed. */
export const webhookSubscriptions = pgTable(
  'webhook_subscriptions',
  {
    id: uuid('id').primaryKey().default(sql`gen_random_uuid()`),
    clinicId: uuid('clinic_id').notNull().references(() => clinics.id, { onDelete: 'cascade' }),
    url: text('url').notNull(),
    description: text('description'),
    /** Catalog event types (shared/api/webhooks.ts). */
    events: text('events').array().notNull(),
    active: boolean('active').notNull().default(true),
    /** Why it was switched off by the system (`gone`: the receiver answered 410; `failing`: too many failed deliveries). */
    disabledReason: text('disabled_reason'),
    /** `whsec_...` sealed with SecretBox; shown once, at creation or rotation. */
    secret: text('secret').notNull(),
    /** The secret before the last rotation, still signing until `previousSecretExpiresAt`. */
    previousSecret: text('previous_secret'),
    previousSecretExpiresAt: timestamp('previous_secret_expires_at', { withTimezone: true }),
    authMode: text('auth_mode').$type<WebhookAuthMode>().notNull().default('standard'),
    /** Header mode: the header's name (lowercase) and its value sealed. */
    headerName: text('header_name'),
    headerValue: text('header_value'),
    /** Deliveries that ended failed since the last delivered one. */
    consecutiveFailures: integer('consecutive_failures').notNull().default(0),
    createdBy: uuid('created_by').references(() => users.id, { onDelete: 'set null' }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('webhook_subscriptions_clinic_idx').on(t.clinicId), check('webhook_subscriptions_auth_mode', sql`${t.authMode} in ('standard', 'header', 'jwt')`)],
);

/**
 * One message to one endpoint: a catalog event for a subscription (or for the operator's N8N_WEBHOOK_URL,
 * `subscription_id` null), or a test event. Its id is the `webhook-id`, the same on every attempt and replay.
 */
export const webhookDeliveries = pgTable(
  'webhook_deliveries',
  {
    id: uuid('id').primaryKey().default(sql`gen_random_uuid()`),
    clinicId: uuid('clinic_id').notNull().references(() => clinics.id, { onDelete: 'cascade' }),
    subscriptionId: uuid('subscription_id').references(() => webhookSubscriptions.id, { onDelete: 'cascade' }),
    /** The outbox event it came from; null for a test event. */
    eventId: bigint('event_id', { mode: 'number' }),
    eventType: text('event_type').notNull(),
    /** The exact bytes signed and sent, the same on every attempt. */
    body: text('body').notNull(),
    status: text('status').$type<WebhookDeliveryStatus>().notNull().default('pending'),
    attempts: integer('attempts').notNull().default(0),
    /** The next try; while an attempt runs, a lease (a crashed attempt is picked up by the sweep after it). */
    nextAttemptAt: timestamp('next_attempt_at', { withTimezone: true }).notNull().defaultNow(),
    lastAttemptAt: timestamp('last_attempt_at', { withTimezone: true }),
    responseStatus: integer('response_status'),
    /** The first 1 KB of the receiver's answer. */
    responseBody: text('response_body'),
    durationMs: integer('duration_ms'),
    lastError: text('last_error'),
    deliveredAt: timestamp('delivered_at', { withTimezone: true }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('webhook_deliveries_event_subscription_unique').on(t.subscriptionId, t.eventId, t.eventType),
    // The operator's deliveries have no subscription: one per event and type.
    uniqueIndex('webhook_deliveries_event_operator_unique').on(t.eventId, t.eventType).where(sql`${t.subscriptionId} is null`),
    index('webhook_deliveries_subscription_idx').on(t.subscriptionId, t.createdAt),
    index('webhook_deliveries_pending_idx').on(t.nextAttemptAt).where(sql`${t.status} = 'pending'`),
    // The retention job deletes finished rows by age, across clinics.
    index('webhook_deliveries_created_idx').on(t.createdAt),
    check('webhook_deliveries_status', sql`${t.status} in ('pending', 'delivered', 'failed')`),
  ],
);
