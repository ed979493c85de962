import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { DomainEventName, DomainEvents } from '../../../shared/api/domain-events.js';
import { WEBHOOK_EVENTS, WEBHOOK_EVENT_TYPES, type WebhookEventType } from '../../../shared/api/webhooks.js';
import { messagesOf, SOURCE_EVENTS, type SourceEvent } from '../../../server/modules/outbound-webhooks/catalog.js';

/** Every catalog message, made from a domain event, matches its published schema exactly (no field more). */

const id = () => randomUUID();
const at = '2031-03-12T12:00:00.000Z';
const appointment = { id: id(), contactId: id(), contactName: 'Maria da Silva', professionalId: id(), startsAt: at, endsAt: at, status: 'confirmed', type: 'Retorno', tagId: null, overbooked: false, seriesId: null };
const opportunity = { id: id(), contactId: id(), stageId: id(), position: 'a0', title: 'Clareamento de Maria', status: 'open', valueCents: 150000, probability: 50, ownerId: null, expectedCloseDate: null, stageEnteredAt: at };

const samples: { [N in (typeof SOURCE_EVENTS)[number]]: DomainEvents[N] } = {
  'appointment.created': { ...appointment, status: 'scheduled' },
  'appointment.updated': { ...appointment, previousStatus: 'scheduled' },
  'appointment.cancelled': { ...appointment, status: 'cancelled', previousStatus: 'confirmed' },
  'appointment.reschedule_requested': { appointmentId: id(), contactId: id(), professionalId: id(), startsAt: at, conversationId: id() },
  'contact.created': { id: id(), name: 'Maria da Silva', phone: '+5511987654321', status: 'active' },
  'contact.updated': { id: id(), name: 'Maria da Silva', phone: '+5511987654321', status: 'inactive' },
  'message.received': { id: id(), conversationId: id(), contactId: id(), numberId: id(), externalId: 'ABCD1234' },
  'message.sent': { id: id(), conversationId: id(), numberId: id(), sender: 'ai' },
  'conversation.updated': { id: id(), contactId: id(), numberId: id(), status: 'open', assigneeId: id(), unreadCount: 2, previousAssigneeId: null },
  'anamnesis.submitted': { id: id(), contactId: id() },
  'medical_record.signed': { id: id(), contactId: id() },
  'opportunity.moved': { ...opportunity, fromStageId: id(), toStageId: opportunity.stageId, source: 'user' },
  'opportunity.won': { ...opportunity, status: 'won' },
  'opportunity.lost': { ...opportunity, status: 'lost' },
};

const event = <N extends DomainEventName>(name: N, payload: DomainEvents[N]) =>
  ({ id: 1, name, clinicId: id(), aggregateType: 'x', aggregateId: 'x', payload, actor: null, requestId: null, createdAt: new Date(at), attempt: 1 }) as unknown as SourceEvent;

describe('the catalog', () => {
  const made = Object.entries(samples).flatMap(([name, payload]) => messagesOf(event(name as DomainEventName, payload as never)));

  it('makes every catalog type from the domain events', () => {
    expect(new Set(made.map((m) => m.type))).toEqual(new Set(WEBHOOK_EVENT_TYPES));
  });

  it.each(WEBHOOK_EVENT_TYPES)('%s matches its published schema, with nothing beyond it (no names, phones, titles)', (type) => {
    for (const message of made.filter((m) => m.type === type)) {
      expect(() => WEBHOOK_EVENTS[type as WebhookEventType].data.strict().parse(message.data)).not.toThrow();
      expect(JSON.stringify(message.data)).not.toMatch(/Maria|5511987654321|Retorno|ABCD1234/);
    }
  });

  it('sends no status_changed without a status change, no assignment without a new assignee, no move inside a column', () => {
    expect(messagesOf(event('appointment.updated', { ...appointment })).map((m) => m.type)).toEqual(['appointment.updated']);
    expect(messagesOf(event('conversation.updated', { id: id(), contactId: id(), numberId: id(), status: 'resolved', assigneeId: null, unreadCount: 0 }))).toEqual([]);
    expect(messagesOf(event('opportunity.moved', { ...opportunity, fromStageId: opportunity.stageId, toStageId: opportunity.stageId, source: 'user' }))).toEqual([]);
  });
});
