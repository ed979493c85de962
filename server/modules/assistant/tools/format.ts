import { z } from 'zod';
import { APPOINTMENT_TYPE_LABELS } from '../../../../shared/api/scheduling.js';
import type { APPOINTMENT_TYPES } from '../../../../shared/schema/index.js';
import { formatInZone, zonedToUtc } from '../../../lib/zoned-time.js';

/**
 * String arguments checked by refinements, which JSON Schema leaves out: the model reads
 * `{type: "string"}` and a description rather than a long pattern on every call, and the tool still
 * refuses anything else.
 */
const checked = (format: z.ZodType, what: string) => z.string().refine((v) => format.safeParse(v).success, `Expected ${what}`);
export const idArg = checked(z.uuid(), 'an id (UUID)');
/** An instant with its offset, as find_free_slots answers it (never a bare time read as UTC). */
export const instantArg = checked(z.iso.datetime({ offset: true }), 'an ISO 8601 instant with offset, e.g. 2030-03-11T10:00:00-03:00');
/** A local day in the clinic's zone, or an instant with its offset. */
export const dayOrInstant = checked(z.union([z.iso.date(), z.iso.datetime({ offset: true })]), 'a day YYYY-MM-DD or an ISO 8601 instant with offset');

const DAY = /^\d{4}-\d{2}-\d{2}$/;
/** A day means its local midnight; `endOfDay` makes it the next midnight (an inclusive `to`). */
export function toInstant(value: string, timezone: string, endOfDay = false): Date {
  return DAY.test(value) ? zonedToUtc(value, endOfDay ? 24 * 60 : 0, timezone) : new Date(value);
}

const formats = new Map<string, Intl.DateTimeFormat>();
function formatter(timeZone: string) {
  let f = formats.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('pt-BR', { timeZone, weekday: 'long', day: '2-digit', month: '2-digit', year: 'numeric', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
    formats.set(timeZone, f);
  }
  return f;
}

/** "segunda-feira, 11/03/2030 às 10:00" in the clinic's zone: what the patient reads. */
export function labelOf(at: Date, timeZone: string): string {
  const p = Object.fromEntries(formatter(timeZone).formatToParts(at).map((x) => [x.type, x.value]));
  return `${p.weekday}, ${p.day}/${p.month}/${p.year} às ${p.hour}:${p.minute}`;
}

/** An instant for the model: ISO with the clinic's offset, and its pt-BR label. */
export const when = (at: Date, timeZone: string) => ({ startsAt: formatInZone(at, timeZone), label: labelOf(at, timeZone) });

export const typeLabel = (type: (typeof APPOINTMENT_TYPES)[number] | null) => APPOINTMENT_TYPE_LABELS[type ?? 'other'];

export const WEEKDAYS_PT = ['domingo', 'segunda-feira', 'terça-feira', 'quarta-feira', 'quinta-feira', 'sexta-feira', 'sábado'] as const;
