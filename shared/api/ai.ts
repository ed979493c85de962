import { z } from 'zod';
import { AI_FEATURES, TEMPLATE_CATEGORIES } from '../schema/ai.js';
import { APPOINTMENT_TYPES } from '../schema/scheduling.js';
import { calendarDate, isoTimestamp, workingHours } from './common.js';
import { TEMPLATE_VARIABLES } from './template-syntax.js';
import { line, text } from './text.js';

// ---- Assistant configuration (GET|PUT /ai/config) ----

export const PAUSE_MINUTES = { min: 1, max: 30 * 24 * 60 } as const;
export const DEBOUNCE_SECONDS = { min: 0, max: 300 } as const;
export const REPLIES_PER_HOUR = { min: 1, max: 120 } as const;
export const MAX_DAILY_TOKEN_BUDGET = 100_000_000;
export const MAX_SYSTEM_PROMPT = 8_000;

/** Weekday ranges in the clinic's zone (as working hours), without overlaps within a day. */
export const aiHours = workingHours.superRefine((hours, ctx) => {
  for (const [day, intervals] of Object.entries(hours)) {
    const sorted = [...(intervals ?? [])].sort((a, b) => a.start.localeCompare(b.start));
    sorted.forEach((interval, i) => {
      const previous = sorted[i - 1];
      // HH:MM strings compare like the times they name.
      if (previous && interval.start < previous.end) {
        ctx.addIssue({ code: 'custom', path: [day], message: `${previous.start}-${previous.end} overlaps ${interval.start}-${interval.end}` });
      }
    });
  }
});

const keyword = z
  .string()
  .trim()
  .min(1)
  .max(60)
  .refine((k) => !k.includes('\u0000'), 'Text cannot contain NUL characters')
  .transform((k) => k.toLocaleLowerCase('pt-BR'));
const uniqueIds = z.array(z.uuid()).max(100).transform((ids) => [...new Set(ids)]);

/** Fields sent replace their stored value; fields left out keep theirs (or the default). */
export const aiConfigPatch = z
  .strictObject({
    enabled: z.boolean(),
    numberIds: uniqueIds,
    /** null: at any hour. */
    hours: aiHours.nullable(),
    /** null: back to the default prompt. */
    systemPrompt: text(MAX_SYSTEM_PROMPT).trim().min(20).nullable(),
    knowledgeBaseIds: uniqueIds,
    /** null: every active professional of the clinic. */
    bookingProfessionalIds: uniqueIds.nullable(),
    bookingAppointmentTypes: z.array(z.enum(APPOINTMENT_TYPES)).max(APPOINTMENT_TYPES.length).transform((t) => [...new Set(t)]),
    pauseAfterHumanMinutes: z.number().int().min(PAUSE_MINUTES.min).max(PAUSE_MINUTES.max),
    debounceSeconds: z.number().int().min(DEBOUNCE_SECONDS.min).max(DEBOUNCE_SECONDS.max),
    maxRepliesPerHour: z.number().int().min(REPLIES_PER_HOUR.min).max(REPLIES_PER_HOUR.max),
    handoffKeywords: z.array(keyword).max(50).transform((k) => [...new Set(k)]),
    dailyTokenBudget: z.number().int().min(0).max(MAX_DAILY_TOKEN_BUDGET),
    clinicalAi: z.strictObject({
      enabled: z.boolean(),
      /** Switching on: the version of the LGPD statement the admin read (GET answers it). */
      acceptedStatementVersion: line(40).optional(),
    }),
  })
  .partial()
  .refine((p) => Object.keys(p).length > 0, 'Send at least one field');

export const aiConfig = z.object({
  enabled: z.boolean(),
  numberIds: z.array(z.uuid()),
  hours: workingHours.nullable(),
  systemPrompt: z.string(),
  systemPromptIsDefault: z.boolean(),
  knowledgeBaseIds: z.array(z.uuid()),
  bookingProfessionalIds: z.array(z.uuid()).nullable(),
  bookingAppointmentTypes: z.array(z.enum(APPOINTMENT_TYPES)),
  pauseAfterHumanMinutes: z.number().int(),
  debounceSeconds: z.number().int(),
  maxRepliesPerHour: z.number().int(),
  handoffKeywords: z.array(z.string()),
  dailyTokenBudget: z.number().int(),
  clinicalAi: z.object({
    enabled: z.boolean(),
    statement: z.string(),
    statementVersion: z.string(),
    enabledAt: isoTimestamp.nullable(),
    enabledBy: z.uuid().nullable(),
  }),
  /** The clinic's zone, in which `hours` apply. */
  timezone: z.string(),
  updatedAt: isoTimestamp.nullable(),
});
export type AiConfigView = z.infer<typeof aiConfig>;

// ---- Templates (/ai-templates) ----

/** WhatsApp's limit for one text message. */
export const MAX_TEMPLATE_BODY = 4_096;

/** Syntax and variables are checked by the service (400 `invalid_template` naming each problem); clients may run `parseTemplate` first. */
const templateBody = text(MAX_TEMPLATE_BODY).trim().min(1);

export const templateCreate = z.strictObject({
  name: line(100),
  category: z.enum(TEMPLATE_CATEGORIES).default('other'),
  body: templateBody,
});
export const templatePatch = templateCreate
  .extend({ category: z.enum(TEMPLATE_CATEGORIES) })
  .partial()
  .refine((p) => Object.keys(p).length > 0, 'Send at least one field');

export const aiTemplate = z.object({
  id: z.uuid(),
  /** Stable key of a default template (`confirmacao`, `lembrete`, `pos_consulta`, `retorno`, `aniversario`); null for the clinic's own. */
  key: z.string().nullable(),
  name: z.string(),
  category: z.enum(TEMPLATE_CATEGORIES),
  body: z.string(),
  /** The variables the body uses, so a client knows what to pass to render. */
  variables: z.array(z.string()),
  createdAt: isoTimestamp,
  updatedAt: isoTimestamp,
});

export const templateListQuery = z.strictObject({ category: z.enum(TEMPLATE_CATEGORIES).optional() });

export const renderInput = z.strictObject({ contactId: z.uuid().optional(), appointmentId: z.uuid().optional() });
export const renderResult = z.object({ text: z.string(), variables: z.record(z.string(), z.string()) });

export const templateVariablesResponse = z.object({
  items: z.array(z.object({ name: z.string(), source: z.string(), label: z.string(), example: z.string(), filters: z.array(z.string()) })),
});
export const templateVariableList = () => ({
  items: Object.entries(TEMPLATE_VARIABLES).map(([name, v]) => ({ name, source: v.source, label: v.label, example: v.example, filters: [...('filters' in v ? v.filters : [])] })),
});

// ---- Usage (GET /ai/usage) ----

/** The daily budget counts the chat features, not embeddings. */
export type AiFeature = (typeof AI_FEATURES)[number];
export { AI_FEATURES, TEMPLATE_CATEGORIES };
export const BUDGETED_FEATURES: readonly AiFeature[] = ['auto_reply', 'professional_assistant', 'other'];
export const MAX_USAGE_DAYS = 366;

export const usageQuery = z
  .strictObject({ from: calendarDate.optional(), to: calendarDate.optional() })
  .refine((q) => !q.from || !q.to || q.from <= q.to, { message: 'from must not be after to', path: ['from'] });

const counts = { inputTokens: z.number().int(), outputTokens: z.number().int(), calls: z.number().int(), errors: z.number().int() };
export const usageReport = z.object({
  from: z.string(),
  to: z.string(),
  timezone: z.string(),
  totals: z.object(counts),
  byFeature: z.array(z.object({ feature: z.string(), model: z.string(), ...counts })),
  days: z.array(z.object({ date: z.string(), ...counts })),
  today: z.object({ date: z.string(), budget: z.number().int(), used: z.number().int(), remaining: z.number().int() }),
});
