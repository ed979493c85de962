import { z } from 'zod';
import { DEFAULT_WORKING_HOURS } from '../../../../shared/api/common.js';
import { line } from '../../../../shared/api/text.js';
import type { WorkingHours } from '../../../../shared/schema/index.js';
import type { ClinicService } from '../../clinic/service.js';
import type { TeamService } from '../../team/service.js';
import { bookableProfessionals } from './booking.js';
import { defineTool } from './define.js';
import { WEEKDAYS_PT } from './format.js';

/** Opening hours per weekday in pt-BR ("segunda-feira": "08:00-12:00, 13:00-18:00"); days left out are closed. */
function hoursOf(hours: WorkingHours) {
  return WEEKDAYS_PT.flatMap((day, i) => {
    const intervals = hours[String(i) as keyof WorkingHours] ?? [];
    return intervals.length ? [{ weekday: day, hours: intervals.map((x) => `${x.start}-${x.end}`).join(', ') }] : [];
  });
}

export function clinicInfo(deps: { clinic: ClinicService; team: TeamService }) {
  return defineTool({
    name: 'clinic_info',
    description:
      "The clinic's name, address, phone, e-mail, opening hours (clinic time zone; weekdays not listed are closed) and its professionals' names. " +
      'It holds nothing about patients. Prices, insurance and preparation come from the knowledge base, not from here.',
    schema: z.strictObject({}),
    async run(_args, scope) {
      const [clinic, professionals, bookable] = await Promise.all([
        deps.clinic.get(scope.clinicId),
        deps.team.professionals(scope.clinicId),
        bookableProfessionals(deps.team, scope),
      ]);
      const bookableIds = new Set(bookable.map((p) => p.userId));
      return {
        ok: true,
        data: {
          name: clinic.name,
          address: clinic.address,
          phone: clinic.phone,
          email: clinic.email,
          timezone: clinic.timezone,
          openingHours: hoursOf(clinic.workingHours ?? DEFAULT_WORKING_HOURS),
          // Names only: members' e-mails and hours are staff data. Specialties are not stored yet.
          professionals: professionals.map((p) => ({ professionalId: p.userId, name: p.name, bookableByAssistant: bookableIds.has(p.userId) })),
        },
      };
    },
  });
}

export const handoff = defineTool({
  name: 'handoff',
  description:
    'Hands the conversation to a person of the clinic staff and ends your reply. Use it when the patient asks for a person, when you cannot help ' +
    '(clinical questions, complaints, payments, anything the tools and the knowledge base do not cover) or after a tool keeps failing. Tell the patient someone will answer soon.',
  schema: z.strictObject({ reason: line(500).describe('Why, in one short sentence, for the staff.') }),
  run: async (args) => ({ ok: true, data: {}, handoff: { reason: args.reason } }),
});
