import { badRequest, conflict } from '../../lib/errors.js';

const MAX_MS = 24 * 3600_000;

/** The end of an appointment from a duration or an end, checked: after the start, at most 24 h. */
export function timeRange(startsAt: Date, durationMinutes?: number, endsAt?: Date) {
  const end = endsAt ?? new Date(startsAt.getTime() + (durationMinutes ?? 0) * 60_000);
  if (end <= startsAt) throw badRequest('invalid_time_range', 'The appointment must end after it starts');
  if (end.getTime() - startsAt.getTime() > MAX_MS) throw badRequest('invalid_time_range', 'An appointment lasts at most 24 hours');
  return { startsAt, endsAt: end };
}

export const slotTaken = (conflictingIds: string[], details: Record<string, unknown> = {}) =>
  conflict('appointment_conflict', 'The professional already has an appointment at this time', { conflictingIds, ...details });
