import { z } from 'zod';

export const email = z.email().max(254).transform((v) => v.toLowerCase());
export const password = z.string().min(8, 'At least 8 characters').max(200);
export const personName = z.string().trim().min(1).max(200);
export const timezone = z
  .string()
  .max(64)
  .refine((tz) => {
    try {
      new Intl.DateTimeFormat('en', { timeZone: tz });
      return true;
    } catch {
      return false;
    }
  }, 'Unknown IANA time zone');

const hhmm = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$|^24:00$/, 'Use HH:MM');
const interval = z
  .strictObject({ start: hhmm, end: hhmm })
  .refine((i) => i.start < i.end, 'start must be before end');
/** Weekday (0 = Sunday ... 6) -> intervals in local time; a missing day is closed. */
export const workingHours = z.partialRecord(z.enum(['0', '1', '2', '3', '4', '5', '6']), z.array(interval).max(6));

export const role = z.enum(['admin', 'professional', 'receptionist']);

export const errorShape = z.object({
  error: z.object({ code: z.string(), message: z.string(), details: z.unknown().optional(), requestId: z.string() }),
});

/**
 * The instants the API accepts: JavaScript parses years up to 275760 and Postgres stores 4713 BC
 * to 294276 AD, but a date that far, plus a duration or a time zone shift, fails in between.
 * Nothing a clinic books, searches or pages through lies outside 1900-2999.
 */
export const EARLIEST_INSTANT = new Date('1900-01-01T00:00:00Z');
export const LATEST_INSTANT = new Date('3000-01-01T00:00:00Z');
export const inInstantRange = (d: Date) => d >= EARLIEST_INSTANT && d < LATEST_INSTANT;
export const INSTANT_RANGE_MESSAGE = 'Dates must be between 1900 and 2999';
/** A calendar day (YYYY-MM-DD) within the same range. */
export const calendarDate = z.iso.date().refine((d) => d >= '1900-01-01' && d < '3000-01-01', INSTANT_RANGE_MESSAGE);

/** Timestamps in responses: ISO 8601, UTC. */
export const isoTimestamp = z.iso.datetime({ offset: true });

const businessDay = [{ start: '08:00', end: '18:00' }];
/** Until a clinic or professional sets others: Monday to Friday, 08:00 to 18:00. */
export const DEFAULT_WORKING_HOURS = { '1': businessDay, '2': businessDay, '3': businessDay, '4': businessDay, '5': businessDay };
