import { and, desc, eq, inArray, isNotNull, isNull, lt, sql } from 'drizzle-orm';
import { contactWhatsappIds, contacts, conversations, files, messages } from '../../../shared/schema/index.js';
import { ClinicData } from '../../infra/clinic-data.js';
import type { Infra } from '../../infra/index.js';
import type { JobContext } from '../../infra/queue.js';
import { AppError } from '../../lib/errors.js';
import { UNIQUE_VIOLATION, pgErrorCode, retryWhileUnreachable } from '../../lib/pg-errors.js';
import type { ChannelProvider, ProviderError, SentMessage } from '../integrations/providers.js';
import { findOnGateway } from './gateway-lookup.js';
import { publishUpdated, sendable, unconfirmedSend, type InboxChannels, type MessageRow } from './messages.js';

/**
 * Attempts of one send job: connection errors and 5xx are retried after 1, 2, 4, 8, 16, then
 * every 30 s (SEND_MAX_BACKOFF_MS): eleven attempts span three minutes, so a gateway down for two
 * goes out within 30 s of its return, and a dead one ends `failed` instead of waiting for ever.
 */
export const SEND_ATTEMPTS = 11;
export const SEND_MAX_BACKOFF_MS = 30_000;
/** A claim this old with no answer: the holder died mid-call, so the send is as ambiguous as a timeout. */
export const STALE_CLAIM_MS = 5 * 60_000;
/** An unconfirmed send is looked up on the gateway this long after: past any send it was still finishing. */
export const LOOKUP_AFTER_MS = 30_000;
/** Attempts a message may reach by our lookups' resends (a member's resend counts too). */
const AUTO_SEND_ATTEMPTS = 3;
/**
 * After the gateway answered, its outcome is stored even across a database outage this long
 * (tried every STORE_RETRY_WAIT_MS): dropped, a sent message would stay claimed and look unsent.
 */
const STORE_RETRY_MS = STALE_CLAIM_MS - 60_000;
const STORE_RETRY_WAIT_MS = 1000;
/** How long "typing..." shows on the patient's phone. */
const PRESENCE_MS = 3000;
/** Inbound messages marked read on WhatsApp per call. */
const READ_BATCH = 100;

const isProviderError = (err: unknown): err is ProviderError => err instanceof Error && typeof (err as { retryable?: unknown }).retryable === 'boolean';

/**
 * Sends an outbound message at most once by our own retries. The job claims the message
 * (`sending_at`) only while it is `pending` with no WhatsApp id, so a second run, a duplicate job
 * or a message the webhook echo already matched does nothing. The claim is released only when the
 * gateway certainly did not send (connection refused, 5xx, number not linked); a timeout or a
 * crash mid-call leaves it `unconfirmed` for the webhook echo to settle or the lookup (`lookUp`).
 * What the gateway answered is stored even if the database goes away meanwhile (`untilStored`).
 */
export class Sender {
  constructor(
    private readonly infra: Infra,
    private readonly channels: InboxChannels,
  ) {}

  private data(clinicId: string | null) {
    if (!clinicId) throw new Error('inbox job without a clinic');
    return new ClinicData(clinicId, this.infra.db);
  }

  async send(messageId: string, job: JobContext): Promise<void> {
    const data = this.data(job.clinicId);
    const [pending] = await data.select(messages, eq(messages.id, messageId), sendable, isNull(messages.sendingAt));
    if (!pending) return this.notClaimed(data, messageId, job);
    // Everything the request needs is read before the claim: a crash between the claim and the
    // request would leave a send that certainly did not go out looking as ambiguous as a timeout.
    let call: () => Promise<SentMessage>;
    try {
      call = await this.prepare(data, pending);
    } catch (err) {
      return this.failed(data, pending, err, job, false);
    }
    // The row was read above: the claim only needs to know it won.
    const [claimed] = await data.update(messages, { sendingAt: sql`now()` }, eq(messages.id, messageId), sendable, isNull(messages.sendingAt)).returning({ id: messages.id });
    if (!claimed) return this.notClaimed(data, messageId, job);
    let sent: SentMessage;
    try {
      sent = await call();
    } catch (err) {
      // Whatever the client throws besides its classified errors came after the request left: ambiguous.
      return this.failed(data, pending, isProviderError(err) ? err : Object.assign(new Error('send failed unexpectedly'), { code: 'internal', retryable: false, ambiguous: true }), job);
    }
    await this.settle(data, pending, sent, job);
  }

  /** Already sent, settled or held by another run: a held one is checked again once its claim would be stale. */
  private async notClaimed(data: ClinicData, messageId: string, job: JobContext) {
    const [row] = await data.pick({ sendingAt: messages.sendingAt, sendAttempt: messages.sendAttempt }, messages, eq(messages.id, messageId), sendable);
    if (!row?.sendingAt) return;
    job.log.warn({ messageId }, 'send already in progress; checking again later');
    await this.infra.queue.add('inbox.send_watchdog', { messageId }, { jobId: `send-watchdog:${messageId}:${row.sendAttempt}`, delayMs: STALE_CLAIM_MS, context: { clinicId: data.clinicId } });
  }

  /** A claim that outlived any answer: the send may have happened, so it is unconfirmed, never resent. */
  async watchdog(messageId: string, job: JobContext): Promise<void> {
    const data = this.data(job.clinicId);
    const stale = new Date(Date.now() - STALE_CLAIM_MS + 1000);
    await this.mark(data, messageId, 'unconfirmed', 'send_interrupted', and(isNotNull(messages.sendingAt), lt(messages.sendingAt, stale)));
  }

  /**
   * An `unconfirmed` send, looked up on the gateway once it answers (`findOnGateway`): found there,
   * it takes the gateway's id; provably absent, it is sent again as a new attempt, claimed like any
   * other; otherwise it stays unconfirmed for the staff to resend. A member's resend meanwhile moved
   * the attempt on: nothing to do. Thrown (gateway down, number not linked): retried by the job.
   */
  async lookUp(messageId: string, attempt: number, job: JobContext): Promise<void> {
    const data = this.data(job.clinicId);
    const current = and(eq(messages.id, messageId), unconfirmedSend, eq(messages.sendAttempt, attempt));
    const [m] = await data.select(messages, current);
    if (!m) return;
    const { client } = await this.channels.forNumber(data.clinicId, m.numberId);
    const finding = await findOnGateway(client, data, m, (await recipient(data, m.conversationId)).addresses);
    if ('sent' in finding) {
      job.log.info({ messageId }, 'unconfirmed send found on the gateway');
      return this.settle(data, m, finding.sent, job);
    }
    if ('unknown' in finding || attempt >= AUTO_SEND_ATTEMPTS) {
      job.log.warn({ messageId, reason: 'unknown' in finding ? finding.unknown : 'attempts_exhausted' }, 'unconfirmed send left to the staff');
      return;
    }
    job.log.info({ messageId }, 'unconfirmed send not on the gateway: sending it again');
    await untilStored(() =>
      data.transaction(async (scoped, tx) => {
        const [row] = await scoped.update(messages, { status: 'pending', error: null, sendingAt: null, sendAttempt: sql`${messages.sendAttempt} + 1`, updatedAt: sql`now()` }, current).returning();
        if (row) await publishUpdated(this.infra, tx, row, { clinicId: data.clinicId });
      }),
    );
  }

  /** Everything before the request (number, recipient, file): a failure here certainly sent nothing. */
  private async prepare(data: ClinicData, m: MessageRow): Promise<() => Promise<SentMessage>> {
    const { client } = await this.channels.forNumber(data.clinicId, m.numberId);
    const { to } = await recipient(data, m.conversationId);
    const quoted = m.quotedExternalId ? { externalId: m.quotedExternalId } : undefined;
    if (m.type === 'text') return () => client.sendText({ to, text: m.text ?? '', quoted });
    const base64 = await this.fileBase64(data, m.fileId);
    if (m.type === 'audio') return () => client.sendAudio({ to, audio: { base64 }, quoted });
    const kind = m.type === 'image' || m.type === 'video' ? m.type : 'document';
    const caption = m.text ?? undefined;
    return () => client.sendMedia({ to, kind, media: { base64 }, mimetype: m.mediaMimetype ?? undefined, caption, fileName: m.mediaFileName ?? undefined, quoted });
  }

  private async fileBase64(data: ClinicData, fileId: string | null): Promise<string> {
    const [file] = fileId ? await data.pick({ storageKey: files.storageKey }, files, eq(files.id, fileId)) : [];
    const bytes = file ? await this.infra.storage.read(file.storageKey) : null;
    if (!bytes) throw new AppError(410, 'file_missing', 'The file of this message is gone');
    return bytes.toString('base64');
  }

  /** Stores WhatsApp's id; the status only moves forward (the webhook may have moved it already). */
  private async settle(data: ClinicData, m: MessageRow, sent: Pick<SentMessage, 'externalId'>, job: JobContext) {
    const forward = sql`case when ${messages.status} in ('pending', 'unconfirmed') then 'server_ack'::message_status else ${messages.status} end`;
    try {
      await untilStored(() =>
        data.transaction(async (scoped, tx) => {
          const [row] = await scoped
            .update(messages, { externalId: sql`coalesce(${messages.externalId}, ${sent.externalId})`, status: forward, sendingAt: null, error: null, updatedAt: sql`now()` }, eq(messages.id, m.id))
            .returning();
          if (row) await publishUpdated(this.infra, tx, row, { clinicId: data.clinicId });
        }),
      );
    } catch (err) {
      // The echo was stored as a message of its own before this answer: it is sent, the id lives there.
      if (pgErrorCode(err) !== UNIQUE_VIOLATION) throw err;
      job.log.warn({ messageId: m.id }, 'sent message already stored from its webhook echo');
      await this.mark(data, m.id, 'server_ack', null);
    }
  }

  /** `claimed`: the request may have left (a timeout is then ambiguous); else it certainly did not, and another run's claim is left alone. */
  private async failed(data: ClinicData, m: MessageRow, err: unknown, job: JobContext, claimed = true) {
    const code = isProviderError(err) ? err.code : err instanceof AppError ? err.code : 'internal';
    if (claimed && isProviderError(err) && (err.code === 'timeout' || err.ambiguous)) {
      job.log.warn({ messageId: m.id, code }, 'send unconfirmed (no answer): its webhook echo or the gateway lookup settles it');
      return this.mark(data, m.id, 'unconfirmed', code);
    }
    const retryable = isProviderError(err) ? err.retryable : err instanceof AppError ? err.code === 'number_not_connected' || err.status >= 500 : true;
    if (retryable && job.attempt < SEND_ATTEMPTS) {
      if (claimed) await untilStored(() => data.update(messages, { sendingAt: null }, eq(messages.id, m.id)));
      throw err;
    }
    job.log.warn({ messageId: m.id, code }, 'send failed');
    await this.mark(data, m.id, 'failed', code === 'not_on_channel' ? 'not_on_whatsapp' : code, claimed ? undefined : isNull(messages.sendingAt));
  }

  private async mark(data: ClinicData, messageId: string, status: 'failed' | 'unconfirmed' | 'server_ack', error: string | null, condition?: ReturnType<typeof and>) {
    await untilStored(() =>
      data.transaction(async (scoped, tx) => {
        const [row] = await scoped.update(messages, { status, error, sendingAt: null, updatedAt: sql`now()` }, eq(messages.id, messageId), sendable, condition).returning();
        if (row) await publishUpdated(this.infra, tx, row, { clinicId: data.clinicId });
      }),
    );
  }

  /** Tells WhatsApp the patient's unread messages were read (blue ticks); a number not linked is skipped. */
  async markRead(conversationId: string, job: JobContext): Promise<void> {
    const data = this.data(job.clinicId);
    const target = await this.channel(data, conversationId, job);
    if (!target) return;
    const unread = await data
      .pick({ id: messages.id, externalId: messages.externalId }, messages, eq(messages.conversationId, conversationId), eq(messages.direction, 'inbound'), isNotNull(messages.externalId), inArray(messages.status, ['pending', 'server_ack', 'delivery_ack']))
      .orderBy(desc(messages.sentAt))
      .limit(READ_BATCH);
    if (unread.length === 0) return;
    await target.client.markRead(unread.map((m) => ({ remoteJid: target.to, fromMe: false, externalId: m.externalId as string })));
    const ids = unread.map((m) => m.id);
    await data.update(messages, { status: 'read', updatedAt: sql`now()` }, inArray(messages.id, ids), inArray(messages.status, ['pending', 'server_ack', 'delivery_ack']));
  }

  async presence(conversationId: string, presence: 'composing' | 'recording' | 'paused', job: JobContext): Promise<void> {
    const target = await this.channel(this.data(job.clinicId), conversationId, job);
    await target?.client.sendPresence({ to: target.to, presence, delayMs: PRESENCE_MS });
  }

  private async channel(data: ClinicData, conversationId: string, job: JobContext): Promise<{ client: ChannelProvider; to: string } | undefined> {
    const [conversation] = await data.pick({ numberId: conversations.numberId }, conversations, eq(conversations.id, conversationId));
    if (!conversation) return undefined;
    try {
      const { client } = await this.channels.forNumber(data.clinicId, conversation.numberId);
      return { client, to: (await recipient(data, conversationId)).to };
    } catch (err) {
      if (err instanceof AppError) {
        job.log.info({ conversationId, code: err.code }, 'WhatsApp call skipped');
        return undefined;
      }
      throw err;
    }
  }
}

const untilStored = <T>(write: () => Promise<T>) => retryWhileUnreachable(write, { waitMs: STORE_RETRY_WAIT_MS, giveUpAt: Date.now() + STORE_RETRY_MS });

/**
 * The contact's WhatsApp address (`to`): a phone JID first, then the stored phone, then a `@lid`;
 * and every JID it may appear under on the gateway (`addresses`).
 */
async function recipient(data: ClinicData, conversationId: string): Promise<{ to: string; addresses: string[] }> {
  const [contact] = await data
    .pick({ id: contacts.id, phone: contacts.phone }, conversations, eq(conversations.id, conversationId))
    .innerJoin(contacts, data.owns(contacts, eq(contacts.id, conversations.contactId)));
  if (!contact) throw new AppError(404, 'not_found', 'Conversation not found');
  const jids = (await data.pick({ jid: contactWhatsappIds.jid }, contactWhatsappIds, eq(contactWhatsappIds.contactId, contact.id))).map((r) => r.jid);
  const to = jids.find((j) => j.endsWith('@s.whatsapp.net')) ?? contact.phone?.replace(/\D/g, '') ?? jids[0];
  if (!to) throw new AppError(422, 'no_recipient', 'The contact has no WhatsApp address');
  return { to, addresses: [...jids, ...(to.includes('@') ? [] : [`${to}@s.whatsapp.net`])] };
}
