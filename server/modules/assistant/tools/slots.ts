import { z } from 'zod';
import { APPOINTMENT_TYPES } from '../../../../shared/schema/index.js';
import { zonedDate } from '../../../lib/zoned-time.js';
import type { Scheduling } from '../../scheduling/module.js';
import type { TeamService } from '../../team/service.js';
import { bookableProfessional, bookableProfessionals, checkType, SLOT_MINUTES } from './booking.js';
import { defineTool, fail } from './define.js';
import { dayOrInstant, idArg, toInstant, when } from './format.js';

export const DEFAULT_DAYS = 7;
export const MAX_DAYS = 14;
/** A WhatsApp answer offers a few times, not a calendar: the model asks again for another window. */
export const MAX_SLOTS = 12;
export const SLOTS_PER_DAY = 4;

const schema = z.strictObject({
  professionalId: idArg.optional().describe('Only this professional (an id from clinic_info or an earlier answer); omit for every professional the assistant may book.'),
  appointmentType: z.enum(APPOINTMENT_TYPES).optional().describe('The kind of appointment the patient wants; refused when the clinic does not let the assistant book it.'),
  from: dayOrInstant.optional().describe('Start of the window: a day YYYY-MM-DD (clinic time) or an ISO instant with offset. Default: today.'),
  to: dayOrInstant.optional().describe('End of the window: a day (included) or an ISO instant with offset. Default: from + days.'),
  days: z.number().int().min(1).max(MAX_DAYS).optional().describe(`Length of the window in days when "to" is omitted (default ${DEFAULT_DAYS}).`),
});

/** Up to SLOTS_PER_DAY starts per local day, spread over it (morning and afternoon) rather than the first ones. */
function perDay(starts: Date[], zone: string): Date[] {
  const byDay = new Map<string, Date[]>();
  for (const at of starts) {
    const day = zonedDate(at, zone);
    byDay.set(day, [...(byDay.get(day) ?? []), at]);
  }
  const k = SLOTS_PER_DAY;
  return [...byDay.values()].flatMap((day) => (day.length <= k ? day : Array.from({ length: k }, (_, i) => day[Math.round((i * (day.length - 1)) / (k - 1))] as Date)));
}

export function findFreeSlots(deps: { scheduling: Scheduling; team: TeamService }) {
  return defineTool({
    name: 'find_free_slots',
    description:
      `Lists free appointment times (${SLOT_MINUTES} minutes) of the clinic's professionals that the assistant may book, in the clinic's time zone. ` +
      `Answers at most ${MAX_SLOTS} times, spread over the days; "truncated" means there are more: ask the patient for a preferred day or period and call again with a narrower window. ` +
      'Offer the patient only times from this answer (read them the "label"), never invent one, and pass "startsAt" unchanged to book_appointment or reschedule_appointment.',
    schema,
    async run(args, scope) {
      if (args.appointmentType) checkType(scope, args.appointmentType);
      const zone = scope.config.timezone;
      const now = new Date();
      // Default: today from local midnight, so the cached availability serves the whole day (it leaves out past times itself).
      const from = toInstant(args.from ?? zonedDate(now, zone), zone);
      const to = args.to ? toInstant(args.to, zone, true) : new Date(from.getTime() + (args.days ?? DEFAULT_DAYS) * 86_400_000);
      if (to <= from) return fail('invalid_arguments', '"to" must be after "from".');
      if (to.getTime() - from.getTime() > MAX_DAYS * 86_400_000) return fail('invalid_arguments', `Ask for at most ${MAX_DAYS} days at a time.`);
      if (to <= now) return fail('invalid_arguments', 'That window is in the past.');
      const professionals = args.professionalId ? [await bookableProfessional(deps.team, scope, args.professionalId)] : await bookableProfessionals(deps.team, scope);
      const found = await Promise.all(
        professionals.map(async (p) => {
          const { slots } = await deps.scheduling.availability.slots(scope.clinicId, { professionalId: p.userId, from, to, durationMinutes: SLOT_MINUTES });
          return { professional: p, starts: slots.map((s) => new Date(s.startsAt)) };
        }),
      );
      const offered = found
        .flatMap(({ professional, starts }) => perDay(starts, zone).map((at) => ({ professional, at })))
        .sort((a, b) => a.at.getTime() - b.at.getTime() || a.professional.name.localeCompare(b.professional.name));
      const total = found.reduce((n, f) => n + f.starts.length, 0);
      const shown = offered.slice(0, MAX_SLOTS);
      return {
        ok: true,
        data: {
          timezone: zone,
          durationMinutes: SLOT_MINUTES,
          slots: shown.map((s) => ({ professionalId: s.professional.userId, professionalName: s.professional.name, ...when(s.at, zone) })),
          truncated: total > shown.length,
          ...(professionals.length === 0 ? { note: 'The clinic lets the assistant book no professional: offer to hand off to the staff.' } : {}),
        },
      };
    },
  });
}
