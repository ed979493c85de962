import { z } from 'zod';
import { brazilianPhone } from './contacts.js';
import { line } from './text.js';

export const whatsappNumberState = z.enum(['connecting', 'qr', 'open', 'close', 'refused', 'broken']);

export const whatsappNumberCreate = z.strictObject({
  name: line(100).optional(),
  /** A private number: its conversations are visible to this professional and to admins only. */
  professionalId: z.uuid().optional(),
});

/** `?phone=` asks for a pairing code to type on that phone instead of a QR. */
export const whatsappQrQuery = z.strictObject({ phone: brazilianPhone.optional() });

export const whatsappNumber = z.object({
  id: z.uuid(),
  name: z.string().nullable(),
  instanceName: z.string(),
  professionalId: z.uuid().nullable(),
  /** The linked phone, E.164 digits, once known. */
  phone: z.string().nullable(),
  state: whatsappNumberState,
  /** Why it is closed, refused or broken (`logged_out`, `license_required`, `instance_not_found`...). */
  stateReason: z.string().nullable(),
  stateChangedAt: z.string(),
  lastProbeAt: z.string().nullable(),
  /** The gateway did not answer the last probe (`gateway_unavailable`, `gateway_timeout`, `gateway_rate_limited`); null once it does. */
  gatewayError: z.string().nullable(),
  groupsEnabled: z.boolean(),
  createdAt: z.string(),
  updatedAt: z.string(),
});

export const whatsappLink = z.union([
  z.object({ state: z.literal('open') }),
  z.object({ state: z.literal('pending') }),
  z.object({ state: z.literal('qr'), code: z.string(), base64: z.string(), pairingCode: z.string().nullable() }),
]);

export const whatsappNumberCreated = whatsappNumber.extend({ qr: whatsappLink.nullable() });
export const whatsappNumberReconnected = whatsappNumber.extend({ qr: whatsappLink });
