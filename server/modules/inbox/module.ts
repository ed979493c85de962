import type { Infra } from '../../infra/index.js';
import { defineJob } from '../../infra/queue.js';
import type { FileService } from '../files/service.js';
import type { Module } from '../module.js';
import { viewerOfSocket } from './access.js';
import { ConversationService } from './conversations.js';
import { Inbox } from './inbox.js';
import { MessageService, type InboxChannels } from './messages.js';
import { inboxRoutes } from './routes.js';
import { SEND_ATTEMPTS, SEND_MAX_BACKOFF_MS, Sender } from './sending.js';
import { inboxRealtime, inboxSend } from './subscribers.js';

declare module '../../infra/queue.js' {
  interface JobMap {
    'inbox.send': { messageId: string; numberId: string };
    'inbox.send_watchdog': { messageId: string };
    'inbox.send_lookup': { messageId: string; attempt: number };
    'inbox.mark_read': { conversationId: string };
    'inbox.presence': { conversationId: string; presence: 'composing' | 'recording' | 'paused' };
    'inbox.wake_snoozed': Record<string, never>;
  }
}

/** How often snoozed conversations are checked (once per cluster). */
const WAKE_EVERY_MS = 30_000;

/** The conversations inbox: REST, sending exactly once through a rate-limited job, real time and rooms. */
export function inboxModule(infra: Infra, deps: { files: FileService; channels: InboxChannels }): Module<{ inbox: { conversations: ConversationService; messages: MessageService; sender: Sender } }> {
  const conversations = new ConversationService(infra);
  const messages = new MessageService(infra, conversations, deps.files, deps.channels);
  const sender = new Sender(infra, deps.channels);
  const inbox = new Inbox(infra, conversations, deps.channels);
  // A conversation room is joined after the same check GET /conversations/:id makes.
  infra.realtime.allowRooms('conversation', async (identity, id) => identity.permissions.includes('conversations:read') && conversations.canSee(viewerOfSocket(identity), id));
  return {
    name: 'inbox',
    services: { inbox: { conversations, messages, sender } },
    routes: inboxRoutes(conversations, messages, inbox),
    subscribers: [inboxRealtime(infra), inboxSend(infra)],
    jobs: [
      // Rate limited per number (WHATSAPP_SEND_RATE_PER_SECOND); a job over the pace waits without using an attempt.
      defineJob({ name: 'inbox.send', queue: 'whatsapp', attempts: SEND_ATTEMPTS, maxBackoffMs: SEND_MAX_BACKOFF_MS, rateLimitKey: (d) => d.numberId, handler: (d, job) => sender.send(d.messageId, job) }),
      defineJob({ name: 'inbox.send_watchdog', queue: 'whatsapp', handler: (d, job) => sender.watchdog(d.messageId, job) }),
      // Retried like a send while the gateway is down or the number unlinked.
      defineJob({ name: 'inbox.send_lookup', queue: 'whatsapp', attempts: SEND_ATTEMPTS, maxBackoffMs: SEND_MAX_BACKOFF_MS, handler: (d, job) => sender.lookUp(d.messageId, d.attempt, job) }),
      defineJob({ name: 'inbox.mark_read', queue: 'whatsapp', handler: (d, job) => sender.markRead(d.conversationId, job) }),
      defineJob({ name: 'inbox.presence', queue: 'whatsapp', attempts: 1, handler: (d, job) => sender.presence(d.conversationId, d.presence, job) }),
      defineJob({
        name: 'inbox.wake_snoozed',
        queue: 'maintenance',
        everyMs: WAKE_EVERY_MS,
        handler: async (_d, job) => {
          const woken = await conversations.wakeSnoozed();
          if (woken > 0) job.log.info({ woken }, 'snoozed conversations reopened');
        },
      }),
    ],
  };
}
