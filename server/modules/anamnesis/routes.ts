import type { Request } from 'express';
import { z } from 'zod';
import { publicAnswer, publicAnswerResult, publicForm, responseDetail, responseSummary, sendAnamnesis, sentAnamnesis, template, templateCreate, templatePatch } from '../../../shared/api/anamnesis.js';
import { listOf, publicRoute, route, uuidParam } from '../../http/route.js';
import type { AnamnesisService } from './service.js';
import type { TemplateService } from './templates.js';

const tag = 'Clinical';
// Any malformed token is simply unknown (404), like a wrong one: nothing is revealed by its shape.
const tokenParam = z.strictObject({ token: z.string().min(1).max(200) });

/** The secret the patient's device got when it gave consent (see AnamnesisService.publicAnswer). */
export const RESUME_SECRET_HEADER = 'X-Resume-Secret';
const resumeSecretOf = (req: Request) => {
  const value = req.get(RESUME_SECRET_HEADER);
  return value && value.length <= 200 ? value : undefined;
};

export const anamnesisRoutes = (templates: TemplateService, anamnesis: AnamnesisService) => [
  route({
    method: 'get',
    path: '/anamnesis/templates',
    summary: "The clinic's anamnesis templates (the defaults in Portuguese are created on first use)",
    tag,
    access: 'anamnesis_templates:read',
    response: listOf(template),
    handler: async ({ ctx }) => templates.list(ctx.clinicId),
  }),
  route({
    method: 'post',
    path: '/anamnesis/templates',
    summary: 'Create a template',
    tag,
    access: 'anamnesis_templates:manage',
    status: 201,
    schemas: { body: templateCreate },
    response: template,
    handler: async ({ ctx, body }) => templates.create(ctx, body),
  }),
  route({
    method: 'get',
    path: '/anamnesis/templates/:id',
    summary: 'One template (any version)',
    tag,
    access: 'anamnesis_templates:read',
    schemas: { params: uuidParam },
    response: template,
    handler: async ({ ctx, params }) => templates.get(ctx.clinicId, params.id),
  }),
  route({
    method: 'patch',
    path: '/anamnesis/templates/:id',
    summary: 'Edit a template; once it has answers, the edit creates a new version (new id) and answers keep theirs',
    tag,
    access: 'anamnesis_templates:manage',
    schemas: { params: uuidParam, body: templatePatch },
    response: template,
    handler: async ({ ctx, params, body }) => templates.update(ctx, params.id, body),
  }),
  route({
    method: 'delete',
    path: '/anamnesis/templates/:id',
    summary: 'Remove a template from the list (answers given to it are kept)',
    tag,
    access: 'anamnesis_templates:manage',
    schemas: { params: uuidParam },
    handler: async ({ ctx, params }) => templates.remove(ctx, params.id),
  }),
  route({
    method: 'post',
    path: '/contacts/:id/anamnesis',
    summary: 'Send a template to a patient: an unguessable link valid for 30 days',
    tag,
    access: 'anamnesis:send',
    status: 201,
    schemas: { params: uuidParam, body: sendAnamnesis },
    response: sentAnamnesis,
    handler: async ({ ctx, params, body }) => anamnesis.send(ctx, params.id, body.templateId),
  }),
  route({
    method: 'get',
    path: '/contacts/:id/anamnesis',
    summary: "A patient's anamneses (status, no answers; audited)",
    tag,
    access: 'anamnesis:read',
    schemas: { params: uuidParam },
    response: listOf(responseSummary),
    handler: async ({ ctx, params }) => anamnesis.listForContact(ctx, params.id),
  }),
  route({
    method: 'get',
    path: '/anamnesis/responses/:id',
    summary: 'One anamnesis with its answers and the template version answered (audited)',
    tag,
    access: 'anamnesis:read',
    schemas: { params: uuidParam },
    response: responseDetail,
    handler: async ({ ctx, params }) => anamnesis.get(ctx, params.id),
  }),
  publicRoute({
    method: 'get',
    path: '/public/anamnesis/:token',
    summary: `The form for the patient and the consent text; saved answers only with the ${RESUME_SECRET_HEADER} header of the device that gave consent; nothing once submitted (409)`,
    tag,
    rateLimit: 'public',
    schemas: { params: tokenParam },
    response: publicForm,
    handler: async ({ params, req }) => anamnesis.publicForm(params.token, resumeSecretOf(req)),
  }),
  publicRoute({
    method: 'post',
    path: '/public/anamnesis/:token',
    summary: `Save answers (submit: false) or submit them once (409 afterwards). Send ${RESUME_SECRET_HEADER} to carry on; without it, accepting the consent starts afresh and returns a new resumeSecret`,
    tag,
    rateLimit: 'public',
    schemas: { params: tokenParam, body: publicAnswer },
    response: publicAnswerResult,
    handler: async ({ ctx, params, body, req }) => anamnesis.publicAnswer(ctx, params.token, resumeSecretOf(req), body),
  }),
];
