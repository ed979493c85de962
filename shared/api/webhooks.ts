import { z } from 'zod';
import { WEBHOOK_AUTH_MODES, WEBHOOK_DELIVERY_STATUSES } from '../schema/webhooks.js';
import { isoTimestamp } from './common.js';
import { line } from './text.js';

/**
 * What an outbound webhook's `data` holds, per event type: ids and small non-clinical fields, never
 * message text, names, phones or health data (a flow reads the rest through the API with a key).
 * Published in the OpenAPI document's `webhooks` section from these same schemas.
 */
const id = z.uuid();
const appointment = z.object({
  appointmentId: id,
  contactId: id,
  professionalId: id,
  status: z.string(),
  startsAt: isoTimestamp,
  endsAt: isoTimestamp,
});
const contact = z.object({ contactId: id, status: z.string() });
const opportunity = z.object({ opportunityId: id, contactId: id, stageId: id, status: z.string(), valueCents: z.number().int().nullable() });

export const WEBHOOK_EVENTS = {
  'appointment.created': { summary: 'An appointment was booked', data: appointment },
  'appointment.updated': { summary: 'An appointment was moved, edited or changed status (other than cancelled)', data: appointment },
  'appointment.cancelled': { summary: 'An appointment was cancelled', data: appointment },
  'appointment.status_changed': {
    summary: 'An appointment changed status (cancellation included)',
    data: appointment.extend({ previousStatus: z.string() }),
  },
  'appointment.reschedule_requested': {
    summary: 'A patient answered a reminder asking to reschedule (a flow or a person follows up)',
    data: z.object({ appointmentId: id, contactId: id, professionalId: id, startsAt: isoTimestamp, conversationId: id }),
  },
  'contact.created': { summary: 'A patient was added', data: contact },
  'contact.updated': { summary: "A patient's data changed", data: contact },
  'message.received': {
    summary: "A patient's WhatsApp message was stored (no text: read it through the API)",
    data: z.object({ messageId: id, conversationId: id, contactId: id, numberId: id }),
  },
  'message.sent': {
    summary: 'An outbound WhatsApp message was stored',
    data: z.object({ messageId: id, conversationId: id, numberId: id, sender: z.enum(['user', 'phone', 'ai', 'system']) }),
  },
  'conversation.assigned': {
    summary: 'A conversation got another assignee (or none)',
    data: z.object({ conversationId: id, contactId: id, numberId: id, assigneeId: id.nullable(), previousAssigneeId: id.nullable() }),
  },
  'anamnesis.submitted': { summary: 'A patient submitted an anamnesis form (ids only)', data: z.object({ anamnesisResponseId: id, contactId: id }) },
  'medical_record.signed': { summary: 'A medical record was signed (ids only)', data: z.object({ medicalRecordId: id, contactId: id }) },
  'opportunity.moved': {
    summary: 'A pipeline card moved to another stage',
    data: opportunity.extend({ fromStageId: id.nullable(), toStageId: id, source: z.string() }),
  },
  'opportunity.won': { summary: 'An opportunity was won', data: opportunity },
  'opportunity.lost': { summary: 'An opportunity was lost (the reason stays out: it is free text)', data: opportunity },
} as const satisfies Record<string, { summary: string; data: z.ZodObject }>;

export type WebhookEventType = keyof typeof WEBHOOK_EVENTS;
export const WEBHOOK_EVENT_TYPES = Object.keys(WEBHOOK_EVENTS) as WebhookEventType[];
/** Sent by "send test event" only; a subscription needs not list it. */
export const WEBHOOK_TEST_EVENT = 'webhook.test';
export type WebhookData<T extends WebhookEventType> = z.infer<(typeof WEBHOOK_EVENTS)[T]['data']>;

/** The JSON body of every delivery: `type` doubles as the event name in an N8N switch. */
export const webhookEnvelope = <D extends z.ZodType>(type: string, data: D) =>
  z.object({
    type: z.literal(type),
    /** When the event happened (the domain event's time). */
    timestamp: isoTimestamp,
    clinicId: id,
    data,
  });

/** A secret in the Standard Webhooks form: `whsec_` and base64 of 24 to 64 bytes. */
export const webhookSecret = z
  .string()
  .max(200)
  .regex(/^whsec_[A-Za-z0-9+/]+={0,2}$/, 'Use whsec_ followed by base64')
  .refine((s) => {
    const bytes = Buffer.from(s.slice(6), 'base64').length;
    return bytes >= 24 && bytes <= 64;
  }, 'The secret must hold 24 to 64 bytes');

/** Any string here; the catalog is checked by the service so an unknown name is named in the error. */
const eventList = z.array(z.string().max(100)).min(1).max(50);
const headerName = z
  .string()
  .regex(/^[A-Za-z0-9-]{1,100}$/, 'Letters, digits and hyphens')
  .refine((h) => !/^(webhook-|content-|host$|authorization$|user-agent$)/i.test(h), 'That header is set by the sender');

/** What Node may put in a header: printable ASCII. */
const headerValue = z.string().regex(/^[\x20-\x7e]{1,500}$/, 'Printable ASCII, up to 500 characters');

export const subscriptionBody = z.strictObject({
  url: z.string().max(2000),
  events: eventList,
  description: line(200).optional(),
  secret: webhookSecret.optional(),
  active: z.boolean().optional(),
  authMode: z.enum(WEBHOOK_AUTH_MODES).optional(),
  /** Header mode: N8N's Header Auth credential (name and value). */
  headerName: headerName.optional(),
  headerValue: headerValue.optional(),
});

export const subscriptionPatch = z
  .strictObject({
    url: z.string().max(2000).optional(),
    events: eventList.optional(),
    description: line(200).nullable().optional(),
    active: z.boolean().optional(),
    authMode: z.enum(WEBHOOK_AUTH_MODES).optional(),
    headerName: headerName.optional(),
    headerValue: headerValue.optional(),
  })
  .refine((v) => Object.keys(v).length > 0, 'Nothing to change');

export const rotateBody = z.strictObject({
  /** How long the old secret keeps signing beside the new one; 0 ends it now. */
  graceHours: z.number().int().min(0).max(72).default(24),
});

export const subscriptionResponse = z.object({
  id,
  url: z.string(),
  description: z.string().nullable(),
  events: z.array(z.string()),
  active: z.boolean(),
  disabledReason: z.string().nullable(),
  authMode: z.enum(WEBHOOK_AUTH_MODES),
  headerName: z.string().nullable(),
  /** Until then the previous secret signs too. */
  previousSecretExpiresAt: isoTimestamp.nullable(),
  consecutiveFailures: z.number().int(),
  createdAt: isoTimestamp,
  updatedAt: isoTimestamp,
});
/** Creation and rotation: the secret, in this answer only. */
export const subscriptionWithSecret = subscriptionResponse.extend({ secret: z.string() });

export const deliveryResponse = z.object({
  id,
  subscriptionId: id,
  eventType: z.string(),
  status: z.enum(WEBHOOK_DELIVERY_STATUSES),
  attempts: z.number().int(),
  nextAttemptAt: isoTimestamp.nullable(),
  lastAttemptAt: isoTimestamp.nullable(),
  responseStatus: z.number().int().nullable(),
  responseBody: z.string().nullable(),
  durationMs: z.number().int().nullable(),
  lastError: z.string().nullable(),
  deliveredAt: isoTimestamp.nullable(),
  createdAt: isoTimestamp,
});
/** One delivery with the exact body that was signed. */
export const deliveryDetail = deliveryResponse.extend({ body: z.string() });

export const deliveriesQuery = z.strictObject({
  status: z.enum(WEBHOOK_DELIVERY_STATUSES).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().max(200).optional(),
});
