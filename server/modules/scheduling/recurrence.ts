import { randomUUID } from 'node:crypto';
import type { z } from 'zod';
import type { appointmentBody, recurrence } from '../../../shared/api/scheduling.js';
import { appointments } from '../../../shared/schema/index.js';
import { ClinicData } from '../../infra/clinic-data.js';
import type { Infra } from '../../infra/index.js';
import { actorUserId, type TenantContext } from '../../http/context.js';
import { conflict } from '../../lib/errors.js';
import { DEADLOCK_DETECTED, EXCLUSION_VIOLATION, pgErrorCode } from '../../lib/pg-errors.js';
import { addDays, zonedDate, zonedParts, zonedToUtc } from '../../lib/zoned-time.js';
import type { AuditService } from '../audit/service.js';
import type { TeamService } from '../team/service.js';
import type { HolidayService } from './holiday-service.js';
import { timeRange } from './booking-rules.js';
import type { AppointmentService } from './appointments.js';
import { overlapping, type AppointmentView } from './views.js';

type Rule = z.infer<typeof recurrence>;
type Body = z.infer<typeof appointmentBody>;

const MAX_OCCURRENCES = 104;

export interface Occurrence {
  startsAt: Date;
  endsAt: Date;
  /** `free` is only seen when a series is refused: those would have been booked. */
  status: 'free' | 'created' | 'conflict' | 'holiday';
  appointmentId?: string;
  conflictingIds?: string[];
}

/** Start times every N weeks at the same wall-clock time in the professional's zone, by count or until a date. */
export function occurrenceStarts(first: Date, timeZone: string, rule: Rule): Date[] {
  const date = zonedDate(first, timeZone);
  const p = zonedParts(first, timeZone);
  const minutes = p.hour * 60 + p.minute;
  const starts: Date[] = [];
  for (let i = 0; starts.length < (rule.count ?? MAX_OCCURRENCES); i++) {
    const day = addDays(date, i * 7 * rule.everyWeeks);
    if (rule.until && day > rule.until) break;
    starts.push(new Date(zonedToUtc(day, minutes, timeZone).getTime() + p.second * 1000));
  }
  return starts;
}

/**
 * Weekly series (therapy sessions). Every occurrence is checked before anything is written: a
 * conflict or a holiday refuses the whole series (409 with a per-occurrence report), or with
 * `skip_conflicts` only the free ones are booked.
 */
export class RecurrenceService {
  constructor(
    private readonly infra: Infra,
    private readonly audit: AuditService,
    private readonly team: TeamService,
    private readonly holidays: HolidayService,
    private readonly appointments: AppointmentService,
  ) {}

  private data(clinicId: string) {
    return new ClinicData(clinicId, this.infra.db);
  }

  async create(ctx: TenantContext, body: Body & { recurrence: Rule }) {
    await this.appointments.checkReferences(ctx, { ...body, overbook: false });
    if (body.overbook) throw conflict('overbook_not_recurring', 'An encaixe is booked one appointment at a time');
    const first = timeRange(body.startsAt, body.durationMinutes, body.endsAt);
    const length = first.endsAt.getTime() - first.startsAt.getTime();
    const professional = await this.team.professional(ctx.clinicId, body.professionalId);
    const occurrences = await this.check(ctx.clinicId, body.professionalId, professional.timezone, occurrenceStarts(first.startsAt, professional.timezone, body.recurrence), length);
    const skip = body.recurrence.onConflict === 'skip_conflicts';
    const report = () => occurrences.map(({ startsAt, endsAt, status, appointmentId, conflictingIds }) => ({ startsAt, endsAt, status, appointmentId, conflictingIds }));
    if (!skip && occurrences.some((o) => o.status !== 'free')) throw this.refused(report());

    const seriesId = randomUUID();
    const { recurrence: _r, overbook: _o, durationMinutes: _d, endsAt: _e, ...fields } = body;
    // The views published in the transaction are the answer: no second read after the commit.
    let views: AppointmentView[] = [];
    const created = await this.data(ctx.clinicId)
      .transaction(async (data, tx) => {
        const ids: string[] = [];
        for (const [index, o] of occurrences.entries()) {
          if (o.status !== 'free') continue;
          const values = { ...fields, startsAt: o.startsAt, endsAt: o.endsAt, createdBy: actorUserId(ctx), seriesId, seriesIndex: index };
          try {
            // A savepoint per occurrence: a booking that raced in takes only that one.
            const [row] = await data.transaction((savepoint) => savepoint.insert(appointments, values).returning({ id: appointments.id }));
            o.status = 'created';
            o.appointmentId = row?.id;
            if (row) ids.push(row.id);
          } catch (err) {
            // A deadlock inside the exclusion constraint is a race for this slot too: the other booking goes on.
            const code = pgErrorCode(err);
            if (code !== EXCLUSION_VIOLATION && code !== DEADLOCK_DETECTED) throw err;
            if (!skip) throw err;
            o.status = 'conflict';
          }
        }
        for (const id of ids) {
          await this.audit.record(ctx, { action: 'appointment.created', entityType: 'appointment', entityId: id, contactId: body.contactId, details: { professionalId: body.professionalId, seriesId } }, tx);
        }
        views = await this.appointments.publishViews(tx, ctx, 'appointment.created', ids);
        return ids;
      })
      .catch((err: unknown) => {
        const code = pgErrorCode(err);
        throw code === EXCLUSION_VIOLATION || code === DEADLOCK_DETECTED ? this.refused(report()) : err;
      });
    if (created.length === 0) throw this.refused(report());
    await this.appointments.invalidateCalendars(ctx.clinicId, views);
    return { ...(views[0] as (typeof views)[number]), series: { id: seriesId, occurrences: report() } };
  }

  private refused(occurrences: unknown[]) {
    return conflict('appointment_conflict', 'Some occurrences of the series are not free', { occurrences });
  }

  /** Marks each occurrence free, conflicting (with the ids in the way) or on a closed date. */
  private async check(clinicId: string, professionalId: string, timeZone: string, starts: Date[], length: number): Promise<Occurrence[]> {
    const firstStart = starts[0] as Date;
    const lastEnd = new Date((starts[starts.length - 1] as Date).getTime() + length);
    const [closed, booked] = await Promise.all([
      this.holidays.closedDates(clinicId, zonedDate(firstStart, timeZone), zonedDate(lastEnd, timeZone)),
      overlapping(this.data(clinicId), professionalId, firstStart, lastEnd),
    ]);
    return starts.map((startsAt) => {
      const endsAt = new Date(startsAt.getTime() + length);
      if (closed.has(zonedDate(startsAt, timeZone))) return { startsAt, endsAt, status: 'holiday' };
      const clashes = booked.filter((b) => b.startsAt < endsAt && b.endsAt > startsAt).map((b) => b.id);
      return clashes.length > 0 ? { startsAt, endsAt, status: 'conflict', conflictingIds: clashes } : { startsAt, endsAt, status: 'free' };
    });
  }
}
