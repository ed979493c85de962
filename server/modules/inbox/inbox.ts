import type { Infra } from '../../infra/index.js';
import type { TenantContext } from '../../http/context.js';
import { viewerOf } from './access.js';
import type { ConversationService } from './conversations.js';
import type { InboxChannels } from './messages.js';

/** What an open conversation screen does besides reading: mark it read and show "typing...". */
export class Inbox {
  constructor(
    private readonly infra: Infra,
    private readonly conversations: ConversationService,
    private readonly channels: InboxChannels,
  ) {}

  /** Zero unread now; WhatsApp hears it from a job, whose failure (or a queue outage) never fails this answer. */
  async read(ctx: TenantContext, id: string) {
    await this.conversations.markRead(viewerOf(ctx), ctx, id);
    try {
      await this.infra.queue.add('inbox.mark_read', { conversationId: id }, { context: ctx });
    } catch (err) {
      this.infra.log.warn({ err, requestId: ctx.requestId, conversationId: id }, 'could not enqueue the WhatsApp read receipt');
    }
    return { id, unreadCount: 0 as const };
  }

  /** 409 when the number is not linked; the presence call waits on the gateway, so it runs in a job. */
  async typing(ctx: TenantContext, id: string, presence: 'composing' | 'recording' | 'paused') {
    const conversation = await this.conversations.get(viewerOf(ctx), id);
    await this.channels.forNumber(ctx.clinicId, conversation.number.id);
    await this.infra.queue.add('inbox.presence', { conversationId: id, presence }, { context: ctx });
    if (ctx.actor.type === 'user' && presence !== 'paused') {
      this.infra.realtime.emitToRoom(ctx.clinicId, 'conversation', id, 'conversation:typing', { conversationId: id, userId: ctx.actor.userId });
    }
    return { presence };
  }
}
