import { gt, lt } from 'drizzle-orm';
import { scheduleBlocks, type WorkingHours } from '../../../shared/schema/index.js';
import type { ClinicData } from '../../infra/clinic-data.js';
import { addDays, minutesOf, weekday, zonedToUtc } from '../../lib/zoned-time.js';
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

/** Minutes of a professional's weekly hours over the period's days, minus closed days and blocked time. */
export function workingMinutesOf(schedule: ProfessionalSchedule, period: Period, closed: Set<string>, blocks: Interval[]): number {
  let ms = 0;
  for (let date = period.from; date <= period.to; date = addDays(date, 1)) {
    if (closed.has(date)) continue;
    for (const h of schedule.hours[String(weekday(date)) as keyof WorkingHours] ?? []) {
      const open = { start: zonedToUtc(date, minutesOf(h.start), schedule.hoursTimezone).getTime(), end: zonedToUtc(date, minutesOf(h.end), schedule.hoursTimezone).getTime() };
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
