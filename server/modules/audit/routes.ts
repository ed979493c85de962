import { z } from 'zod';
import { INSTANT_RANGE_MESSAGE, inInstantRange, isoTimestamp } from '../../../shared/api/common.js';
import { listOf, listQuery, route } from '../../http/route.js';
import type { AuditService } from './service.js';

export const auditEntry = z.object({
  id: z.uuid(),
  actorType: z.string(),
  actorId: z.uuid().nullable(),
  actorRole: z.string().nullable(),
  action: z.string(),
  entityType: z.string(),
  entityId: z.uuid().nullable(),
  contactId: z.uuid().nullable(),
  details: z.record(z.string(), z.unknown()).nullable(),
  ip: z.string().nullable(),
  userAgent: z.string().nullable(),
  createdAt: isoTimestamp,
});

export const auditRoutes = (audit: AuditService) => [
  route({
    method: 'get',
    path: '/audit-log',
    summary: 'Audit log of the clinic (admins)',
    tag: 'Platform',
    access: 'audit:read',
    schemas: {
      query: z.strictObject({
        entityType: z.string().max(64).optional(),
        entityId: z.uuid().optional(),
        actorId: z.uuid().optional(),
        contactId: z.uuid().optional(),
        from: z.coerce.date().refine(inInstantRange, INSTANT_RANGE_MESSAGE).optional(),
        to: z.coerce.date().refine(inInstantRange, INSTANT_RANGE_MESSAGE).optional(),
        ...listQuery,
      }),
    },
    response: listOf(auditEntry),
    handler: async ({ query, ctx }) => audit.list(ctx.clinicId, query),
  }),
];
