import { z } from 'zod';
import { route, uuidParam } from '../../http/route.js';
import type { LgpdService } from './service.js';

const tag = 'LGPD';

export const lgpdRoutes = (lgpd: LgpdService) => [
  route({
    method: 'get',
    path: '/contacts/:id/export',
    summary: 'Everything about a patient as JSON (LGPD access right; audited)',
    tag,
    access: 'contacts:export',
    schemas: { params: uuidParam },
    response: z.object({ exportedAt: z.string(), contact: z.record(z.string(), z.unknown()), medicalRecords: z.array(z.unknown()), anamneses: z.array(z.unknown()), files: z.array(z.unknown()), accessLog: z.array(z.unknown()) }),
    handler: async ({ ctx, params }) => lgpd.export(ctx, params.id),
  }),
  route({
    method: 'post',
    path: '/contacts/:id/anonymize',
    summary: 'IRREVERSIBLE: erase identifying and marketing data of a patient; clinical records are kept 20 years',
    tag,
    access: 'contacts:anonymize',
    schemas: { params: uuidParam, body: z.strictObject({ confirm: z.literal(true, 'Send {"confirm": true}: anonymisation cannot be undone') }) },
    response: z.object({ id: z.uuid(), anonymizedAt: z.string(), irreversible: z.literal(true), message: z.string() }),
    handler: async ({ ctx, params }) => lgpd.anonymize(ctx, params.id),
  }),
];
