import type { ReminderOffset } from '../../../shared/schema/index.js';
import { addDays, minutesOf, zonedDate, zonedParts, zonedToUtc } from '../../lib/zoned-time.js';

export interface QuietHours {
  start: string;
  end: string;
}

/** When a reminder goes, or why it does not. */
export type ReminderTime = { at: Date; movedByQuietHours: boolean } | { skip: 'after_start' | 'quiet_hours' };

/** The instant the offset names, before quiet hours: N local days before at HH:MM, or minutes before the start. */
export function nominalTime(startsAt: Date, offset: ReminderOffset, timezone: string): Date {
  if (offset.kind === 'hours_before') return new Date(startsAt.getTime() - offset.minutesBefore * 60_000);
  return zonedToUtc(addDays(zonedDate(startsAt, timezone), -offset.daysBefore), minutesOf(offset.at), timezone);
}

/** The end of the quiet hours `at` falls in (local), or undefined when it falls outside them. */
export function quietEnd(at: Date, quiet: QuietHours, timezone: string): Date | undefined {
  const local = zonedParts(at, timezone);
  const minutes = local.hour * 60 + local.minute;
  const start = minutesOf(quiet.start);
  const end = minutesOf(quiet.end);
  const wraps = start > end;
  const inside = wraps ? minutes >= start || minutes < end : minutes >= start && minutes < end;
  if (!inside) return undefined;
  const day = zonedDate(at, timezone);
  // 21:00-08:00 at 22:30: the quiet hours end tomorrow; at 06:00 they end today.
  return zonedToUtc(wraps && minutes >= start ? addDays(day, 1) : day, end, timezone);
}

/**
 * The time of a reminder in the clinic's zone. One that falls in the quiet hours moves to their
 * end if that is still before the appointment, and is skipped otherwise; one at or after the start is skipped.
 */
export function reminderTime(startsAt: Date, offset: ReminderOffset, timezone: string, quiet: QuietHours | null): ReminderTime {
  const nominal = nominalTime(startsAt, offset, timezone);
  if (nominal >= startsAt) return { skip: 'after_start' };
  const end = quiet ? quietEnd(nominal, quiet, timezone) : undefined;
  if (!end) return { at: nominal, movedByQuietHours: false };
  if (end >= startsAt) return { skip: 'quiet_hours' };
  return { at: end, movedByQuietHours: true };
}
