/** Wall-clock time in an IANA zone without a date library (Brazil has no DST, but this does not rely on it). */

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string) {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/** Local calendar fields of an instant in a zone. */
export function zonedParts(instant: Date, timeZone: string) {
  const parts: Record<string, number> = {};
  for (const p of formatter(timeZone).formatToParts(instant)) if (p.type !== 'literal') parts[p.type] = Number(p.value);
  return { year: parts.year!, month: parts.month!, day: parts.day!, hour: parts.hour! % 24, minute: parts.minute!, second: parts.second! };
}

function measuredOffset(ms: number, timeZone: string): number {
  const p = zonedParts(new Date(ms), timeZone);
  const asUtc = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second);
  return Math.round((asUtc - Math.floor(ms / 1000) * 1000) / 60_000);
}

const QUARTER_HOUR_MS = 15 * 60_000;
/** Offsets by zone and UTC quarter hour; cleared when full. */
const quarterOffsets = new Map<string, number>();
const MAX_QUARTERS = 50_000;

/**
 * Offset of the zone at an instant, in minutes east of UTC (São Paulo: -180). Asked for every
 * slot of a week's availability, where formatToParts was most of the cost: a quarter hour whose
 * two ends have the same offset has it throughout (no zone changes twice in 15 minutes), so its
 * offset is kept; one holding a change is measured at each instant.
 */
export function offsetMinutes(instant: Date, timeZone: string): number {
  const quarter = Math.floor(instant.getTime() / QUARTER_HOUR_MS);
  const key = `${timeZone}|${quarter}`;
  const known = quarterOffsets.get(key);
  if (known !== undefined) return known;
  const start = measuredOffset(quarter * QUARTER_HOUR_MS, timeZone);
  if (start !== measuredOffset((quarter + 1) * QUARTER_HOUR_MS - 1000, timeZone)) return measuredOffset(instant.getTime(), timeZone);
  if (quarterOffsets.size >= MAX_QUARTERS) quarterOffsets.clear();
  quarterOffsets.set(key, start);
  return start;
}

/** The instant when the wall clock in `timeZone` shows `date` (YYYY-MM-DD) at `minutes` after midnight. */
export function zonedToUtc(date: string, minutes: number, timeZone: string): Date {
  const [y, m, d] = date.split('-').map(Number) as [number, number, number];
  const guess = Date.UTC(y, m - 1, d, 0, minutes);
  const first = guess - offsetMinutes(new Date(guess), timeZone) * 60_000;
  // Re-check at the result in case an offset change lies between the guess and the answer.
  return new Date(guess - offsetMinutes(new Date(first), timeZone) * 60_000);
}

/** YYYY-MM-DD of an instant in a zone. */
export function zonedDate(instant: Date, timeZone: string): string {
  const p = zonedParts(instant, timeZone);
  return `${p.year}-${String(p.month).padStart(2, '0')}-${String(p.day).padStart(2, '0')}`;
}

/** ISO 8601 with the zone's offset, e.g. 2027-03-01T09:00:00-03:00. */
export function formatInZone(instant: Date, timeZone: string): string {
  const offset = offsetMinutes(instant, timeZone);
  const local = new Date(instant.getTime() + offset * 60_000).toISOString().slice(0, 19);
  const sign = offset < 0 ? '-' : '+';
  const abs = Math.abs(offset);
  return `${local}${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
}

/** The next calendar day of YYYY-MM-DD. */
export function addDays(date: string, days: number): string {
  const [y, m, d] = date.split('-').map(Number) as [number, number, number];
  return new Date(Date.UTC(y, m - 1, d + days)).toISOString().slice(0, 10);
}

/** 0 = Sunday ... 6 = Saturday for YYYY-MM-DD. */
export const weekday = (date: string) => new Date(`${date}T00:00:00Z`).getUTCDay();

/** "HH:MM" (or "24:00") -> minutes after midnight. */
export function minutesOf(hhmm: string): number {
  const [h, m] = hhmm.split(':').map(Number) as [number, number];
  return h * 60 + m;
}
