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
  // Ids only: clinical content never travels over sockets.
  'medical_record:signed': (payload: { id: string; contactId: string }) => void;
  'anamnesis:submitted': (payload: { id: string; contactId: string }) => void;
  'knowledge_document:updated': (payload: KnowledgeDocumentEvent) => void;
  'test:ping': (payload: { at: string; by: string }) => void;
}

export type ServerEvent = keyof ServerToClientEvents;
export type EventPayload<E extends ServerEvent> = Parameters<ServerToClientEvents[E]>[0];

// Clients emit nothing yet: every change goes through the REST API.
export type ClientToServerEvents = Record<string, never>;
