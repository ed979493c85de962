import { sql, type SQL } from 'drizzle-orm';
import { badRequest } from '../../lib/errors.js';
import { addDays, zonedToUtc } from '../../lib/zoned-time.js';

/** Local calendar days, both included. */
export interface Period {
  from: string;
  to: string;
}

/** A report's period, the one before it of the same length, and their edges as instants. */
export interface Periods {
  timezone: string;
  current: Period;
  previous: Period;
  /** SQL instants in the clinic's zone: the previous period's first midnight, the current one's, the day after `to`. */
  sql: { previousStart: SQL; currentStart: SQL; end: SQL };
  /** The same edges in JavaScript (working hours and blocks are computed here). */
  instants: { previousStart: Date; currentStart: Date; end: Date };
}

/** Two years, counted in days: 2025-01-01..2026-12-31 is allowed, one more day is not. */
const MAX_YEARS = 2;

const days = (from: string, to: string) => Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / 86_400_000) + 1;

/** Local midnight of a day as Postgres computes it: an appointment at 23:30 in Manaus stays on its local day. */
const localMidnight = (date: string, timezone: string) => sql`(${date}::date::timestamp at time zone ${timezone})`;

/** `from` <= `to`, at most two years: checked before anything is read (a cached report needs no read). */
export function checkRange(from: string, to: string) {
  if (from > to) throw badRequest('invalid_range', 'A data inicial (from) deve ser anterior ou igual à final (to)', { from, to });
  const limit = `${Number(from.slice(0, 4)) + MAX_YEARS}${from.slice(4)}`;
  if (to >= limit) throw badRequest('invalid_range', 'O período pode ter no máximo 2 anos', { from, to, maxTo: addDays(limit, -1) });
}

export function periods(from: string, to: string, timezone: string): Periods {
  checkRange(from, to);
  const length = days(from, to);
  const previous = { from: addDays(from, -length), to: addDays(from, -1) };
  const end = addDays(to, 1);
  return {
    timezone,
    current: { from, to },
    previous,
    sql: { previousStart: localMidnight(previous.from, timezone), currentStart: localMidnight(from, timezone), end: localMidnight(end, timezone) },
    instants: { previousStart: zonedToUtc(previous.from, 0, timezone), currentStart: zonedToUtc(from, 0, timezone), end: zonedToUtc(end, 0, timezone) },
  };
}

/** A ratio, or null when there is nothing to divide by. */
export const ratio = (part: number, whole: number) => (whole > 0 ? part / whole : null);
