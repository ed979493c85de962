import type { AppointmentEvent, AssistantHandoffEvent, RescheduleRequestedEvent, ContactEvent, GoogleCalendarConflictEvent, GoogleCalendarConnectionEvent, KnowledgeDocumentEvent, OpportunityEvent, OpportunityMovedEvent, PipelineStagesEvent } from './events.js';

/**
 * Domain events: what happened, recorded in the transaction of the change (the outbox) and
 * delivered after commit to subscribers (realtime, caches, jobs). Payloads carry ids and the small
 * fields a screen or a job needs, never clinical text (notes, record content, answers).
 */
export interface DomainEvents {
  'clinic.updated': { id: string; name: string; timezone: string };
  /** A membership was created, changed (role, hours, zone, status) or removed. */
  'member.changed': { userId: string; change: 'joined' | 'updated' | 'removed'; role: string | null; isProfessional: boolean | null; active: boolean };
  'file.created': { id: string; filename: string; contentType: string; size: number };
  'file.deleted': { id: string };
  'contact.created': ContactEvent;
  'contact.updated': ContactEvent;
  'contact.deleted': { id: string };
  'appointment.created': AppointmentEvent;
  /** Moved, edited or a status change other than cancellation. */
  'appointment.updated': AppointmentEvent;
  'appointment.cancelled': AppointmentEvent;
  'appointment.deleted': { id: string; contactId: string; professionalId: string; startsAt: string; endsAt: string };
  /** The patient answered a reminder asking to reschedule (reminders module). */
  'appointment.reschedule_requested': RescheduleRequestedEvent;
  'medical_record.signed': { id: string; contactId: string };
  'anamnesis.submitted': { id: string; contactId: string };
  /** A patient's message was stored (the assistant and the inbox react). */
  'message.received': { id: string; conversationId: string; contactId: string; numberId: string; externalId: string };
  /** An outbound message was stored: from the app (pending until sent), typed on the clinic's phone, or by the assistant. */
  'message.sent': { id: string; conversationId: string; numberId: string; sender: 'user' | 'phone' | 'ai' | 'system' };
  /** Delivery status, media state, deletion or an edit of a message changed; `editedAt`: the sender edited its text (read from the message, never carried here). */
  'message.updated': { id: string; conversationId: string; numberId: string; status: string; mediaState: string | null; editedAt?: string };
  /** `previousAssigneeId` is present only when this change gave the conversation another assignee (or none). */
  'conversation.updated': { id: string; contactId: string; numberId: string; status: string; assigneeId: string | null; unreadCount: number; previousAssigneeId?: string | null };
  /** The assistant handed the conversation to a person (keyword, emergency, its own decision, failure, budget). */
  'assistant.handoff': AssistantHandoffEvent;
  /** A WhatsApp number's connection state changed (`whatsapp:status`). */
  'whatsapp.number.updated': { id: string; state: string; professionalId: string | null; reason: string | null };
  /** Into another stage, or to another place in its own (`fromStageId` = `toStageId`); by a member, a key or a rule. */
  'opportunity.moved': OpportunityMovedEvent;
  'opportunity.created': OpportunityEvent;
  /** Edited or reopened. */
  'opportunity.updated': OpportunityEvent;
  'opportunity.won': OpportunityEvent;
  /** The lost reason stays out: it is free text about the patient. */
  'opportunity.lost': OpportunityEvent;
  'opportunity.deleted': { id: string; contactId: string; stageId: string };
  /** A stage was added, renamed, recoloured, reordered or deleted: the whole list as it now is. */
  'pipeline.stages_updated': PipelineStagesEvent;
  /** A professional moved or deleted one of our events in Google Calendar; the appointment was left as it was. */
  'google_calendar.conflict': GoogleCalendarConflictEvent;
  /** A professional's Google Calendar link was connected, changed, broke (revoked access) or was removed. */
  'google_calendar.connection_updated': GoogleCalendarConnectionEvent;
  /** A knowledge document was added, changed status (queued, processing, ready, failed) or was deleted. */
  'knowledge_document.updated': KnowledgeDocumentEvent;
}

export type DomainEventName = keyof DomainEvents;

/**
 * The aggregate an event belongs to: subscribers receive the events of one aggregate in the order
 * they were recorded. Messages order by conversation, so a status never overtakes its message.
 */
export const EVENT_AGGREGATES: { [N in DomainEventName]: { type: string; id: (payload: DomainEvents[N]) => string } } = {
  'clinic.updated': { type: 'clinic', id: (p) => p.id },
  'member.changed': { type: 'member', id: (p) => p.userId },
  'file.created': { type: 'file', id: (p) => p.id },
  'file.deleted': { type: 'file', id: (p) => p.id },
  'contact.created': { type: 'contact', id: (p) => p.id },
  'contact.updated': { type: 'contact', id: (p) => p.id },
  'contact.deleted': { type: 'contact', id: (p) => p.id },
  'appointment.created': { type: 'appointment', id: (p) => p.id },
  'appointment.updated': { type: 'appointment', id: (p) => p.id },
  'appointment.cancelled': { type: 'appointment', id: (p) => p.id },
  'appointment.deleted': { type: 'appointment', id: (p) => p.id },
  'appointment.reschedule_requested': { type: 'appointment', id: (p) => p.appointmentId },
  'medical_record.signed': { type: 'medical_record', id: (p) => p.id },
  'anamnesis.submitted': { type: 'anamnesis_response', id: (p) => p.id },
  'message.received': { type: 'conversation', id: (p) => p.conversationId },
  'message.sent': { type: 'conversation', id: (p) => p.conversationId },
  'message.updated': { type: 'conversation', id: (p) => p.conversationId },
  'conversation.updated': { type: 'conversation', id: (p) => p.id },
  'assistant.handoff': { type: 'conversation', id: (p) => p.conversationId },
  'whatsapp.number.updated': { type: 'whatsapp_number', id: (p) => p.id },
  'opportunity.moved': { type: 'opportunity', id: (p) => p.id },
  'opportunity.created': { type: 'opportunity', id: (p) => p.id },
  'opportunity.updated': { type: 'opportunity', id: (p) => p.id },
  'opportunity.won': { type: 'opportunity', id: (p) => p.id },
  'opportunity.lost': { type: 'opportunity', id: (p) => p.id },
  'opportunity.deleted': { type: 'opportunity', id: (p) => p.id },
  // One aggregate per clinic: stage lists arrive in the order they were written.
  'pipeline.stages_updated': { type: 'pipeline', id: (p) => p.clinicId },
  'google_calendar.conflict': { type: 'appointment', id: (p) => p.appointmentId },
  'google_calendar.connection_updated': { type: 'integration_connection', id: (p) => p.id },
  'knowledge_document.updated': { type: 'knowledge_document', id: (p) => p.id },
};

/** An event as a subscriber receives it. */
export interface DeliveredEvent<N extends DomainEventName = DomainEventName> {
  /** Increasing id (the outbox row): the same event redelivered keeps it, so it is the idempotency key. */
  id: number;
  name: N;
  clinicId: string;
  aggregateType: string;
  aggregateId: string;
  payload: DomainEvents[N];
  /** `user:<id>`, `api_key:<id>` or null (a patient's public form, a job). */
  actor: string | null;
  requestId: string | null;
  createdAt: Date;
  /** 1 on the first delivery to this subscriber, 2 on the first retry, ... */
  attempt: number;
}

/** One of several event names, narrowed by `name`. */
export type AnyDeliveredEvent<N extends DomainEventName> = { [K in N]: DeliveredEvent<K> }[N];
