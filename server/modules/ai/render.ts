import { APPOINTMENT_TYPE_LABELS } from '../../../shared/api/scheduling.js';
import { TEMPLATE_VARIABLES, type TemplateFilter, type TemplatePart, type TemplateVariableName } from '../../../shared/api/template-syntax.js';
import type { APPOINTMENT_TYPES } from '../../../shared/schema/index.js';
import { badRequest } from '../../lib/errors.js';

/** The data a template is rendered with; absent parts are the ones the caller did not name. */
export interface RenderData {
  timezone: string;
  clinic: { name: string; address: string | null; phone: string | null };
  contact?: { name: string };
  appointment?: { startsAt: Date; endsAt: Date; type: (typeof APPOINTMENT_TYPES)[number] | null; professionalName: string };
}

const formats = new Map<string, Intl.DateTimeFormat>();
function format(timeZone: string, kind: TemplateFilter) {
  const key = `${timeZone}|${kind}`;
  let f = formats.get(key);
  if (!f) {
    const options: Intl.DateTimeFormatOptions =
      kind === 'date' ? { day: '2-digit', month: '2-digit', year: 'numeric' } : kind === 'time' ? { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' } : { weekday: 'long' };
    f = new Intl.DateTimeFormat('pt-BR', { timeZone, ...options });
    formats.set(key, f);
  }
  return f;
}

/** pt-BR in the clinic's zone: 15/03/2027, 09:00, segunda-feira; no filter: "15/03/2027 às 09:00". */
function formatInstant(at: Date, timeZone: string, filter: TemplateFilter | undefined) {
  if (filter) return format(timeZone, filter).format(at);
  return `${format(timeZone, 'date').format(at)} às ${format(timeZone, 'time').format(at)}`;
}

type Value = string | null | undefined;

function valueOf(name: TemplateVariableName, filter: TemplateFilter | undefined, d: RenderData): Value {
  const a = d.appointment;
  switch (name) {
    case 'patient.firstName':
      return d.contact?.name.trim().split(/\s+/)[0];
    case 'patient.name':
      return d.contact?.name.trim();
    case 'appointment.startsAt':
      return a && formatInstant(a.startsAt, d.timezone, filter);
    case 'appointment.endsAt':
      return a && formatInstant(a.endsAt, d.timezone, filter);
    case 'appointment.type':
      return a && APPOINTMENT_TYPE_LABELS[a.type ?? 'other'];
    case 'professional.name':
      return a?.professionalName;
    case 'clinic.name':
      return d.clinic.name;
    case 'clinic.address':
      return d.clinic.address;
    case 'clinic.phone':
      return d.clinic.phone;
  }
}

/** What a missing value needs: the input to send, or the clinic field to fill in. */
function needs(name: TemplateVariableName, d: RenderData) {
  const source = TEMPLATE_VARIABLES[name].source;
  if (source === 'contact' && !d.contact) return 'contactId';
  if (source === 'appointment' && !d.appointment) return 'appointmentId';
  return name;
}

/**
 * Fills every variable, or refuses (400 `template_data_missing`) naming each variable without a
 * value and what it needs: a patient or appointment the request did not name, or an empty field
 * (a clinic without an address). A message with a blank where a date should be never leaves.
 */
export function renderParts(parts: TemplatePart[], data: RenderData) {
  const values: Record<string, string> = {};
  const missing: { variable: string; needs: string }[] = [];
  let text = '';
  for (const part of parts) {
    if ('text' in part) {
      text += part.text;
      continue;
    }
    const value = valueOf(part.variable, part.filter, data)?.trim();
    if (!value) {
      if (!missing.some((m) => m.variable === part.variable)) missing.push({ variable: part.variable, needs: needs(part.variable, data) });
      continue;
    }
    values[part.raw.slice(2, -2).replace(/\s+/g, '')] = value;
    text += value;
  }
  if (missing.length) {
    throw badRequest('template_data_missing', `No data for ${missing.map((m) => m.variable).join(', ')}`, { missing });
  }
  return { text, variables: values };
}
