import { and, count, desc, eq, gt, gte, inArray, isNotNull, lte, sql } from 'drizzle-orm';
import type { HandoffReason } from '../../../shared/api/events.js';
import { conversations, messages } from '../../../shared/schema/index.js';
import { ClinicData } from '../../infra/clinic-data.js';
import type { Tx } from '../../infra/db.js';
import type { Infra } from '../../infra/index.js';
import type { EventMeta } from '../../infra/outbox.js';

/** Messages the model sees before the burst; each text cut to this many characters. */
const HISTORY_MESSAGES = 20;
const MAX_TEXT = 2_000;
/** A burst is at most this many inbound messages (the rest is history). */
const MAX_BURST = 10;

/** The pause kept when it ends later than `until`. (A Date bound in raw SQL is refused by postgres.js: ISO text, cast.) */
const later = (until: Date) => sql`greatest(coalesce(${conversations.aiPausedUntil}, ${until.toISOString()}::timestamptz), ${until.toISOString()}::timestamptz)`;

export interface HistoryMessage {
  from: 'patient' | 'clinic';
  text: string;
}

/** What the auto-reply reads about one inbound message and its conversation. */
export interface Inbound {
  id: string;
  sentAt: Date;
  conversationId: string;
  numberId: string;
  contactId: string;
  aiEnabled: boolean;
  aiPausedUntil: Date | null;
}

const PLACEHOLDERS: Record<string, string> = { image: '[imagem]', audio: '[áudio]', video: '[vídeo]', document: '[documento]', sticker: '[figurinha]', location: '[localização]', contact: '[contato]' };
const textOf = (m: { type: string; text: string | null }) => (m.text?.trim() ? m.text.slice(0, MAX_TEXT) : (PLACEHOLDERS[m.type] ?? '[mensagem sem texto]'));

/** The conversation as the auto-reply reads it, and its writes: pauses and handoffs, each published. */
export class AssistantConversations {
  constructor(private readonly infra: Infra) {}

  private data(clinicId: string) {
    return new ClinicData(clinicId, this.infra.db);
  }

  async inbound(clinicId: string, messageId: string): Promise<Inbound | undefined> {
    const data = this.data(clinicId);
    const [row] = await data
      .pick(
        {
          id: messages.id,
          sentAt: messages.sentAt,
          conversationId: messages.conversationId,
          numberId: conversations.numberId,
          contactId: conversations.contactId,
          aiEnabled: conversations.aiEnabled,
          aiPausedUntil: conversations.aiPausedUntil,
        },
        messages,
        eq(messages.id, messageId),
        eq(messages.direction, 'inbound'),
      )
      .innerJoin(conversations, data.owns(conversations, eq(conversations.id, messages.conversationId)));
    return row;
  }

  /** The newest message of the conversation, and whether a person (app or phone) wrote after `since`. */
  async latest(clinicId: string, conversationId: string, since: Date) {
    const data = this.data(clinicId);
    const [[newest], [human]] = await Promise.all([
      data.pick({ id: messages.id }, messages, eq(messages.conversationId, conversationId), eq(messages.direction, 'inbound')).orderBy(desc(messages.sentAt), desc(messages.createdAt)).limit(1),
      data.pick({ id: messages.id }, messages, eq(messages.conversationId, conversationId), inArray(messages.sender, ['user', 'phone']), gte(messages.sentAt, since)).limit(1),
    ]);
    return { latestInboundId: newest?.id, humanReplied: Boolean(human) };
  }

  /** The message already sent for this key (a retried job or a redelivered event), if any. */
  async answered(clinicId: string, key: string) {
    const [row] = await this.data(clinicId).pick({ id: messages.id, meta: messages.meta }, messages, eq(messages.automationKey, key));
    return row;
  }

  async aiRepliesSince(clinicId: string, conversationId: string, since: Date): Promise<number> {
    const [row] = await this.data(clinicId).pick({ n: count() }, messages, eq(messages.conversationId, conversationId), eq(messages.sender, 'ai'), gt(messages.sentAt, since));
    return row?.n ?? 0;
  }

  /**
   * The burst (the patient's messages since the clinic's last one, oldest first, at most MAX_BURST)
   * and the history before it, oldest first. Only this conversation's messages: nothing of another patient.
   */
  async transcript(clinicId: string, conversationId: string): Promise<{ burst: string[]; history: HistoryMessage[] }> {
    const rows = await this.data(clinicId)
      .pick({ direction: messages.direction, type: messages.type, text: messages.text }, messages, eq(messages.conversationId, conversationId))
      .orderBy(desc(messages.sentAt), desc(messages.createdAt))
      .limit(HISTORY_MESSAGES + MAX_BURST);
    const firstOutbound = rows.findIndex((m) => m.direction === 'outbound');
    const burstSize = Math.min(firstOutbound === -1 ? rows.length : firstOutbound, MAX_BURST);
    const burst = rows.slice(0, burstSize).reverse().filter((m) => m.text?.trim()).map((m) => (m.text as string).slice(0, MAX_TEXT));
    const history = rows
      .slice(burstSize, burstSize + HISTORY_MESSAGES)
      .reverse()
      .map((m): HistoryMessage => ({ from: m.direction === 'inbound' ? 'patient' : 'clinic', text: textOf(m) }));
    return { burst, history };
  }

  /** A person replied: the assistant stays quiet until `until` (a longer pause already set is kept). */
  async pause(clinicId: string, conversationId: string, until: Date): Promise<void> {
    await this.data(clinicId).update(conversations, { aiPausedUntil: later(until) }, eq(conversations.id, conversationId));
  }

  /**
   * Hands the conversation to the staff: `pending`, the AI paused until `until`, published as
   * `conversation.updated` (the inbox redraws) and `assistant.handoff` (staff are notified).
   */
  async handoff(meta: EventMeta, conversationId: string, reason: HandoffReason, until: Date): Promise<void> {
    await this.data(meta.clinicId).transaction(async (data, tx) => {
      const [row] = await data
        .update(
          conversations,
          { status: 'pending', snoozedUntil: null, aiPausedUntil: later(until), updatedAt: sql`now()` },
          eq(conversations.id, conversationId),
        )
        .returning();
      if (!row) return;
      await this.published(tx, row, meta);
      await this.infra.events.publish(
        tx,
        'assistant.handoff',
        { conversationId, contactId: row.contactId, numberId: row.numberId, reason, aiPausedUntil: (row.aiPausedUntil ?? until).toISOString() },
        meta,
      );
    });
  }

  /** Pauses whose time came, of every clinic, cleared and published (the job that runs once per cluster). */
  async expirePauses(now = new Date()): Promise<number> {
    return this.infra.systemDb.transaction(async (systemTx) => {
      const rows = await systemTx
        .update(conversations)
        .set({ aiPausedUntil: null, updatedAt: sql`now()` })
        .where(and(isNotNull(conversations.aiPausedUntil), lte(conversations.aiPausedUntil, now)))
        .returning();
      for (const row of rows) await this.published(systemTx, row, { clinicId: row.clinicId });
      return rows.length;
    });
  }

  private published(tx: Tx, row: typeof conversations.$inferSelect, meta: EventMeta) {
    const { id, contactId, numberId, status, assigneeId, unreadCount } = row;
    return this.infra.events.publish(tx, 'conversation.updated', { id, contactId, numberId, status, assigneeId, unreadCount }, meta);
  }
}
