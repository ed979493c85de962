import { z } from 'zod';
import {
  conversationListQuery,
  conversationParams,
  conversationPatch,
  conversationView,
  messageListQuery,
  messageParams,
  messageView,
  readResult,
  sendMessage,
  typingBody,
} from '../../../shared/api/inbox.js';
import { listOf, route } from '../../http/route.js';
import { viewerOf } from './access.js';
import type { ConversationService } from './conversations.js';
import type { Inbox } from './inbox.js';
import type { MessageService } from './messages.js';

const tag = 'Inbox';

export const inboxRoutes = (conversations: ConversationService, messages: MessageService, inbox: Inbox) => [
  route({
    method: 'get',
    path: '/conversations',
    summary: 'The inbox, newest activity first: last message preview, unread count, contact and number; filters and search',
    tag,
    access: 'conversations:read',
    schemas: { query: conversationListQuery },
    response: listOf(conversationView),
    handler: async ({ ctx, query }) => conversations.list(viewerOf(ctx), query),
  }),
  route({
    method: 'get',
    path: '/conversations/:id',
    summary: "One conversation (404 for a private number's conversation unless its professional or an admin)",
    tag,
    access: 'conversations:read',
    schemas: { params: conversationParams },
    response: conversationView,
    handler: async ({ ctx, params }) => conversations.get(viewerOf(ctx), params.id),
  }),
  route({
    method: 'patch',
    path: '/conversations/:id',
    summary: 'Status (open, pending, snoozed with snoozedUntil, resolved), assignee (an active member) and the assistant switch',
    tag,
    access: 'conversations:write',
    schemas: { params: conversationParams, body: conversationPatch },
    response: conversationView,
    handler: async ({ ctx, params, body }) => conversations.update(viewerOf(ctx), ctx, params.id, body),
  }),
  route({
    method: 'get',
    path: '/conversations/:id/messages',
    summary: 'Messages, newest first; `before` is the previous page cursor',
    tag,
    access: 'conversations:read',
    schemas: { params: conversationParams, query: messageListQuery },
    response: listOf(messageView),
    handler: async ({ ctx, params, query }) => messages.list(ctx, params.id, query),
  }),
  route({
    method: 'post',
    path: '/conversations/:id/messages',
    summary: 'Send a text or a file (Idempotency-Key required): stored pending, sent once by a job; 409 number_not_connected',
    tag,
    access: 'conversations:write',
    status: 201,
    idempotent: true,
    schemas: { params: conversationParams, body: sendMessage },
    response: messageView,
    handler: async ({ ctx, params, body, req }) => messages.send(ctx, params.id, body, Boolean(req.get('idempotency-key'))),
  }),
  route({
    method: 'post',
    path: '/conversations/:id/messages/:messageId/resend',
    summary: 'Send a failed or unconfirmed message again, as a new attempt (Idempotency-Key required)',
    tag,
    access: 'conversations:write',
    idempotent: true,
    schemas: { params: messageParams },
    response: messageView,
    handler: async ({ ctx, params, req }) => messages.resend(ctx, params.id, params.messageId, Boolean(req.get('idempotency-key'))),
  }),
  route({
    method: 'post',
    path: '/conversations/:id/read',
    summary: "Zero the unread count; WhatsApp is told in a job (the patient's blue ticks)",
    tag,
    access: 'conversations:write',
    schemas: { params: conversationParams },
    response: readResult,
    handler: async ({ ctx, params }) => inbox.read(ctx, params.id),
  }),
  route({
    method: 'post',
    path: '/conversations/:id/typing',
    summary: 'Show "typing..." on the patient\'s phone, and tell colleagues in the conversation room',
    tag,
    access: 'conversations:write',
    status: 202,
    schemas: { params: conversationParams, body: typingBody },
    response: z.object({ presence: z.string() }),
    handler: async ({ ctx, params, body }) => inbox.typing(ctx, params.id, body.presence),
  }),
];
