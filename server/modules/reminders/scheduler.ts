import { and, eq, gt, inArray, lt } from 'drizzle-orm';
import type { ReminderSettingsView } from '../../../shared/api/reminders.js';
import { appointments, reminderSettings, type ReminderKind } from '../../../shared/schema/index.js';
import type { Infra } from '../../infra/index.js';
import type { JobContext } from '../../infra/queue.js';
import type { ReminderSettingsService } from './settings.js';
import { reminderTime } from './timing.js';

/** Statuses whose patient still expects the visit. */
export const REMINDED_STATUSES = ['scheduled', 'confirmed'] as const;

/** Jobs are added at most this far ahead (a process-local queue holds timers only so long); the sweep adds later ones as they near. */
export const SCHEDULE_AHEAD_MS = 24 * 3600_000;
export const SWEEP_EVERY_MS = 3600_000;
/** The furthest a reminder lies before its appointment (7 days before, at any hour). */
const LONGEST_LEAD_MS = 8 * 24 * 3600_000;

/** The job id and the message key: one reminder per appointment, kind and start time it announces. */
export const reminderKey = (appointmentId: string, kind: ReminderKind, startsAt: Date) => `reminder:${appointmentId}:${kind}:${startsAt.getTime()}`;

export interface ScheduledAppointment {
  id: string;
  startsAt: Date;
  status: string;
}

/**
 * Adds the `reminders.send` jobs of an appointment, keyed by appointment, kind and start: a
 * reschedule adds new keys (the old job then finds the start changed and sends nothing), a
 * redelivered event or the sweep adds nothing new.
 */
export class ReminderScheduler {
  constructor(
    private readonly infra: Infra,
    private readonly settings: ReminderSettingsService,
  ) {}

  async schedule(clinicId: string, appointment: ScheduledAppointment, opts: { settings?: ReminderSettingsView; requestId?: string | null; now?: Date } = {}): Promise<number> {
    if (!(REMINDED_STATUSES as readonly string[]).includes(appointment.status)) return 0;
    const settings = opts.settings ?? (await this.settings.get(clinicId));
    if (!settings.enabled) return 0;
    const now = opts.now ?? new Date();
    let added = 0;
    for (const offset of settings.offsets) {
      const time = reminderTime(appointment.startsAt, offset, settings.timezone, settings.quietHours);
      // Skipped by the rules, booked after its time, or too far ahead for now (the sweep adds it later).
      if ('skip' in time || time.at < now || time.at.getTime() - now.getTime() > SCHEDULE_AHEAD_MS) continue;
      await this.infra.queue.add(
        'reminders.send',
        { appointmentId: appointment.id, kind: offset.kind, startsAt: appointment.startsAt.toISOString() },
        { jobId: reminderKey(appointment.id, offset.kind, appointment.startsAt), delayMs: time.at.getTime() - now.getTime(), context: { clinicId, requestId: opts.requestId ?? null } },
      );
      added++;
    }
    return added;
  }

  /** Once per cluster: the reminders of every enabled clinic that fall within the next SCHEDULE_AHEAD_MS. */
  async sweep(job: JobContext, now = new Date()): Promise<void> {
    const enabled = await this.infra.systemDb.select({ clinicId: reminderSettings.clinicId }).from(reminderSettings).where(eq(reminderSettings.enabled, true));
    if (enabled.length === 0) return;
    const rows = await this.infra.systemDb
      .select({ clinicId: appointments.clinicId, id: appointments.id, startsAt: appointments.startsAt, status: appointments.status })
      .from(appointments)
      .where(
        and(
          inArray(appointments.clinicId, enabled.map((r) => r.clinicId)),
          inArray(appointments.status, [...REMINDED_STATUSES]),
          gt(appointments.startsAt, now),
          lt(appointments.startsAt, new Date(now.getTime() + SCHEDULE_AHEAD_MS + LONGEST_LEAD_MS)),
        ),
      );
    const byClinic = new Map<string, ReminderSettingsView>();
    let added = 0;
    for (const row of rows) {
      let settings = byClinic.get(row.clinicId);
      if (!settings) byClinic.set(row.clinicId, (settings = await this.settings.get(row.clinicId)));
      added += await this.schedule(row.clinicId, row, { settings, requestId: job.requestId, now });
    }
    if (added > 0) job.log.info({ added, clinics: byClinic.size }, 'reminder jobs added');
  }
}
