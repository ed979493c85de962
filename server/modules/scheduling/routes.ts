import { z } from 'zod';
import {
  appointmentBody,
  appointmentListQuery,
  appointmentPatch,
  appointmentResponse,
  occurrenceReport,
  seriesScope,
  statusChange,
} from '../../../shared/api/scheduling.js';
import { listOf, route, uuidParam } from '../../http/route.js';
import type { RecurrenceService } from './recurrence.js';
import type { AppointmentService } from './appointments.js';

const tag = 'Scheduling';

export const appointmentRoutes = (appointments: AppointmentService, recurrences: RecurrenceService) => [
  route({
    method: 'get',
    path: '/appointments',
    summary: 'Appointments overlapping [from, to), by professional, patient, status or tag, in start order',
    tag,
    access: 'appointments:read',
    schemas: { query: appointmentListQuery },
    response: listOf(appointmentResponse),
    handler: async ({ ctx, query }) => appointments.list(ctx.clinicId, query),
  }),
  route({
    method: 'post',
    path: '/appointments',
    summary: 'Book an appointment, or a weekly series with `recurrence` (409 appointment_conflict when the slot is taken)',
    tag,
    access: 'appointments:write',
    status: 201,
    idempotent: true,
    schemas: { body: appointmentBody },
    response: appointmentResponse.extend({ series: z.object({ id: z.uuid(), occurrences: z.array(occurrenceReport) }).optional() }),
    handler: async ({ ctx, body }) => {
      const { recurrence, ...single } = body;
      return recurrence ? recurrences.create(ctx, { ...body, recurrence }) : appointments.create(ctx, single);
    },
  }),
  route({
    method: 'get',
    path: '/appointments/:id',
    summary: 'One appointment',
    tag,
    access: 'appointments:read',
    schemas: { params: uuidParam },
    response: appointmentResponse,
    handler: async ({ ctx, params }) => appointments.get(ctx.clinicId, params.id),
  }),
  route({
    method: 'patch',
    path: '/appointments/:id',
    summary: 'Reschedule or edit; `scope: following` applies the change to the later occurrences of the series',
    tag,
    access: 'appointments:write',
    schemas: { params: uuidParam, body: appointmentPatch },
    response: appointmentResponse,
    handler: async ({ ctx, params, body }) => appointments.update(ctx, params.id, body),
  }),
  route({
    method: 'post',
    path: '/appointments/:id/status',
    summary: 'Move along scheduled -> confirmed -> arrived -> in_progress -> completed, or no_show / cancelled (with a reason)',
    tag,
    access: 'appointments:write',
    schemas: { params: uuidParam, body: statusChange },
    response: appointmentResponse,
    handler: async ({ ctx, params, body }) => appointments.changeStatus(ctx, params.id, body),
  }),
  route({
    method: 'delete',
    path: '/appointments/:id',
    summary: 'Delete an appointment (or it and the later occurrences with ?scope=following); cancelling keeps the history',
    tag,
    access: 'appointments:write',
    schemas: { params: uuidParam, query: z.strictObject({ scope: seriesScope.optional() }) },
    handler: async ({ ctx, params, query }) => appointments.remove(ctx, params.id, query.scope),
  }),
];
