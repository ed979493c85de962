import type { ServerEvent } from '../../shared/api/events.js';
import type { Permission } from './permissions.js';

/**
 * The one table from socket event to the HTTP permission that reads its entity: a socket gets an
 * event only if its actor could read the same data over REST. A new event without an entry here
 * fails typecheck.
 */
export const EVENT_PERMISSIONS = {
  'clinic:updated': 'clinic:read',
  'team:updated': 'team:read',
  'team:removed': 'team:read',
  'file:created': 'files:read',
  'file:deleted': 'files:read',
  'contact:created': 'contacts:read',
  'contact:updated': 'contacts:read',
  'contact:deleted': 'contacts:read',
  'appointment:created': 'appointments:read',
  'appointment:updated': 'appointments:read',
  'appointment:deleted': 'appointments:read',
  'appointment:reschedule_requested': 'appointments:read',
  'medical_record:signed': 'records:read',
  'anamnesis:submitted': 'anamnesis:read',
  'calendar:conflict': 'appointments:read',
  'calendar:integration_updated': 'calendar:connect',
  // A private number's conversations go to its professional and the admins only (realtime.emitToOwner).
  'message:new': 'conversations:read',
  'message:updated': 'conversations:read',
  'conversation:updated': 'conversations:read',
  'conversation:typing': 'conversations:read',
  'assistant:handoff': 'conversations:read',
  // Numbers are listed to every member, private ones too: their state is no conversation content.
  'whatsapp:status': 'whatsapp:read',
  'knowledge_document:updated': 'knowledge:read',
  // Any signed-in member or key may call POST /api/test/ping (test builds only).
  'test:ping': 'clinic:read',
  'opportunity:created': 'pipeline:read',
  'opportunity:updated': 'pipeline:read',
  'opportunity:moved': 'pipeline:read',
  'opportunity:deleted': 'pipeline:read',
  'pipeline:stages_updated': 'pipeline:read',
} as const satisfies Record<ServerEvent, Permission>;

/** The permissions some event needs: a socket joins one room for each of them its actor holds. */
export const EVENT_READ_PERMISSIONS: readonly Permission[] = [...new Set(Object.values(EVENT_PERMISSIONS))];
