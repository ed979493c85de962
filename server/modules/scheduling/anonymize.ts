import { and, eq, isNotNull } from 'drizzle-orm';
import { appointments, memberships, scheduleBlocks } from '../../../shared/schema/index.js';
import type { TenantContext } from '../../http/context.js';
import type { Tx } from '../../infra/db.js';
import type { Redact } from '../lgpd/redact.js';
import type { CalendarCache } from './calendar-cache.js';

export const REMOVED_REASON = 'Removido na anonimização (LGPD)';

/**
 * Anonymisation of a patient's appointments: notes and cancellation reasons are free text about
 * the patient, not clinical records, so they are erased (a reason that existed says so). A block's
 * reason ("cirurgia da Joana") is about no patient in particular: it only loses the patient's
 * identifiers. The clinic's cached calendars, which show names and notes, are dropped.
 */
export const appointmentAnonymizer = (calendars: CalendarCache) => async (tx: Tx, ctx: TenantContext, contactId: string, redact: Redact) => {
  const mine = and(eq(appointments.clinicId, ctx.clinicId), eq(appointments.contactId, contactId));
  await tx.update(appointments).set({ notes: null, updatedAt: new Date() }).where(and(mine, isNotNull(appointments.notes)));
  await tx.update(appointments).set({ cancellationReason: REMOVED_REASON, updatedAt: new Date() }).where(and(mine, isNotNull(appointments.cancellationReason)));
  const blocks = await tx.select({ id: scheduleBlocks.id, reason: scheduleBlocks.reason }).from(scheduleBlocks).where(and(eq(scheduleBlocks.clinicId, ctx.clinicId), isNotNull(scheduleBlocks.reason)));
  for (const b of blocks) {
    const reason = redact(b.reason ?? '');
    if (reason !== b.reason) await tx.update(scheduleBlocks).set({ reason }).where(eq(scheduleBlocks.id, b.id));
  }
  // Read through the transaction (PGlite has one connection); the cache's second invalidation,
  // a moment later, drops a view re-read before the commit.
  const members = await tx.select({ userId: memberships.userId }).from(memberships).where(eq(memberships.clinicId, ctx.clinicId));
  await calendars.invalidate(ctx.clinicId, members.map((m) => m.userId));
};
