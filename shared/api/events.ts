/**
 * Socket.IO events the server emits, `<entity>:<verb>`, to the rooms `clinic:<id>` and
 * `user:<id>`. Payloads carry what a screen needs to redraw, never clinical text.
 */
export interface ContactEvent {
  id: string;
  name: string;
  phone: string | null;
  status: string;
}

/** What a calendar needs to draw the appointment; no notes (they may be clinical). */
export interface AppointmentEvent {
  id: string;
  contactId: string;
  contactName: string;
  professionalId: string;
  startsAt: string;
  endsAt: string;
  status: string;
  type: string | null;
  tagId: string | null;
  overbooked: boolean;
  seriesId: string | null;
  /** Set when a reschedule moved the appointment to another professional: that calendar redraws too. */
  previousProfessionalId?: string;
  /** Set when a status change is what this event records (outbound webhooks' `appointment.status_changed`). */
  previousStatus?: string;
}

/** A patient answered a reminder asking to reschedule (the staff calls back); ids and the start only. */
export interface RescheduleRequestedEvent {
  appointmentId: string;
  contactId: string;
  professionalId: string;
  startsAt: string;
  /** Where the patient answered: the staff replies there. */
  conversationId: string;
}

/** A board card: what it shows, without the lost reason (free text about the patient). */
export interface OpportunityEvent {
  id: string;
  contactId: string;
  stageId: string;
  /** Sort key within the stage (byte order). */
  position: string;
  title: string;
  status: string;
  valueCents: number | null;
  probability: number | null;
  ownerId: string | null;
  expectedCloseDate: string | null;
  stageEnteredAt: string;
}

export interface OpportunityMovedEvent extends OpportunityEvent {
  fromStageId: string | null;
  toStageId: string;
  /** `rule:first_booking` or `rule:first_completion` when a rule moved it; otherwise `user` or `api_key`. */
  source: string;
}

export interface PipelineStagesEvent {
  clinicId: string;
  stages: { id: string; name: string; color: string; order: number }[];
}

export interface GoogleCalendarConflictEvent {
  appointmentId: string;
  professionalId: string;
  kind: 'moved' | 'deleted';
  /** Where the event now is in Google, when it was moved. */
  startsAt?: string;
  endsAt?: string;
}

export interface GoogleCalendarConnectionEvent {
  id: string;
  ownerUserId: string;
  status: 'active' | 'broken' | 'removed';
  reason?: string;
}

/** What the inbox list needs to redraw a row; `preview` only reaches sockets that may read the conversation. */
export interface MessageNewEvent {
  id: string;
  conversationId: string;
  numberId: string;
  contactId: string;
  direction: 'inbound' | 'outbound';
  sender: 'contact' | 'user' | 'phone' | 'ai' | 'system';
  type: string;
  status: string;
  /** Text or caption, cut to 200 characters; null for media without a caption. */
  preview: string | null;
  sentAt: string;
}

export interface ConversationUpdatedEvent {
  id: string;
  contactId: string;
  numberId: string;
  status: string;
  assigneeId: string | null;
  unreadCount: number;
}

/** Why the assistant handed a conversation to a person (never the patient's words). */
export type HandoffReason = 'keyword' | 'emergency' | 'tool' | 'model_error' | 'budget' | 'tool_limit';

/** The assistant handed the conversation to a person: it is `pending` and the AI paused until `aiPausedUntil`. */
export interface AssistantHandoffEvent {
  conversationId: string;
  contactId: string;
  numberId: string;
  reason: HandoffReason;
  aiPausedUntil: string;
}

/** A knowledge document's ingestion state; `deleted` once removed. */
export interface KnowledgeDocumentEvent {
  id: string;
  knowledgeBaseId: string;
  status: 'queued' | 'processing' | 'ready' | 'failed' | 'deleted';
  failureReason: string | null;
  chunkCount: number;
  /** Grows with every (re)index request; the ingestion job of an older one does nothing. */
  revision: number;
}

export interface ServerToClientEvents {
  'clinic:updated': (payload: { id: string; name: string; timezone: string }) => void;
  'team:updated': (payload: { userId: string; role: string; isProfessional: boolean; active: boolean }) => void;
  'team:removed': (payload: { userId: string }) => void;
  'file:created': (payload: { id: string; filename: string; contentType: string; size: number }) => void;
  'file:deleted': (payload: { id: string }) => void;
  'contact:created': (payload: ContactEvent) => void;
  'contact:updated': (payload: ContactEvent) => void;
  'contact:deleted': (payload: { id: string }) => void;
  'appointment:created': (payload: AppointmentEvent) => void;
  'appointment:updated': (payload: AppointmentEvent) => void;
  'appointment:deleted': (payload: { id: string; professionalId: string; startsAt: string; endsAt: string }) => void;
  /** The patient answered a reminder with "2"/"remarcar": someone should offer another time. */
  'appointment:reschedule_requested': (payload: RescheduleRequestedEvent) => void;
  // Ids only: clinical content never travels over sockets.
  'medical_record:signed': (payload: { id: string; contactId: string }) => void;
  'anamnesis:submitted': (payload: { id: string; contactId: string }) => void;
  'message:new': (payload: MessageNewEvent) => void;
  /** After an edit (`editedAt`), `preview` is the new text's first 200 characters. */
  'message:updated': (payload: { id: string; conversationId: string; numberId: string; status: string; mediaState: string | null; editedAt?: string; preview?: string | null }) => void;
  'conversation:updated': (payload: ConversationUpdatedEvent) => void;
  /** The assistant handed a conversation to the staff (a private number's: to its professional and the admins). */
  'assistant:handoff': (payload: AssistantHandoffEvent) => void;
  /** To the `conversation:<id>` room only: a colleague is writing an answer in this conversation. */
  'conversation:typing': (payload: { conversationId: string; userId: string }) => void;
  /** A WhatsApp number's connection state changed (GET /whatsapp/numbers/:id has the rest; a QR is fetched with GET .../qr). */
  'whatsapp:status': (payload: { id: string; state: string; reason: string | null; professionalId: string | null }) => void;
  'knowledge_document:updated': (payload: KnowledgeDocumentEvent) => void;
  'test:ping': (payload: { at: string; by: string }) => void;
  'opportunity:created': (payload: OpportunityEvent) => void;
  /** Edited, won, lost or reopened. */
  'opportunity:updated': (payload: OpportunityEvent) => void;
  'opportunity:moved': (payload: OpportunityMovedEvent) => void;
  'opportunity:deleted': (payload: { id: string; contactId: string; stageId: string }) => void;
  'pipeline:stages_updated': (payload: PipelineStagesEvent) => void;
  /** One of our events was moved or deleted in Google: the receptionist decides (the appointment is unchanged). */
  'calendar:conflict': (payload: GoogleCalendarConflictEvent) => void;
  /** A professional's Google Calendar link changed state (broken: reconnect it). */
  'calendar:integration_updated': (payload: GoogleCalendarConnectionEvent) => void;
}

export type ServerEvent = keyof ServerToClientEvents;
export type EventPayload<E extends ServerEvent> = Parameters<ServerToClientEvents[E]>[0];

/** The answer to a room join: refused exactly like a REST read of the entity would be (`not_found`). */
export type JoinAck = { ok: true } | { ok: false; error: 'not_found' | 'invalid' | 'unavailable' };

// Changes go through the REST API; clients only choose which conversation's room they listen to.
export interface ClientToServerEvents {
  'conversation:join': (payload: { id: string }, ack: (result: JoinAck) => void) => void;
  'conversation:leave': (payload: { id: string }) => void;
}
