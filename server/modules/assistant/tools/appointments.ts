import { z } from 'zod';
import { line } from '../../../../shared/api/text.js';
import { APPOINTMENT_TYPES } from '../../../../shared/schema/index.js';
import { systemContext } from '../../../http/context.js';
import { AppError, notFound } from '../../../lib/errors.js';
import type { Scheduling } from '../../scheduling/module.js';
import { isMovable, type AppointmentStatus } from '../../scheduling/status.js';
import type { AppointmentView } from '../../scheduling/views.js';
import type { TeamService } from '../../team/service.js';
import type { ToolScope } from '../tool.js';
import { bookableProfessional, checkType, ensureFree, SLOT_MINUTES } from './booking.js';
import { defineTool } from './define.js';
import { idArg, instantArg, typeLabel, when } from './format.js';

/** A patient with this many upcoming appointments books no more through the assistant: "book every free slot" stops here. */
export const MAX_UPCOMING = 3;
const LIST_LIMIT = 10;
const DEFAULT_CANCEL_REASON = 'Cancelado pelo paciente pelo WhatsApp';

const STATUS_LABELS: Record<AppointmentStatus, string> = {
  scheduled: 'agendada',
  confirmed: 'confirmada',
  arrived: 'paciente chegou',
  in_progress: 'em atendimento',
  completed: 'realizada',
  no_show: 'falta',
  cancelled: 'cancelada',
};

interface Deps {
  scheduling: Scheduling;
  team: TeamService;
}

const ctxOf = (scope: ToolScope) => systemContext(scope.clinicId, 'assistant', scope.requestId);
const appointmentId = idArg.describe('An id from list_my_appointments.');

/** What the model may tell the patient about one of their appointments: no notes, prices or other patients. */
async function present(team: TeamService, scope: ToolScope, views: AppointmentView[]) {
  const names = new Map((await team.list(scope.clinicId)).map((m) => [m.userId, m.name]));
  return views.map((v) => ({
    appointmentId: v.id,
    ...when(v.startsAt, scope.config.timezone),
    durationMinutes: v.durationMinutes,
    professionalId: v.professionalId,
    professionalName: names.get(v.professionalId) ?? null,
    type: v.type,
    typeLabel: typeLabel(v.type),
    status: v.status,
    statusLabel: STATUS_LABELS[v.status],
  }));
}

async function upcoming(scheduling: Scheduling, scope: ToolScope) {
  const now = Date.now();
  return (await scheduling.appointments.forContact(scope.clinicId, scope.contactId)).filter((a) => isMovable(a.status) && a.startsAt.getTime() > now);
}

/**
 * One of the conversation's own patient's appointments that may still change. Another patient's
 * id answers exactly like a missing one: the model learns nothing about it.
 */
async function ownChangeable(scheduling: Scheduling, scope: ToolScope, id: string) {
  const view = await scheduling.appointments.get(scope.clinicId, id);
  if (view.contactId !== scope.contactId) throw notFound('Appointment');
  if (!isMovable(view.status) || view.startsAt.getTime() <= Date.now()) {
    throw new AppError(409, 'appointment_not_changeable', `This appointment is ${view.status} or already past: the assistant changes only upcoming scheduled or confirmed ones. Offer to hand off to the staff.`);
  }
  return view;
}

const one = async (team: TeamService, scope: ToolScope, view: AppointmentView) => (await present(team, scope, [view]))[0];

export function appointmentTools({ scheduling, team }: Deps) {
  return [
    defineTool({
      name: 'book_appointment',
      description:
        `Books a ${SLOT_MINUTES}-minute appointment for the patient of this conversation (never anyone else) at a time find_free_slots answered. ` +
        'Ask the patient to confirm professional, day and time before calling. error "slot_taken": the time was just taken; tell the patient and offer other free times.',
      schema: z.strictObject({
        professionalId: idArg.describe('The professionalId of the chosen slot.'),
        startsAt: instantArg.describe('The startsAt of the chosen slot, unchanged.'),
        appointmentType: z.enum(APPOINTMENT_TYPES).describe('The kind of appointment (first_visit, return, ...).'),
      }),
      async run(args, scope) {
        checkType(scope, args.appointmentType);
        await bookableProfessional(team, scope, args.professionalId);
        if ((await upcoming(scheduling, scope)).length >= MAX_UPCOMING) {
          throw new AppError(409, 'too_many_appointments', `The patient already has ${MAX_UPCOMING} upcoming appointments. Offer to reschedule one, or hand off to the staff.`);
        }
        const startsAt = new Date(args.startsAt);
        await ensureFree(scheduling, scope, args.professionalId, startsAt, SLOT_MINUTES);
        const view = await scheduling.appointments.create(ctxOf(scope), {
          contactId: scope.contactId,
          professionalId: args.professionalId,
          startsAt,
          durationMinutes: SLOT_MINUTES,
          type: args.appointmentType,
        });
        return { ok: true, data: { appointment: await one(team, scope, view) } };
      },
    }),
    defineTool({
      name: 'list_my_appointments',
      description: "Lists the upcoming scheduled or confirmed appointments of this conversation's patient (only theirs), soonest first.",
      schema: z.strictObject({}),
      async run(_args, scope) {
        const views = await upcoming(scheduling, scope);
        return { ok: true, data: { appointments: await present(team, scope, views.slice(0, LIST_LIMIT)), truncated: views.length > LIST_LIMIT } };
      },
    }),
    defineTool({
      name: 'confirm_appointment',
      description: "Confirms the patient's attendance at one of their upcoming appointments (when they say they will come).",
      schema: z.strictObject({ appointmentId }),
      async run(args, scope) {
        const view = await ownChangeable(scheduling, scope, args.appointmentId);
        if (view.status === 'confirmed') return { ok: true, data: { appointment: await one(team, scope, view), alreadyConfirmed: true } };
        const confirmed = await scheduling.appointments.changeStatus(ctxOf(scope), view.id, { status: 'confirmed' });
        return { ok: true, data: { appointment: await one(team, scope, confirmed) } };
      },
    }),
    defineTool({
      name: 'cancel_appointment',
      description: 'Cancels one of the patient\'s upcoming appointments. Ask the patient to confirm first; offer to reschedule instead.',
      schema: z.strictObject({ appointmentId, reason: line(500).optional().describe("The patient's reason, in their words (for the staff).") }),
      async run(args, scope) {
        const view = await ownChangeable(scheduling, scope, args.appointmentId);
        const cancelled = await scheduling.appointments.changeStatus(ctxOf(scope), view.id, { status: 'cancelled', reason: args.reason ?? DEFAULT_CANCEL_REASON });
        return { ok: true, data: { appointment: await one(team, scope, cancelled) } };
      },
    }),
    defineTool({
      name: 'reschedule_appointment',
      description:
        "Moves one of the patient's upcoming appointments to another free time of the same professional (call find_free_slots with its professionalId first); it keeps its length. " +
        'error "slot_taken": the time was just taken; offer other times.',
      schema: z.strictObject({ appointmentId, startsAt: instantArg.describe('The startsAt of the chosen slot, unchanged.') }),
      async run(args, scope) {
        const view = await ownChangeable(scheduling, scope, args.appointmentId);
        // Moving is booking a new time: the same limits as book_appointment.
        checkType(scope, view.type ?? 'other');
        await bookableProfessional(team, scope, view.professionalId);
        const startsAt = new Date(args.startsAt);
        await ensureFree(scheduling, scope, view.professionalId, startsAt, view.durationMinutes, view.id);
        const moved = await scheduling.appointments.update(ctxOf(scope), view.id, { startsAt });
        return { ok: true, data: { appointment: await one(team, scope, moved), previous: when(view.startsAt, scope.config.timezone) } };
      },
    }),
  ];
}
