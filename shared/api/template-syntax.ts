/**
 * The variables of AI templates and the `{{path}}` / `{{path|filter}}` syntax, in one place for the
 * API (validation, rendering) and the web app (the picker shows `TEMPLATE_VARIABLES`).
 */

/** Which input a variable's value comes from: the patient (contactId), the appointment, or the clinic itself. */
export type VariableSource = 'contact' | 'appointment' | 'clinic';

export interface TemplateVariable {
  source: VariableSource;
  /** Label shown to staff, in Portuguese. */
  label: string;
  example: string;
  /** Filters it accepts; an instant without a filter renders as date and time. */
  filters?: readonly TemplateFilter[];
}

export const TEMPLATE_FILTERS = ['date', 'time', 'weekday'] as const;
export type TemplateFilter = (typeof TEMPLATE_FILTERS)[number];
const instantFilters = TEMPLATE_FILTERS;

export const TEMPLATE_VARIABLES = {
  'patient.firstName': { source: 'contact', label: 'Primeiro nome do paciente', example: 'Maria' },
  'patient.name': { source: 'contact', label: 'Nome completo do paciente', example: 'Maria da Silva' },
  'appointment.startsAt': {
    source: 'appointment',
    label: 'Início da consulta (|date: data, |time: hora, |weekday: dia da semana)',
    example: '15/03/2027 às 09:00',
    filters: instantFilters,
  },
  'appointment.endsAt': { source: 'appointment', label: 'Fim da consulta', example: '15/03/2027 às 09:50', filters: instantFilters },
  'appointment.type': { source: 'appointment', label: 'Tipo de atendimento', example: 'Retorno' },
  'professional.name': { source: 'appointment', label: 'Nome do profissional da consulta', example: 'Dra. Ana Souza' },
  'clinic.name': { source: 'clinic', label: 'Nome da clínica', example: 'Clínica Bem Viver' },
  'clinic.address': { source: 'clinic', label: 'Endereço da clínica', example: 'Rua das Flores, 100 - São Paulo' },
  'clinic.phone': { source: 'clinic', label: 'Telefone da clínica', example: '(11) 3333-4444' },
} as const satisfies Record<string, TemplateVariable>;

export type TemplateVariableName = keyof typeof TEMPLATE_VARIABLES;

export type TemplatePart = { text: string } | { variable: TemplateVariableName; filter?: TemplateFilter; raw: string };

export interface TemplateProblem {
  /** `unknown_variable`, `unknown_filter`, `unbalanced_braces` or `invalid_expression`. */
  code: string;
  message: string;
  /** What the problem is about: the variable, the filter or the braces as written. */
  token: string;
  /** Character offset in the body. */
  index: number;
}

const EXPRESSION = /^\s*([A-Za-z][\w]*(?:\.[A-Za-z][\w]*)*)\s*(?:\|\s*([A-Za-z]\w*)\s*)?$/;
const isVariable = (name: string): name is TemplateVariableName => Object.hasOwn(TEMPLATE_VARIABLES, name);

/** Splits a body into text and variables, or lists every problem (each names its token). */
export function parseTemplate(body: string): { parts: TemplatePart[]; problems: TemplateProblem[] } {
  const parts: TemplatePart[] = [];
  const problems: TemplateProblem[] = [];
  let at = 0;
  const closeOutside = (text: string, offset: number) => {
    const stray = text.indexOf('}}');
    if (stray >= 0) problems.push({ code: 'unbalanced_braces', message: `"}}" at position ${offset + stray} closes nothing`, token: '}}', index: offset + stray });
  };
  while (at < body.length) {
    const open = body.indexOf('{{', at);
    if (open < 0) {
      closeOutside(body.slice(at), at);
      parts.push({ text: body.slice(at) });
      break;
    }
    closeOutside(body.slice(at, open), at);
    if (open > at) parts.push({ text: body.slice(at, open) });
    const close = body.indexOf('}}', open + 2);
    const nested = body.indexOf('{{', open + 2);
    if (close < 0 || (nested >= 0 && nested < close)) {
      problems.push({ code: 'unbalanced_braces', message: `"{{" at position ${open} is not closed by "}}"`, token: '{{', index: open });
      at = close < 0 ? body.length : nested;
      continue;
    }
    const raw = body.slice(open, close + 2);
    const match = EXPRESSION.exec(body.slice(open + 2, close));
    at = close + 2;
    if (!match) {
      problems.push({ code: 'invalid_expression', message: `${raw} is not a variable (write {{patient.firstName}} or {{appointment.startsAt|date}})`, token: raw, index: open });
      continue;
    }
    const [, name = '', filter] = match;
    if (!isVariable(name)) {
      problems.push({ code: 'unknown_variable', message: `Unknown variable "${name}"`, token: name, index: open });
      continue;
    }
    const allowed: readonly string[] = (TEMPLATE_VARIABLES[name] as TemplateVariable).filters ?? [];
    if (filter !== undefined && !allowed.includes(filter)) {
      const hint = allowed.length ? `; use ${allowed.join(', ')}` : ' (it takes none)';
      problems.push({ code: 'unknown_filter', message: `Unknown filter "${filter}" for "${name}"${hint}`, token: filter, index: open });
      continue;
    }
    parts.push({ variable: name, raw, ...(filter ? { filter: filter as TemplateFilter } : {}) });
  }
  return { parts, problems };
}

/** The distinct variables a body uses, in order of first use. */
export const variablesOf = (parts: TemplatePart[]): TemplateVariableName[] => [
  ...new Set(parts.flatMap((p) => ('variable' in p ? [p.variable] : []))),
];
