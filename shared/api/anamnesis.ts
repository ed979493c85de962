import { z } from 'zod';

export const QUESTION_TYPES = ['text', 'textarea', 'number', 'date', 'single', 'multi', 'yes_no', 'scale'] as const;
export const MAX_TEXT_ANSWER = 5_000;
const questionId = z.string().regex(/^[a-z0-9_]{1,64}$/, 'Use 1 to 64 lowercase letters, digits or _');
const option = z.string().trim().min(1).max(200);

export const question = z.strictObject({
  id: questionId,
  label: z.string().trim().min(1).max(500),
  type: z.enum(QUESTION_TYPES),
  /** Choices of `single` and `multi`. */
  options: z.array(option).min(1).max(50).optional(),
  required: z.boolean().default(false),
  /** Bounds of `number` and `scale` (a scale defaults to 0..10). */
  min: z.number().min(-1e9).max(1e9).optional(),
  max: z.number().min(-1e9).max(1e9).optional(),
  /** Shown only when an earlier question has this answer (for `multi`: includes it). */
  showIf: z.strictObject({ questionId, equals: z.union([option, z.number(), z.boolean()]) }).optional(),
});
export type Question = z.infer<typeof question>;

export const questionList = z
  .array(question)
  .min(1)
  .max(100)
  .superRefine((questions, ctx) => {
    const seen = new Map<string, Question>();
    questions.forEach((q, i) => {
      const issue = (message: string) => ctx.addIssue({ code: 'custom', path: [i], message });
      if (seen.has(q.id)) issue(`Duplicate question id "${q.id}"`);
      const choice = q.type === 'single' || q.type === 'multi';
      if (choice && !q.options) issue('A single or multi question needs options');
      if (!choice && q.options) issue('Only single and multi questions have options');
      if (q.min !== undefined && q.max !== undefined && q.min > q.max) issue('min must not exceed max');
      if (q.showIf) {
        const parent = seen.get(q.showIf.questionId);
        if (!parent) issue('showIf must reference an earlier question');
        else if (parent.options && !parent.options.includes(String(q.showIf.equals))) issue('showIf.equals is not an option of that question');
        else if (parent.type === 'yes_no' && typeof q.showIf.equals !== 'boolean') issue('showIf.equals of a yes_no question is true or false');
      }
      seen.set(q.id, q);
    });
  });

export const templateCreate = z.strictObject({
  name: z.string().trim().min(1).max(200),
  description: z.string().max(2000).nullable().optional(),
  questions: questionList,
});
export const templatePatch = templateCreate.partial().refine((p) => Object.keys(p).length > 0, 'Send at least one field');

export const template = z.object({
  id: z.uuid(),
  familyId: z.uuid(),
  version: z.number().int(),
  name: z.string(),
  description: z.string().nullable(),
  questions: z.array(question),
  isDefault: z.boolean(),
  createdAt: z.string(),
  updatedAt: z.string(),
});

export const sendAnamnesis = z.strictObject({ templateId: z.uuid() });
export const sentAnamnesis = z.object({ id: z.uuid(), token: z.string(), url: z.string(), expiresAt: z.string() });

const answerValue = z.union([z.string().max(MAX_TEXT_ANSWER), z.number(), z.boolean(), z.array(option).max(50), z.null()]);
export const answersInput = z
  .record(z.string().max(64), answerValue)
  .refine((a) => Object.keys(a).length <= 100, 'Too many answers');

export const publicAnswer = z.strictObject({
  answers: answersInput,
  /** false saves a partial answer to resume later; true (the default) is the one final submission. */
  submit: z.boolean().default(true),
  /** The patient's LGPD consent, required before the first answer is stored. */
  consent: z.strictObject({ accepted: z.literal(true), version: z.string().max(40) }).optional(),
});

/** What the public link shows: never saved answers, except to the device that holds the resume secret. */
export const publicForm = z.object({
  clinicName: z.string(),
  templateName: z.string(),
  questions: z.array(question),
  /** Saved answers, only for the device that gave consent (empty otherwise). */
  answers: z.record(z.string(), z.unknown()),
  status: z.enum(['pending', 'in_progress']),
  /** Consent was given on another device: accepting it here starts afresh (its answers are discarded). */
  startedOnAnotherDevice: z.boolean(),
  expiresAt: z.string(),
  consent: z.object({ version: z.string(), text: z.string(), given: z.boolean() }),
});

export const publicAnswerResult = z.object({
  status: z.enum(['in_progress', 'submitted']),
  submittedAt: z.string().nullable(),
  /** Returned once, when consent starts the form on this device: keep it and send it as X-Resume-Secret. */
  resumeSecret: z.string().optional(),
});

export const responseSummary = z.object({
  id: z.uuid(),
  templateId: z.uuid(),
  templateName: z.string(),
  templateVersion: z.number().int(),
  status: z.enum(['pending', 'in_progress', 'submitted']),
  expiresAt: z.string(),
  submittedAt: z.string().nullable(),
  createdAt: z.string(),
});
export const responseDetail = responseSummary.extend({
  contactId: z.uuid(),
  questions: z.array(question),
  answers: z.record(z.string(), z.unknown()),
  consent: z.object({ version: z.string(), at: z.string(), ip: z.string().nullable() }).nullable(),
});
