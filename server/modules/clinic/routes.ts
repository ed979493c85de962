import { clinicPatch, clinicResponse } from '../../../shared/api/team.js';
import { route } from '../../http/route.js';
import type { ClinicService } from './service.js';

export const clinicRoutes = (clinic: ClinicService) => [
  route({
    method: 'get',
    path: '/clinic',
    summary: 'The active clinic',
    tag: 'Clinic',
    access: 'clinic:read',
    response: clinicResponse,
    handler: async ({ ctx }) => clinic.get(ctx.clinicId),
  }),
  route({
    method: 'patch',
    path: '/clinic',
    summary: 'Update name, time zone, working hours and contact data (admins)',
    tag: 'Clinic',
    access: 'clinic:manage',
    schemas: { body: clinicPatch },
    response: clinicResponse,
    handler: async ({ ctx, body }) => clinic.update(ctx, body),
  }),
];
