import type { AnyDeliveredEvent } from '../../../shared/api/domain-events.js';
import type { WebhookData, WebhookEventType } from '../../../shared/api/webhooks.js';

/** The domain events the catalog is made from. */
export const SOURCE_EVENTS = [
  'appointment.created',
  'appointment.updated',
  'appointment.cancelled',
  'appointment.reschedule_requested',
  'contact.created',
  'contact.updated',
  'message.received',
  'message.sent',
  'conversation.updated',
  'anamnesis.submitted',
  'medical_record.signed',
  'opportunity.moved',
  'opportunity.won',
  'opportunity.lost',
] as const;
export type SourceEvent = AnyDeliveredEvent<(typeof SOURCE_EVENTS)[number]>;

export type WebhookMessage = { [T in WebhookEventType]: { type: T; data: WebhookData<T> } }[WebhookEventType];

/**
 * The webhook messages one domain event makes: usually one; an appointment whose status changed
 * also makes `appointment.status_changed`; a conversation update only when its assignee changed.
 * Fields are picked one by one, so a field added to a domain event never leaks out by itself.
 */
export function messagesOf(event: SourceEvent): WebhookMessage[] {
  switch (event.name) {
    case 'appointment.created':
    case 'appointment.updated':
    case 'appointment.cancelled': {
      const p = event.payload;
      const data = { appointmentId: p.id, contactId: p.contactId, professionalId: p.professionalId, status: p.status, startsAt: p.startsAt, endsAt: p.endsAt };
      const changed = p.previousStatus !== undefined && p.previousStatus !== p.status;
      return [
        { type: event.name, data },
        ...(changed ? [{ type: 'appointment.status_changed' as const, data: { ...data, previousStatus: p.previousStatus as string } }] : []),
      ];
    }
    case 'appointment.reschedule_requested': {
      const p = event.payload;
      return [{ type: 'appointment.reschedule_requested', data: { appointmentId: p.appointmentId, contactId: p.contactId, professionalId: p.professionalId, startsAt: p.startsAt, conversationId: p.conversationId } }];
    }
    case 'contact.created':
    case 'contact.updated':
      return [{ type: event.name, data: { contactId: event.payload.id, status: event.payload.status } }];
    case 'message.received': {
      const p = event.payload;
      return [{ type: 'message.received', data: { messageId: p.id, conversationId: p.conversationId, contactId: p.contactId, numberId: p.numberId } }];
    }
    case 'message.sent': {
      const p = event.payload;
      return [{ type: 'message.sent', data: { messageId: p.id, conversationId: p.conversationId, numberId: p.numberId, sender: p.sender } }];
    }
    case 'conversation.updated': {
      const p = event.payload;
      if (p.previousAssigneeId === undefined) return [];
      return [{ type: 'conversation.assigned', data: { conversationId: p.id, contactId: p.contactId, numberId: p.numberId, assigneeId: p.assigneeId, previousAssigneeId: p.previousAssigneeId } }];
    }
    case 'anamnesis.submitted':
      return [{ type: 'anamnesis.submitted', data: { anamnesisResponseId: event.payload.id, contactId: event.payload.contactId } }];
    case 'medical_record.signed':
      return [{ type: 'medical_record.signed', data: { medicalRecordId: event.payload.id, contactId: event.payload.contactId } }];
    case 'opportunity.moved':
    case 'opportunity.won':
    case 'opportunity.lost': {
      const p = event.payload;
      const data = { opportunityId: p.id, contactId: p.contactId, stageId: p.stageId, status: p.status, valueCents: p.valueCents };
      if (event.name !== 'opportunity.moved') return [{ type: event.name, data }];
      // A reorder within the same column is not a move for a flow.
      if (event.payload.fromStageId === event.payload.toStageId) return [];
      return [{ type: 'opportunity.moved', data: { ...data, fromStageId: event.payload.fromStageId, toStageId: event.payload.toStageId, source: event.payload.source } }];
    }
  }
}

/** The body every delivery sends, built once and stored: the same bytes are signed on every attempt. */
export const envelopeBody = (type: string, clinicId: string, at: Date, data: unknown) => JSON.stringify({ type, timestamp: at.toISOString(), clinicId, data });
