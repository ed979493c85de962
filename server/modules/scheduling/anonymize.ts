import { eq, isNotNull } from 'drizzle-orm';
import { appointments, memberships, scheduleBlocks } from '../../../shared/schema/index.js';
import type { TenantContext } from '../../http/context.js';
import { ClinicData } from '../../infra/clinic-data.js';
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
  const data = new ClinicData(ctx.clinicId, tx);
  const ofPatient = eq(appointments.contactId, contactId);
  await data.update(appointments, { notes: null, updatedAt: new Date() }, ofPatient, isNotNull(appointments.notes));
  await data.update(appointments, { cancellationReason: REMOVED_REASON, updatedAt: new Date() }, ofPatient, isNotNull(appointments.cancellationReason));
  const blocks = await data.pick({ id: scheduleBlocks.id, reason: scheduleBlocks.reason }, scheduleBlocks, isNotNull(scheduleBlocks.reason));
  for (const b of blocks) {
    const reason = redact(b.reason ?? '');
    if (reason !== b.reason) await data.update(scheduleBlocks, { reason }, eq(scheduleBlocks.id, b.id));
  }
  // Read through the transaction (PGlite has one connection); the cache's second invalidation,
  // a moment later, drops a view re-read before the commit.
  const members = await data.pick({ userId: memberships.userId }, memberships);
  await calendars.invalidate(ctx.clinicId, members.map((m) => m.userId));
};
