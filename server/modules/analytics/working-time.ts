import { gt, lt } from 'drizzle-orm';
import { scheduleBlocks, type WorkingHours } from '../../../shared/schema/index.js';
import type { ClinicData } from '../../infra/clinic-data.js';
import { minutesOf, zonedToUtc } from '../../lib/zoned-time.js';
import type { ProfessionalSchedule } from '../scheduling/availability.js';
import type { Period, Periods } from './periods.js';

interface Interval {
  start: number;
  end: number;
}

/** Sorted, non-overlapping. */
function merge(intervals: Interval[]): Interval[] {
  const out: Interval[] = [];
  for (const i of [...intervals].sort((a, b) => a.start - b.start)) {
    const last = out.at(-1);
    if (last && i.start <= last.end) last.end = Math.max(last.end, i.end);
    else out.push({ ...i });
  }
  return out;
}

const overlap = (a: Interval, blocks: Interval[]) => blocks.reduce((sum, b) => sum + Math.max(0, Math.min(a.end, b.end) - Math.max(a.start, b.start)), 0);

const DAY_MS = 86_400_000;
const WEEK_DAYS = 7;
/** Days are counted from the epoch (1970-01-01, a Thursday) so the loop over two years does no date parsing. */
const dayNumber = (date: string) => Date.parse(`${date}T00:00:00Z`) / DAY_MS;
const dateOf = (day: number) => new Date(day * DAY_MS).toISOString().slice(0, 10);

/** Zone offsets at local midnights by day number, kept across requests: pure zone arithmetic (Intl is the slow part). */
const offsets = new Map<string, Map<number, number>>();

/** Minutes east of UTC at the local midnight of a day, exactly (2-3 Intl calls the first time). */
function exactOffset(day: number, timezone: string): number {
  let zone = offsets.get(timezone);
  if (!zone || zone.size > 50_000) offsets.set(timezone, (zone = new Map()));
  let offset = zone.get(day);
  if (offset === undefined) zone.set(day, (offset = (day * DAY_MS - zonedToUtc(dateOf(day), 0, timezone).getTime()) / 60_000));
  return offset;
}

/**
 * The local midnight of a day, as epoch ms. Offsets are read exactly once a week (day numbers
 * divisible by 7); a day between two readings that agree has their offset (no zone changes its
 * offset twice within a week), others are read exactly. Two years cost ~100 exact reads.
 */
function midnight(day: number, timezone: string): number {
  const anchor = day - (((day % WEEK_DAYS) + WEEK_DAYS) % WEEK_DAYS);
  const before = exactOffset(anchor, timezone);
  const offset = before === exactOffset(anchor + WEEK_DAYS, timezone) ? before : exactOffset(day, timezone);
  return day * DAY_MS - offset * 60_000;
}

/** Minutes of a professional's weekly hours over the period's days, minus closed days and blocked time. */
export function workingMinutesOf(schedule: ProfessionalSchedule, period: Period, closed: Set<string>, blocks: Interval[]): number {
  const zone = schedule.hoursTimezone;
  const closedDays = new Set([...closed].map(dayNumber));
  const weekly = Array.from({ length: 7 }, (_, w) => (schedule.hours[String(w) as keyof WorkingHours] ?? []).map((h) => [minutesOf(h.start), minutesOf(h.end)] as const));
  let ms = 0;
  for (let day = dayNumber(period.from), last = dayNumber(period.to); day <= last; day++) {
    if (closedDays.has(day)) continue;
    const start = midnight(day, zone);
    // A day of 24 hours has no offset change inside: its hours are midnight plus minutes.
    const plain = midnight(day + 1, zone) - start === DAY_MS;
    for (const [from, to] of weekly[(((day + 4) % 7) + 7) % 7]!) {
      const at = (minutes: number) => (plain ? start + minutes * 60_000 : zonedToUtc(dateOf(day), minutes, zone).getTime());
      const open = { start: at(from), end: at(to) };
      ms += open.end - open.start - overlap(open, blocks);
    }
  }
  return ms / 60_000;
}

/** Each professional's working minutes in both periods (scheduling's schedule, holidays and blocks). */
export async function workingMinutes(
  data: ClinicData,
  p: Periods,
  schedules: ProfessionalSchedule[],
  closedDates: (from: string, to: string) => Promise<Set<string>>,
): Promise<{ current: Map<string, number>; previous: Map<string, number> }> {
  const [closed, blockRows] = await Promise.all([
    closedDates(p.previous.from, p.current.to),
    data.pick(
      { professionalId: scheduleBlocks.professionalId, start: scheduleBlocks.startsAt, end: scheduleBlocks.endsAt },
      scheduleBlocks,
      lt(scheduleBlocks.startsAt, p.instants.end),
      gt(scheduleBlocks.endsAt, p.instants.previousStart),
    ),
  ]);
  const current = new Map<string, number>();
  const previous = new Map<string, number>();
  for (const s of schedules) {
    // A block without a professional closes the whole clinic.
    const blocks = merge(blockRows.filter((b) => b.professionalId === null || b.professionalId === s.professionalId).map((b) => ({ start: b.start.getTime(), end: b.end.getTime() })));
    current.set(s.professionalId, workingMinutesOf(s, p.current, closed, blocks));
    previous.set(s.professionalId, workingMinutesOf(s, p.previous, closed, blocks));
  }
  return { current, previous };
}
