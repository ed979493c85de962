import type { AnyDeliveredEvent, DomainEventName } from '../../../shared/api/domain-events.js';
import type { Realtime } from '../../infra/realtime.js';
import type { Subscriber } from '../../infra/outbox.js';

const EVENTS = [
  'clinic.updated',
  'member.changed',
  'file.created',
  'file.deleted',
  'contact.created',
  'contact.updated',
  'contact.deleted',
  'appointment.created',
  'appointment.updated',
  'appointment.cancelled',
  'appointment.deleted',
  'appointment.reschedule_requested',
  'medical_record.signed',
  'anamnesis.submitted',
  'opportunity.created',
  'opportunity.updated',
  'opportunity.won',
  'opportunity.lost',
  'opportunity.moved',
  'opportunity.deleted',
  'pipeline.stages_updated',
  'google_calendar.conflict',
  'google_calendar.connection_updated',
  'whatsapp.number.updated',
  'knowledge_document.updated',
] as const satisfies readonly DomainEventName[];

type Mapped = (typeof EVENTS)[number];

/**
 * Domain events to the socket events of shared/api/events.ts, for the clinic's room. A redelivery
 * emits again: screens redraw from the payload, so a duplicate is harmless.
 */
export function realtimeSubscriber(realtime: Realtime): Subscriber<Mapped> {
  return {
    name: 'realtime',
    events: EVENTS,
    handle(event: AnyDeliveredEvent<Mapped>) {
      const room = event.clinicId;
      switch (event.name) {
        case 'clinic.updated':
          return realtime.emitToClinic(room, 'clinic:updated', event.payload);
        case 'member.changed': {
          const { userId, change, role, isProfessional, active } = event.payload;
          if (change === 'removed') return realtime.emitToClinic(room, 'team:removed', { userId });
          return realtime.emitToClinic(room, 'team:updated', { userId, role: role ?? '', isProfessional: isProfessional ?? false, active });
        }
        case 'file.created':
          return realtime.emitToClinic(room, 'file:created', event.payload);
        case 'file.deleted':
          return realtime.emitToClinic(room, 'file:deleted', event.payload);
        case 'contact.created':
          return realtime.emitToClinic(room, 'contact:created', event.payload);
        case 'contact.updated':
          return realtime.emitToClinic(room, 'contact:updated', event.payload);
        case 'contact.deleted':
          return realtime.emitToClinic(room, 'contact:deleted', event.payload);
        case 'appointment.created':
          return realtime.emitToClinic(room, 'appointment:created', event.payload);
        case 'appointment.updated':
        case 'appointment.cancelled':
          return realtime.emitToClinic(room, 'appointment:updated', event.payload);
        case 'appointment.deleted': {
          const { id, professionalId, startsAt, endsAt } = event.payload;
          return realtime.emitToClinic(room, 'appointment:deleted', { id, professionalId, startsAt, endsAt });
        }
        case 'appointment.reschedule_requested':
          return realtime.emitToClinic(room, 'appointment:reschedule_requested', event.payload);
        case 'medical_record.signed':
          return realtime.emitToClinic(room, 'medical_record:signed', event.payload);
        case 'anamnesis.submitted':
          return realtime.emitToClinic(room, 'anamnesis:submitted', event.payload);
        case 'opportunity.created':
          return realtime.emitToClinic(room, 'opportunity:created', event.payload);
        case 'opportunity.updated':
        case 'opportunity.won':
        case 'opportunity.lost':
          return realtime.emitToClinic(room, 'opportunity:updated', event.payload);
        case 'opportunity.moved':
          return realtime.emitToClinic(room, 'opportunity:moved', event.payload);
        case 'opportunity.deleted':
          return realtime.emitToClinic(room, 'opportunity:deleted', event.payload);
        case 'pipeline.stages_updated':
          return realtime.emitToClinic(room, 'pipeline:stages_updated', event.payload);
        case 'google_calendar.conflict':
          return realtime.emitToClinic(room, 'calendar:conflict', event.payload);
        case 'google_calendar.connection_updated':
          return realtime.emitToClinic(room, 'calendar:integration_updated', event.payload);
        case 'whatsapp.number.updated':
          return realtime.emitToClinic(room, 'whatsapp:status', event.payload);
        case 'knowledge_document.updated':
          return realtime.emitToClinic(room, 'knowledge_document:updated', event.payload);
      }
    },
  };
}
