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

/** Timestamps in responses: ISO 8601, UTC. */
export const isoTimestamp = z.iso.datetime({ offset: true });

const businessDay = [{ start: '08:00', end: '18:00' }];
/** Until a clinic or professional sets others: Monday to Friday, 08:00 to 18:00. */
export const DEFAULT_WORKING_HOURS = { '1': businessDay, '2': businessDay, '3': businessDay, '4': businessDay, '5': businessDay };
