import { ACTIVE_APPOINTMENT_STATUSES, type APPOINTMENT_TYPES } from '../../../../shared/schema/index.js';
import { AppError } from '../../../lib/errors.js';
import { slotTaken } from '../../scheduling/booking-rules.js';
import type { Scheduling } from '../../scheduling/module.js';
import type { TeamService } from '../../team/service.js';
import type { ToolScope } from '../tool.js';

/** Length and grid of what the assistant books: appointment types carry no duration, and staff set other lengths themselves. */
export const SLOT_MINUTES = 30;

type AppointmentType = (typeof APPOINTMENT_TYPES)[number];
const ACTIVE: readonly string[] = ACTIVE_APPOINTMENT_STATUSES;

/** The active professionals the clinic lets the assistant book (`bookingProfessionalIds`, null: all). */
export async function bookableProfessionals(team: TeamService, scope: ToolScope) {
  const all = await team.professionals(scope.clinicId);
  const ids = scope.config.bookingProfessionalIds;
  return ids === null ? all : all.filter((p) => ids.includes(p.userId));
}

/** One professional the assistant may book; an unknown id is 404 like any missing one, a member left out by the clinic 403. */
export async function bookableProfessional(team: TeamService, scope: ToolScope, professionalId: string) {
  const professional = (await bookableProfessionals(team, scope)).find((p) => p.userId === professionalId);
  if (professional) return professional;
  await team.professional(scope.clinicId, professionalId);
  throw new AppError(403, 'professional_not_bookable', 'The clinic does not let the assistant book this professional. Offer the professionals find_free_slots lists, or hand off.');
}

export function checkType(scope: ToolScope, type: AppointmentType) {
  const allowed = scope.config.bookingAppointmentTypes;
  if (allowed.includes(type)) return;
  const list = allowed.length ? allowed.join(', ') : 'none';
  throw new AppError(403, 'appointment_type_not_bookable', `The assistant may not book "${type}" appointments (allowed: ${list}). Offer to hand off to the staff.`);
}

/**
 * Refuses a start that is not a free slot of the calendar (working hours, blocks, holidays, busy
 * sources, past times): the scheduling services refuse overlaps but not a booking at 3 a.m. A
 * time taken by an appointment is `appointment_conflict`, whether it was taken before this check
 * or (refused by the write itself) just after it.
 */
export async function ensureFree(scheduling: Scheduling, scope: ToolScope, professionalId: string, start: Date, durationMinutes: number, exceptId?: string) {
  const end = new Date(start.getTime() + durationMinutes * 60_000);
  const { slots } = await scheduling.availability.slots(scope.clinicId, { professionalId, from: start, to: end, durationMinutes, stepMinutes: SLOT_MINUTES });
  if (slots.some((s) => new Date(s.startsAt).getTime() === start.getTime())) return;
  // Uncached on purpose (no `to`): what is in the calendar now, not the cached week.
  const { items } = await scheduling.appointments.list(scope.clinicId, { professionalId, from: start, limit: 50 });
  const clashes = items.filter((a) => a.id !== exceptId && ACTIVE.includes(a.status) && a.startsAt < end);
  if (clashes.length > 0) throw slotTaken(clashes.map((a) => a.id));
  throw new AppError(409, 'slot_unavailable', `That time is not a free ${durationMinutes}-minute slot of this professional (past, outside working hours, blocked or a holiday). Offer times from find_free_slots.`);
}
