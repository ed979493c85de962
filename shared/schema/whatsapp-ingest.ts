import { index, pgTable, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { clinics } from './core.js';
import { messageStatusEnum, whatsappNumbers } from './whatsapp.js';

/**
 * A delivery status that arrived before its message (Evolution sends both without waiting): kept
 * here and applied when the message is stored, then removed. Old rows (a message that never came)
 * are pruned with the webhook payloads.
 */
export const whatsappEarlyStatuses = pgTable(
  'whatsapp_early_statuses',
  {
    clinicId: uuid('clinic_id')
      .notNull()
      .references(() => clinics.id, { onDelete: 'cascade' }),
    numberId: uuid('number_id')
      .notNull()
      .references(() => whatsappNumbers.id, { onDelete: 'cascade' }),
    externalId: text('external_id').notNull(),
    status: messageStatusEnum('status').notNull(),
    receivedAt: timestamp('received_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex('whatsapp_early_statuses_unique').on(t.numberId, t.externalId), index('whatsapp_early_statuses_received_idx').on(t.receivedAt)],
);
