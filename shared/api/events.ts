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
}

/** What the inbox list needs to redraw a row; `preview` only reaches sockets that may read the conversation. */
export interface MessageNewEvent {
  id: string;
  conversationId: string;
  numberId: string;
  contactId: string;
  direction: 'inbound' | 'outbound';
  sender: 'contact' | 'user' | 'phone' | 'ai';
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
  // Ids only: clinical content never travels over sockets.
  'medical_record:signed': (payload: { id: string; contactId: string }) => void;
  'anamnesis:submitted': (payload: { id: string; contactId: string }) => void;
  'message:new': (payload: MessageNewEvent) => void;
  'message:updated': (payload: { id: string; conversationId: string; numberId: string; status: string; mediaState: string | null }) => void;
  'conversation:updated': (payload: ConversationUpdatedEvent) => void;
  /** To the `conversation:<id>` room only: a colleague is writing an answer in this conversation. */
  'conversation:typing': (payload: { conversationId: string; userId: string }) => void;
  'test:ping': (payload: { at: string; by: string }) => void;
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
