import { z } from 'zod';
import { normalizeCpf, normalizePhone } from './brazil.js';
import { email, isoTimestamp } from './common.js';
import { line, text } from './text.js';

const personName = line(200);

export const contactStatus = z.enum(['lead', 'active', 'inactive']);

/** Any common Brazilian form in, E.164 out. */
export const brazilianPhone = z
  .string()
  .max(40)
  .transform((v, ctx) => {
    const phone = normalizePhone(v);
    if (!phone) ctx.addIssue({ code: 'custom', message: 'Not a Brazilian phone number' });
    return phone ?? z.NEVER;
  });

/** Digits or formatted; stored as 11 digits after the check digits pass. */
export const cpf = z
  .string()
  .max(20)
  .transform((v, ctx) => {
    const digits = normalizeCpf(v);
    if (!digits) ctx.addIssue({ code: 'custom', message: 'Invalid CPF' });
    return digits ?? z.NEVER;
  });

export const birthDate = z.iso.date().refine((d) => d >= '1900-01-01' && d <= new Date().toISOString().slice(0, 10), 'Birth date out of range');

const contactFields = {
  name: personName,
  phone: brazilianPhone.nullable().optional(),
  email: email.nullable().optional(),
  cpf: cpf.nullable().optional(),
  birthDate: birthDate.nullable().optional(),
  status: contactStatus.optional(),
  notes: text(10_000).nullable().optional(),
  tags: z.array(line(50)).max(20).optional(),
};

export const contactBody = z.strictObject(contactFields);
export const contactPatch = z
  .strictObject({ ...contactFields, name: personName.optional() })
  .refine((v) => Object.keys(v).length > 0, 'Nothing to change');

export const contactListQuery = z.strictObject({
  search: line(200).optional(),
  status: contactStatus.optional(),
  tag: line(50).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().max(200).optional(),
  /** Offset page (1-based), honoured when the server runs with ENABLE_PAGINATION. */
  page: z.coerce.number().int().min(1).max(100_000).optional(),
});

export const contactResponse = z.object({
  id: z.uuid(),
  name: z.string(),
  phone: z.string().nullable(),
  email: z.string().nullable(),
  cpf: z.string().nullable(),
  birthDate: z.string().nullable(),
  status: contactStatus,
  notes: z.string().nullable(),
  tags: z.array(z.string()),
  createdAt: isoTimestamp,
  updatedAt: isoTimestamp,
});

export const contactList = z.object({
  items: z.array(contactResponse),
  nextCursor: z.string().nullable(),
  page: z.number().int().optional(),
  total: z.number().int().optional(),
});

export const timelineResponse = z.object({
  items: z.array(
    z.object({ type: z.string(), id: z.uuid(), at: isoTimestamp, title: z.string(), data: z.record(z.string(), z.unknown()).optional() }),
  ),
});
