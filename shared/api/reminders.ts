import { z } from 'zod';
import { isoTimestamp } from './common.js';

// ---- Appointment reminder settings (GET|PUT /reminders/settings) ----

/** Local wall-clock time in the clinic's zone. */
const hhmm = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'Use HH:MM');
/** null: the default reminder template (key `lembrete`). */
const templateId = z.uuid().nullable().default(null);

export const DAYS_BEFORE = { min: 1, max: 7 } as const;
export const MINUTES_BEFORE = { min: 15, max: 24 * 60 } as const;

/** One reminder: `day_before` at a local time N days before, or `hours_before` some minutes before the start. */
export const reminderOffset = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('day_before'), daysBefore: z.number().int().min(DAYS_BEFORE.min).max(DAYS_BEFORE.max), at: hhmm, templateId }),
  z.strictObject({ kind: z.literal('hours_before'), minutesBefore: z.number().int().min(MINUTES_BEFORE.min).max(MINUTES_BEFORE.max), templateId }),
]);

/** No reminder between `start` and `end` (local; may wrap midnight, e.g. 21:00-08:00). */
export const quietHours = z.strictObject({ start: hhmm, end: hhmm }).refine((q) => q.start !== q.end, 'start and end must differ');

/** Fields sent replace their stored value; fields left out keep theirs (or the default). */
export const reminderSettingsPatch = z
  .strictObject({
    enabled: z.boolean(),
    /** At most one reminder of each kind. */
    offsets: z
      .array(reminderOffset)
      .max(2)
      .refine((offsets) => new Set(offsets.map((o) => o.kind)).size === offsets.length, 'At most one reminder of each kind'),
    /** null: the professional's own number if connected, else the clinic's first connected shared number. */
    numberId: z.uuid().nullable(),
    /** null: no quiet hours. */
    quietHours: quietHours.nullable(),
  })
  .partial()
  .refine((p) => Object.keys(p).length > 0, 'Send at least one field');

export const reminderSettings = z.object({
  enabled: z.boolean(),
  offsets: z.array(reminderOffset),
  numberId: z.uuid().nullable(),
  quietHours: z.object({ start: z.string(), end: z.string() }).nullable(),
  /** The clinic's zone: every local time above is read in it. */
  timezone: z.string(),
  updatedAt: isoTimestamp.nullable(),
});
export type ReminderSettingsView = z.infer<typeof reminderSettings>;
