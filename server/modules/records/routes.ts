import { z } from 'zod';
import { addendumCreate, chainReport, medicalRecord, recordCreate, recordPatch } from '../../../shared/api/records.js';
import { listOf, listQuery, route, uuidParam } from '../../http/route.js';
import { auditEntry } from '../audit/routes.js';
import type { RecordService } from './service.js';

const tag = 'Clinical';

export const recordRoutes = (records: RecordService) => [
  route({
    method: 'get',
    path: '/contacts/:id/medical-records',
    summary: "A patient's medical records and addenda, newest first (audited)",
    tag,
    access: 'records:read',
    schemas: { params: uuidParam, query: z.strictObject(listQuery) },
    response: listOf(medicalRecord),
    handler: async ({ ctx, params, query }) => records.list(ctx, params.id, query),
  }),
  route({
    method: 'get',
    path: '/contacts/:id/medical-records/verify',
    summary: "Recompute the keyed chain of a patient's signed records (and their files' bytes) and report the first broken link",
    tag,
    access: 'records:read',
    schemas: { params: uuidParam },
    response: chainReport,
    handler: async ({ ctx, params }) => records.verify(ctx, params.id),
  }),
  route({
    method: 'get',
    path: '/contacts/:id/access-log',
    summary: "Who read or wrote this patient's clinical data, newest first",
    tag,
    access: 'clinical_access_log:read',
    schemas: { params: uuidParam, query: z.strictObject(listQuery) },
    response: listOf(auditEntry),
    handler: async ({ ctx, params, query }) => records.accessLog(ctx, params.id, query),
  }),
  route({
    method: 'post',
    path: '/medical-records',
    summary: 'Create a draft record (the caller is its author)',
    tag,
    access: 'records:write',
    status: 201,
    schemas: { body: recordCreate },
    response: medicalRecord,
    handler: async ({ ctx, body }) => records.create(ctx, body),
  }),
  route({
    method: 'get',
    path: '/medical-records/:id',
    summary: 'One record with its attachments and addenda (audited)',
    tag,
    access: 'records:read',
    schemas: { params: uuidParam },
    response: medicalRecord,
    handler: async ({ ctx, params }) => records.get(ctx, params.id),
  }),
  route({
    method: 'patch',
    path: '/medical-records/:id',
    summary: 'Edit a draft (author only); a signed record answers 409 record_signed',
    tag,
    access: 'records:write',
    schemas: { params: uuidParam, body: recordPatch },
    response: medicalRecord,
    handler: async ({ ctx, params, body }) => records.update(ctx, params.id, body),
  }),
  route({
    method: 'post',
    path: '/medical-records/:id/sign',
    summary: 'Sign a draft (author only): freezes it and chains its hash',
    tag,
    access: 'records:write',
    schemas: { params: uuidParam },
    response: medicalRecord,
    handler: async ({ ctx, params }) => records.sign(ctx, params.id),
  }),
  route({
    method: 'post',
    path: '/medical-records/:id/addenda',
    summary: 'Correct a signed record with an addendum (signed at once)',
    tag,
    access: 'records:write',
    status: 201,
    schemas: { params: uuidParam, body: addendumCreate },
    response: medicalRecord,
    handler: async ({ ctx, params, body }) => records.addAddendum(ctx, params.id, body),
  }),
];
