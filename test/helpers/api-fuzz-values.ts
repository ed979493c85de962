import fc from 'fast-check';
import { WEBHOOK_EVENTS } from '../../shared/api/webhooks.js';
import { CLINICAL_AI_STATEMENT_VERSION } from '../../server/modules/ai/defaults.js';
import { CONSENT_VERSION } from '../../server/modules/anamnesis/defaults.js';
import { cpfFrom } from './patients.js';

/**
 * Values for the stateful fuzzer (test/helpers/api-fuzz.ts): drawn from each operation's JSON
 * Schema, made to pass the cross-field rules a JSON Schema cannot say (dates in order, one of two
 * fields, a reason with a cancellation) and the few bodies a schema says too little about (HINTS).
 * An id field draws a reference (`@ref:own:<n>:<kind>`) that the chain resolves when it runs, from
 * the ids of that kind its clinic has been shown by then: mostly its own, some of the other
 * clinic's, some of none.
 */

export interface JsonSchema {
  type?: string | string[];
  format?: string;
  enum?: unknown[];
  const?: unknown;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  pattern?: string;
  additionalProperties?: unknown;
}

const camel = (s: string) => s.replace(/-(\w)/g, (_, c: string) => c.toUpperCase());
const singular = (s: string) => s.replace(/ies$/, 'y').replace(/([^is])s$/, '$1');

/** Collections whose items are not named after their last segment. */
const COLLECTION_KINDS: Record<string, string> = { '/api/contacts/{id}/anamnesis': 'response', '/api/professionals': 'user', '/api/team': 'user' };

/** The kind of id a collection holds: `/api/rag/knowledge-bases` -> `knowledgeBase`. */
export function kindOfCollection(path: string): string {
  const last = path.split('/').filter((p) => p && !p.startsWith('{')).pop() ?? '';
  return COLLECTION_KINDS[path] ?? singular(camel(last));
}

/** Id fields whose name is not the kind they hold; `<operation> <field>` where it depends on the route. */
const FIELD_KINDS: Record<string, string> = {
  userId: 'user',
  assigneeId: 'user',
  ownerId: 'user',
  actorId: 'user',
  professionalId: 'professional',
  bookingProfessionalIds: 'professional',
  fileId: 'file',
  attachmentIds: 'file',
  numberIds: 'number',
  tagId: 'appointmentTag',
  replyTo: 'message',
  moveTo: 'stage',
  // A holiday entry is answered as the override of the day (`overrideId`); `DELETE /holidays/{id}` takes it.
  overrideId: 'holiday',
  'POST /api/pipeline/stages/reorder ids': 'stage',
  'PUT /api/reminders/settings templateId': 'aiTemplate',
  'GET /api/files/content/{token} token': 'fileToken',
};

/** `contactId` -> `contact`; `knowledgeBaseIds` -> `knowledgeBase`. */
export const kindOfField = (field: string, op = '') => FIELD_KINDS[`${op} ${field}`] ?? FIELD_KINDS[field] ?? field.replace(/Ids?$/, '');

const DAY = 24 * 3600_000;
const NAMES = ['Maria da Silva', 'João Araújo', 'Consulta', 'Retorno', 'Avaliação inicial'];
const TEXTS = ['Consulta de retorno', 'Observação: paciente em jejum', 'Dor lombar há três semanas, piora ao sentar', 'Olá! Confirmamos sua consulta.'];

/** Field names whose plausible values a schema does not tell (unique ones carry a number). */
const PLAUSIBLE: Record<string, fc.Arbitrary<unknown>> = {
  phone: fc.nat(99_999_999).map((n) => `(11) 9${String(n).padStart(8, '0')}`),
  cpf: fc.array(fc.nat(9), { minLength: 9, maxLength: 9 }).map(cpfFrom),
  name: fc.tuple(fc.constantFrom(...NAMES), fc.nat(99_999)).map(([name, n]) => `${name} ${n}`),
  timezone: fc.constantFrom('America/Sao_Paulo', 'America/Manaus'),
  birthDate: fc.date({ min: new Date('1930-01-01'), max: new Date('2020-01-01'), noInvalidDate: true }).map((d) => d.toISOString().slice(0, 10)),
  question: fc.constantFrom('Quais alergias o paciente relatou?', 'Qual foi a última prescrição?'),
  query: fc.constantFrom('horário de funcionamento', 'convênios aceitos', 'preparo para exame'),
  // A list's next page is its own answer's: a drawn cursor is only a defect.
  cursor: fc.constant(undefined),
  before: fc.constant(undefined),
  events: fc.subarray(Object.keys(WEBHOOK_EVENTS), { minLength: 1, maxLength: 4 }),
};

const stringOf = (s: JsonSchema, field: string): fc.Arbitrary<unknown> => {
  if (s.format === 'uuid') {
    return fc.oneof(
      { weight: 12, arbitrary: fc.nat(999).map((n) => `@ref:own:${n}:${field}`) },
      { weight: 1, arbitrary: fc.nat(999).map((n) => `@ref:other:${n}:${field}`) },
      { weight: 1, arbitrary: fc.uuid() },
    );
  }
  if (s.format === 'email') return fc.oneof({ weight: 8, arbitrary: fc.nat(99_999).map((n) => `pessoa${n}@example.com`) }, { weight: 1, arbitrary: fc.emailAddress() });
  // Mostly ahead of the clock (bookings, snoozes), some in the past.
  if (s.format === 'date-time') return fc.date({ min: new Date('2026-06-01'), max: new Date('2032-01-01'), noInvalidDate: true }).map((d) => new Date(Math.round(d.getTime() / 900_000) * 900_000).toISOString());
  if (s.format === 'date') return fc.date({ min: new Date('2024-01-01'), max: new Date('2032-01-01'), noInvalidDate: true }).map((d) => d.toISOString().slice(0, 10));
  if (s.format === 'uri') return fc.constant('https://clinica.example.com.br/precos');
  if (s.pattern) return fc.stringMatching(new RegExp(s.pattern)).filter((v) => v.length >= (s.minLength ?? 0) && v.length <= (s.maxLength ?? Infinity));
  const min = s.minLength ?? 1;
  const fits = TEXTS.filter((t) => t.length >= min && t.length <= (s.maxLength ?? Infinity));
  return fc.constantFrom(...(fits.length > 0 ? fits : ['x'.repeat(min)]));
};

/** JSON Schema type names of a schema (the bad-input walk reads them too). */
export const typesOf = (s: JsonSchema): string[] => {
  if (s.anyOf ?? s.oneOf) return (s.anyOf ?? s.oneOf ?? []).flatMap(typesOf);
  if (s.enum || s.const !== undefined) return [typeof (s.enum?.[0] ?? s.const)];
  return s.type === undefined ? [] : Array.isArray(s.type) ? s.type : [s.type];
};

/** Values for a JSON schema, valid for it. `fields` overrides the values of top-level properties. */
export function arbitrary(s: JsonSchema, field = '', depth = 0, fields: Record<string, fc.Arbitrary<unknown>> = {}): fc.Arbitrary<unknown> {
  const plausible = PLAUSIBLE[field];
  if (plausible && depth > 0) return plausible;
  const variants = s.anyOf ?? s.oneOf;
  if (variants) {
    // `null` is valid but leaves the field empty: drawn less often than a value.
    return fc.oneof(...variants.map((v) => ({ weight: typesOf(v).includes('null') ? 1 : 4, arbitrary: arbitrary(v, field, depth) })));
  }
  if (s.enum) return fc.constantFrom(...s.enum);
  if (s.const !== undefined) return fc.constant(s.const);
  const types = typesOf(s);
  if (types.length === 1 && types[0] === 'null') return fc.constant(null);
  const type = types.find((t) => t !== 'null') ?? 'string';
  switch (type) {
    case 'string':
      return stringOf(s, field);
    case 'integer':
      return fc.integer({ min: Math.max(s.minimum ?? 0, -1_000_000), max: Math.min(s.maximum ?? 100_000, 1_000_000) });
    case 'number':
      return fc.double({ min: s.minimum ?? 0, max: s.maximum ?? 100_000, noNaN: true });
    case 'boolean':
      return fc.boolean();
    case 'array':
      return depth > 3 || !s.items ? fc.constant([]) : fc.array(arbitrary(s.items, field, depth + 1), { minLength: s.minItems ?? 0, maxLength: Math.min(s.maxItems ?? 3, 3) });
    case 'object': {
      if (depth > 3) return fc.constant({});
      const props = Object.fromEntries(Object.entries(s.properties ?? {}).map(([k, v]) => [k, depth === 0 && fields[k] ? fields[k] : arbitrary(v, k, depth + 1)]));
      return fc.record(props, { requiredKeys: (s.required ?? []).filter((k) => k in props) });
    }
    default:
      return fc.anything({ maxDepth: 1 });
  }
}

type Body = Record<string, unknown>;
interface Hint {
  /** Values for top-level fields the schema says too little about. */
  fields?: Record<string, fc.Arbitrary<unknown>>;
  /** The cross-field rules of the route, applied to a valid body. */
  fix?: (b: Body) => Body;
}

const exactlyOne = (b: Body, keys: string[], fallback: Body) => {
  const present = keys.filter((k) => b[k] !== undefined);
  if (present.length === 0) return { ...b, ...fallback };
  return Object.fromEntries(Object.entries(b).filter(([k]) => !present.slice(1).includes(k)));
};
const withReason = (status: string, reason: string) => (b: Body) => (b.status === status && b[reason] === undefined ? { ...b, [reason]: 'Paciente pediu para remarcar' } : b);
const dueDate = (b: Body) => (b.dueTime && !b.dueDate ? { ...b, dueDate: '2030-03-18' } : b);
const instant = fc.date({ min: new Date('2026-01-01'), max: new Date('2027-01-01'), noInvalidDate: true }).map((d) => d.toISOString());
const questions = fc.constantFrom(
  [{ id: 'queixa', label: 'Qual é a sua queixa principal?', type: 'textarea', required: true }],
  [
    { id: 'fuma', label: 'Você fuma?', type: 'yes_no' },
    { id: 'quanto', label: 'Quantos cigarros por dia?', type: 'number', min: 0, max: 100, showIf: { questionId: 'fuma', equals: true } },
    { id: 'dor', label: 'Onde dói?', type: 'multi', options: ['Cabeça', 'Costas', 'Joelho'] },
  ],
);

/** Per-operation knowledge: what a valid body needs beyond its schema. Keyed `METHOD /api/path`. */
export const HINTS: Record<string, Hint> = {
  'POST /api/appointments': {
    fields: { recurrence: fc.record({ everyWeeks: fc.integer({ min: 1, max: 4 }), count: fc.integer({ min: 2, max: 6 }) }) },
    fix: (b) => exactlyOne(b, ['durationMinutes', 'endsAt'], { durationMinutes: 30 }),
  },
  'PATCH /api/appointments/{id}': { fix: (b) => (b.durationMinutes !== undefined ? { ...b, endsAt: undefined } : b) },
  'POST /api/appointments/{id}/status': { fix: withReason('cancelled', 'reason') },
  'PATCH /api/pipeline/opportunities/{id}': { fix: (b) => withReason('lost', 'lostReason')(b.status === 'lost' ? b : { ...b, lostReason: undefined }) },
  'POST /api/pipeline/activities': { fix: dueDate },
  'PATCH /api/pipeline/activities/{id}': { fix: dueDate },
  'POST /api/pipeline/opportunities/{id}/activities': { fix: dueDate },
  'POST /api/anamnesis/templates': { fields: { questions } },
  'PATCH /api/anamnesis/templates/{id}': { fields: { questions } },
  'POST /api/public/anamnesis/{token}': { fields: { answers: fc.constant({}), submit: fc.constant(false), consent: fc.constant({ accepted: true, version: CONSENT_VERSION }) } },
  'PATCH /api/conversations/{id}': { fix: (b) => (b.snoozedUntil ? { ...b, status: 'snoozed' } : b.status === 'snoozed' ? { ...b, snoozedUntil: '2031-01-10T12:00:00.000Z' } : b) },
  // Mostly text alone (a file may be a record's attachment, for professionals only); numbered to tell the sends apart.
  'POST /api/conversations/{id}/messages': {
    fields: { text: fc.nat(99_999).map((n) => `Mensagem de teste ${n}`), fileId: fc.constantFrom(undefined, undefined, '@ref:own:0:fileId'), replyTo: fc.constantFrom(undefined, '@ref:own:0:replyTo') },
  },
  'POST /api/rag/knowledge-bases/{id}/documents': {
    fields: { text: fc.constantFrom('Atendemos de segunda a sexta, das 8h às 18h.', 'Aceitamos os convênios Unimed e Bradesco Saúde.') },
    fix: (b) => exactlyOne({ ...b, url: undefined }, ['text', 'markdown'], { text: 'A clínica fica na Rua das Flores, 100.' }),
  },
  // An address that names the inviting clinic (filled in when the chain runs), so the mailed token goes to its pool.
  'POST /api/team/invitations': { fields: { email: fc.nat(99_999).map((n) => `@email:${n}`) } },
  // The fake receiver's URL, filled in when the chain runs.
  'POST /api/webhook-subscriptions': { fields: { url: fc.constant('@url:webhook'), authMode: fc.constant('standard'), secret: fc.constant(`whsec_${Buffer.alloc(32, 7).toString('base64')}`) } },
  'PATCH /api/webhook-subscriptions/{id}': { fields: { url: fc.constant('@url:webhook'), authMode: fc.constant('standard') } },
  'PUT /api/ai/config': { fields: { clinicalAi: fc.constant({ enabled: true, acceptedStatementVersion: CLINICAL_AI_STATEMENT_VERSION }) } },
  // Every stage once (the order the clinic has them in, or reversed).
  // A card goes at most one past the cards a stage holds.
  'POST /api/pipeline/opportunities': { fields: { position: fc.constant(0) } },
  'POST /api/pipeline/opportunities/{id}/move': { fields: { position: fc.nat(1) } },
  'POST /api/pipeline/stages/reorder': { fields: { ids: fc.constantFrom('@all:stage', '@all-reversed:stage') } },
  'GET /api/audit-log': { fields: { from: instant, to: instant } },
};

/** Pairs that must be in order, and how long the span may be (ms; days for dates). */
const ORDERED: [string, string][] = [
  ['startsAt', 'endsAt'],
  ['from', 'to'],
  ['start', 'end'],
];
const SPANS_MS = [30 * 60_000, 3600_000, 8 * 3600_000, DAY, 7 * DAY];
const SPANS_DAYS = [0, 6, 30, 90];

/** Puts every ordered pair in order (recursively), keeping the span short enough for the routes' limits. */
export function ordered(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(ordered);
  if (!value || typeof value !== 'object') return value;
  const o = Object.fromEntries(Object.entries(value).map(([k, v]) => [k, ordered(v)]));
  for (const [a, b] of ORDERED) {
    const start = o[a];
    const end = o[b];
    if (typeof start !== 'string' || typeof end !== 'string') continue;
    const pick = (spans: number[]) => spans[(start.length + end.charCodeAt(end.length - 1)) % spans.length] as number;
    if (/^\d{4}-\d\d-\d\dT/.test(start)) o[b] = new Date(new Date(start).getTime() + pick(SPANS_MS)).toISOString();
    else if (/^\d{4}-\d\d-\d\d$/.test(start)) o[b] = new Date(new Date(start).getTime() + pick(SPANS_DAYS) * DAY).toISOString().slice(0, 10);
    else if (/^\d\d:\d\d$/.test(start) && start >= end) [o[a], o[b]] = start === end ? ['08:00', '18:00'] : [end, start];
  }
  return o;
}

/** A valid body (or query) for an operation: the schema's values, its hint's, the cross-field rules. */
export function validValue(op: string, s: JsonSchema): fc.Arbitrary<unknown> {
  const hint = HINTS[op];
  return arbitrary(s, '', 0, hint?.fields).map((v) => {
    const fixed = ordered(v);
    return hint?.fix && fixed && typeof fixed === 'object' ? JSON.parse(JSON.stringify(hint.fix(fixed as Body))) : fixed;
  });
}

const DEFECTS = fc.oneof(
  fc.constantFrom<unknown>(12345, 'texto', null, [], { x: 1 }, true, '\u0000', 'x'.repeat(5000), -1, '2030-02-30T25:00:00Z', '0000-01-01'),
  fc.string({ maxLength: 40, unit: 'binary' }),
);

/** A body for the operation: mostly valid, else valid with one defect (a wrong value, an unknown field). */
export function body(op: string, s: JsonSchema | undefined): fc.Arbitrary<unknown> {
  if (!s) return fc.constant(undefined);
  const valid = validValue(op, s);
  const keys = Object.keys(s.properties ?? {});
  if (keys.length === 0) return valid;
  const defect = fc.tuple(valid, fc.constantFrom(...keys), DEFECTS);
  return fc.oneof(
    { weight: 6, arbitrary: valid },
    { weight: 1, arbitrary: defect.map(([v, k, bad]) => ({ ...(v as object), [k]: bad })) },
    { weight: 1, arbitrary: valid.map((v) => ({ ...(v as object), unknownField: 'x' })) },
  );
}
