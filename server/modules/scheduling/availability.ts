import { eq, gt, isNull, lt, or } from 'drizzle-orm';
import type { z } from 'zod';
import { DEFAULT_WORKING_HOURS } from '../../../shared/api/common.js';
import type { availabilityQuery } from '../../../shared/api/scheduling.js';
import { scheduleBlocks, type WorkingHours } from '../../../shared/schema/index.js';
import { ClinicData } from '../../infra/clinic-data.js';
import type { Infra } from '../../infra/index.js';
import { addDays, formatInZone, minutesOf, weekday, zonedDate, zonedToUtc } from '../../lib/zoned-time.js';
import type { ClinicService } from '../clinic/service.js';
import type { Providers } from '../module.js';
import type { TeamService } from '../team/service.js';
import type { CalendarCache } from './calendar-cache.js';
import type { HolidayService } from './holiday-service.js';
import { overlapping } from './views.js';

export interface BusyInterval {
  start: Date;
  end: Date;
}

/**
 * Time a professional is busy elsewhere (Google Calendar plugs in here, as `provides.busySources`
 * of its module). Results are cached with the calendar: a source whose data changes calls
 * `scheduling.calendars.invalidate` for that professional.
 */
export interface BusySource {
  name: string;
  busy(clinicId: string, professionalId: string, from: Date, to: Date): Promise<BusyInterval[]>;
}

/** Where a professional's hours come from and in which zone they are read. */
export interface ProfessionalSchedule {
  professionalId: string;
  /** Zone of the answers: the professional's own, else the clinic's. */
  timezone: string;
  hours: WorkingHours;
  /** Own hours are in the professional's zone; hours inherited from the clinic (or the default) in the clinic's. */
  hoursTimezone: string;
}

/** A professional's schedule from their membership and the clinic (analytics computes every professional's from one read). */
export function scheduleOf(
  professionalId: string,
  member: { timezone: string | null; workingHours: WorkingHours | null } | undefined,
  clinic: { timezone: string; workingHours: WorkingHours | null },
): ProfessionalSchedule {
  const timezone = member?.timezone ?? clinic.timezone;
  if (member?.workingHours) return { professionalId, timezone, hours: member.workingHours, hoursTimezone: timezone };
  return { professionalId, timezone, hours: clinic.workingHours ?? DEFAULT_WORKING_HOURS, hoursTimezone: clinic.timezone };
}

type Query = z.infer<typeof availabilityQuery>;
interface Slot {
  start: number;
  end: number;
}

export class AvailabilityService {
  constructor(
    private readonly infra: Infra,
    private readonly team: TeamService,
    private readonly clinic: ClinicService,
    private readonly holidays: HolidayService,
    private readonly calendars: CalendarCache,
    private readonly providers: Pick<Providers, 'busySources'>,
  ) {}

  async schedule(clinicId: string, professionalId: string): Promise<ProfessionalSchedule> {
    await this.team.professional(clinicId, professionalId);
    const [clinic, members] = await Promise.all([this.clinic.get(clinicId), this.team.list(clinicId)]);
    return scheduleOf(professionalId, members.find((m) => m.userId === professionalId), clinic);
  }

  async slots(clinicId: string, q: Query) {
    const step = q.stepMinutes ?? q.durationMinutes;
    const key = `avail:${q.professionalId}:${q.from.toISOString()}:${q.to.toISOString()}:${q.durationMinutes}:${step}`;
    const computed = await this.calendars.wrap(clinicId, q.professionalId, key, () => this.compute(clinicId, q, step));
    // Cached before this filter, so the same entry serves all day.
    const now = Date.now();
    return {
      professionalId: q.professionalId,
      timezone: computed.timezone,
      slots: computed.slots.filter((s) => new Date(s.startsAt).getTime() >= now),
    };
  }

  private async compute(clinicId: string, q: Query, step: number) {
    const schedule = await this.schedule(clinicId, q.professionalId);
    const firstDate = addDays(zonedDate(q.from, schedule.hoursTimezone), -1);
    const lastDate = addDays(zonedDate(q.to, schedule.hoursTimezone), 1);
    const [closed, busy] = await Promise.all([
      this.holidays.closedDates(clinicId, firstDate, lastDate),
      this.busy(clinicId, q.professionalId, q.from, q.to),
    ]);
    const free: Slot[] = [];
    const from = q.from.getTime();
    const to = q.to.getTime();
    const length = q.durationMinutes * 60_000;
    for (let date = firstDate; date <= lastDate; date = addDays(date, 1)) {
      if (closed.has(date)) continue;
      const intervals = schedule.hours[String(weekday(date)) as keyof WorkingHours] ?? [];
      for (const interval of intervals) {
        const open = zonedToUtc(date, minutesOf(interval.start), schedule.hoursTimezone).getTime();
        const close = zonedToUtc(date, minutesOf(interval.end), schedule.hoursTimezone).getTime();
        for (let start = open; start + length <= close; start += step * 60_000) {
          const end = start + length;
          if (start < from || end > to) continue;
          if (busy.some((b) => b.start < end && b.end > start)) continue;
          free.push({ start, end });
        }
      }
    }
    return {
      timezone: schedule.timezone,
      slots: free.map((s) => ({ startsAt: formatInZone(new Date(s.start), schedule.timezone), endsAt: formatInZone(new Date(s.end), schedule.timezone) })),
    };
  }

  /** Active appointments (encaixes included), blocks and every registered source, as epoch-ms intervals. */
  private async busy(clinicId: string, professionalId: string, from: Date, to: Date): Promise<Slot[]> {
    const data = new ClinicData(clinicId, this.infra.db);
    const [booked, blocks, ...external] = await Promise.all([
      overlapping(data, professionalId, from, to),
      data.pick(
        { start: scheduleBlocks.startsAt, end: scheduleBlocks.endsAt },
        scheduleBlocks,
        or(eq(scheduleBlocks.professionalId, professionalId), isNull(scheduleBlocks.professionalId)),
        lt(scheduleBlocks.startsAt, to),
        gt(scheduleBlocks.endsAt, from),
      ),
      ...this.providers.busySources.map((s) => s.busy(clinicId, professionalId, from, to)),
    ]);
    const appointmentsBusy = booked.map((a) => ({ start: a.startsAt, end: a.endsAt }));
    return [...appointmentsBusy, ...blocks, ...external.flat()].map((b) => ({ start: b.start.getTime(), end: b.end.getTime() }));
  }
}
