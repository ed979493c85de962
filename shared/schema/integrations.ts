import { sql } from 'drizzle-orm';
import { check, index, integer, jsonb, pgEnum, pgTable, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { clinics, users } from './core.js';

const id = () => uuid('id').primaryKey().default(sql`gen_random_uuid()`);
const createdAt = () => timestamp('created_at', { withTimezone: true }).notNull().defaultNow();

export const integrationProviderEnum = pgEnum('integration_provider', ['evolution', 'google_calendar', 'openai', 'n8n']);
export const integrationStatusEnum = pgEnum('integration_status', ['connecting', 'active', 'broken', 'disabled']);

export type IntegrationProvider = (typeof integrationProviderEnum.enumValues)[number];
export type IntegrationStatus = (typeof integrationStatusEnum.enumValues)[number];

/** A clinic's (or one professional's) connection to an external system. */
export const integrationConnections = pgTable(
  'integration_connections',
  {
    id: id(),
    clinicId: uuid('clinic_id').notNull().references(() => clinics.id, { onDelete: 'cascade' }),
    provider: integrationProviderEnum('provider').notNull(),
    /** Null: the clinic's own connection; otherwise the professional it belongs to (a personal Google calendar). */
    ownerUserId: uuid('owner_user_id').references(() => users.id, { onDelete: 'cascade' }),
    label: text('label'),
    status: integrationStatusEnum('status').notNull().default('connecting'),
    lastError: text('last_error'),
    lastErrorAt: timestamp('last_error_at', { withTimezone: true }),
    /** JSON object of secrets sealed with SecretBox (AES-256-GCM); never leaves the service. */
    credentials: text('credentials'),
    /** Public, random reference in the inbound webhook URL (`/api/webhooks/<provider>/<ref>`); not a secret. */
    webhookRef: text('webhook_ref'),
    /** Non-secret settings (instance name, calendar id, ...). */
    config: jsonb('config').$type<Record<string, unknown>>().notNull().default({}),
    createdAt: createdAt(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('integration_connections_clinic_idx').on(t.clinicId, t.provider), uniqueIndex('integration_connections_webhook_ref_unique').on(t.webhookRef)],
);

/** An inbound webhook delivery, stored before it is answered; the job works from this row. */
export const integrationWebhookEvents = pgTable(
  'integration_webhook_events',
  {
    id: id(),
    clinicId: uuid('clinic_id').notNull().references(() => clinics.id, { onDelete: 'cascade' }),
    connectionId: uuid('connection_id')
      .notNull()
      .references(() => integrationConnections.id, { onDelete: 'cascade' }),
    /** The sender's delivery id (`webhook-id`, a message id...): a redelivery is a no-op. */
    externalId: text('external_id').notNull(),
    type: text('type').notNull(),
    payload: jsonb('payload').notNull(),
    receivedAt: timestamp('received_at', { withTimezone: true }).notNull().defaultNow(),
    processedAt: timestamp('processed_at', { withTimezone: true }),
    /** Runs of this delivery alone that failed; at WEBHOOK_MAX_ATTEMPTS it is left for an operator (it no longer holds back the others). */
    attempts: integer('attempts').notNull().default(0),
    lastError: text('last_error'),
  },
  (t) => [
    uniqueIndex('integration_webhook_events_external_unique').on(t.connectionId, t.externalId),
    index('integration_webhook_events_clinic_idx').on(t.clinicId),
    // The drain's queue: a clinic's unprocessed deliveries in arrival order.
    index('integration_webhook_events_pending_idx').on(t.clinicId, t.receivedAt).where(sql`processed_at is null`),
  ],
);

/** One row per `Idempotency-Key` (per clinic and route): the first answer, replayed to retries. */
export const idempotencyKeys = pgTable(
  'idempotency_keys',
  {
    id: id(),
    clinicId: uuid('clinic_id').notNull().references(() => clinics.id, { onDelete: 'cascade' }),
    /** Method and route template, e.g. `POST /appointments`. */
    route: text('route').notNull(),
    key: text('key').notNull(),
    /** SHA-256 of the validated params, query and body: the same key with another request is refused. */
    fingerprint: text('fingerprint').notNull(),
    status: text('status').notNull().default('in_progress'),
    responseStatus: integer('response_status'),
    responseBody: jsonb('response_body'),
    createdAt: createdAt(),
    completedAt: timestamp('completed_at', { withTimezone: true }),
  },
  (t) => [
    uniqueIndex('idempotency_keys_unique').on(t.clinicId, t.route, t.key),
    index('idempotency_keys_created_idx').on(t.createdAt),
    check('idempotency_keys_status_check', sql`${t.status} in ('in_progress', 'completed')`),
  ],
);
