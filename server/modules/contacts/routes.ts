import { contactBody, contactList, contactListQuery, contactPatch, contactResponse, timelineResponse } from '../../../shared/api/contacts.js';
import { route, uuidParam } from '../../http/route.js';
import type { ContactService } from './service.js';
import type { Timeline } from './timeline.js';

const tag = 'Patients';

export const contactRoutes = (contacts: ContactService, timeline: Timeline) => [
  route({
    method: 'get',
    path: '/contacts',
    summary: 'Patients: search by name (accent-insensitive, partial), phone, email or CPF; cursor or offset pages',
    tag,
    access: 'contacts:read',
    schemas: { query: contactListQuery },
    response: contactList,
    handler: async ({ ctx, query }) => contacts.list(ctx.clinicId, query),
  }),
  route({
    method: 'post',
    path: '/contacts',
    summary: 'Register a patient (409 contact_duplicate with the existing id for a known CPF or phone)',
    tag,
    access: 'contacts:write',
    status: 201,
    schemas: { body: contactBody },
    response: contactResponse,
    handler: async ({ ctx, body }) => contacts.create(ctx, body),
  }),
  route({
    method: 'get',
    path: '/contacts/:id',
    summary: 'One patient',
    tag,
    access: 'contacts:read',
    schemas: { params: uuidParam },
    response: contactResponse,
    handler: async ({ ctx, params }) => contacts.read(ctx.clinicId, params.id),
  }),
  route({
    method: 'patch',
    path: '/contacts/:id',
    summary: 'Change a patient',
    tag,
    access: 'contacts:write',
    schemas: { params: uuidParam, body: contactPatch },
    response: contactResponse,
    handler: async ({ ctx, params, body }) => contacts.update(ctx, params.id, body),
  }),
  route({
    method: 'delete',
    path: '/contacts/:id',
    summary: 'Delete a patient (kept, hidden, when appointments exist; refused with 409 has_clinical_records when medical records or anamnesis forms exist)',
    tag,
    access: 'contacts:delete',
    schemas: { params: uuidParam },
    handler: async ({ ctx, params }) => contacts.remove(ctx, params.id),
  }),
  route({
    method: 'get',
    path: '/contacts/:id/timeline',
    summary: 'Everything that happened with the patient, newest first',
    tag,
    access: 'contacts:read',
    schemas: { params: uuidParam },
    response: timelineResponse,
    handler: async ({ ctx, params }) => {
      await contacts.get(ctx.clinicId, params.id);
      return { items: await timeline.for(ctx, params.id) };
    },
  }),
];
