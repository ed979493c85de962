import { and, asc, desc, eq, inArray, isNotNull, lt, or, sql } from 'drizzle-orm';
import { contactWhatsappIds, conversations, files, integrationConnections, integrationWebhookEvents, medicalRecordAttachments, messages, whatsappEarlyStatuses, whatsappNumbers } from '../../../shared/schema/index.js';
import { ClinicData } from '../../infra/clinic-data.js';
import type { Tx } from '../../infra/db.js';
import type { Infra } from '../../infra/index.js';
import { defineJob, type AnyJobDef } from '../../infra/queue.js';
import type { TenantContext } from '../../http/context.js';
import { can } from '../../lib/permissions.js';
import type { TimelineItem } from '../contacts/timeline.js';

/** Timeline items are the latest messages; the inbox holds the whole conversation. */
export const TIMELINE_MESSAGES = 100;
const PRUNE_EVERY_MS = 60 * 60_000;

/** A private number's conversations are its professional's and the admins' only. */
const visibleTo = (ctx: TenantContext) =>
  ctx.actor.type === 'user' && ctx.actor.role === 'admin'
    ? undefined
    : or(sql`${whatsappNumbers.professionalId} is null`, ctx.actor.type === 'user' ? eq(whatsappNumbers.professionalId, ctx.actor.userId) : sql`false`);

/** A patient's messages everywhere else: timeline, LGPD export and erasure, delete, payload retention. */
export class WhatsappHistory {
  constructor(private readonly infra: Pick<Infra, 'db' | 'systemDb' | 'storage' | 'config'>) {}

  async timeline(ctx: TenantContext, contactId: string): Promise<TimelineItem[]> {
    if (!can(ctx.actor, 'conversations:read')) return [];
    const data = new ClinicData(ctx.clinicId, this.infra.db);
    const rows = await data
      .pick(
        { id: messages.id, conversationId: messages.conversationId, direction: messages.direction, sender: messages.sender, type: messages.type, text: messages.text, status: messages.status, sentAt: messages.sentAt },
        messages,
      )
      .innerJoin(conversations, data.owns(conversations, eq(conversations.id, messages.conversationId), eq(conversations.contactId, contactId)))
      .innerJoin(whatsappNumbers, data.owns(whatsappNumbers, eq(whatsappNumbers.id, conversations.numberId), visibleTo(ctx)))
      .orderBy(desc(messages.sentAt), desc(messages.createdAt))
      .limit(TIMELINE_MESSAGES);
    return rows.map((m) => ({
      type: 'message',
      id: m.id,
      at: m.sentAt.toISOString(),
      title: m.direction === 'inbound' ? 'Mensagem recebida pelo WhatsApp' : 'Mensagem enviada pelo WhatsApp',
      data: { conversationId: m.conversationId, direction: m.direction, sender: m.sender, messageType: m.type, status: m.status, preview: m.text?.slice(0, 140) ?? null },
    }));
  }

  /** Every conversation and message of the patient, on every number (the patient's own data). */
  async exportSection(ctx: TenantContext, contactId: string) {
    const data = new ClinicData(ctx.clinicId, this.infra.db);
    const convs = await data
      .pick({ id: conversations.id, number: whatsappNumbers.name, numberPhone: whatsappNumbers.phone, status: conversations.status, createdAt: conversations.createdAt }, conversations, eq(conversations.contactId, contactId))
      .innerJoin(whatsappNumbers, data.owns(whatsappNumbers, eq(whatsappNumbers.id, conversations.numberId)))
      .orderBy(asc(conversations.createdAt));
    const rows = convs.length
      ? await data
          .pick(
            { conversationId: messages.conversationId, sentAt: messages.sentAt, direction: messages.direction, sender: messages.sender, type: messages.type, text: messages.text, content: messages.content, status: messages.status, fileId: messages.fileId },
            messages,
            inArray(
              messages.conversationId,
              convs.map((c) => c.id),
            ),
          )
          .orderBy(asc(messages.sentAt), asc(messages.createdAt))
      : [];
    const addresses = await data.pick({ jid: contactWhatsappIds.jid }, contactWhatsappIds, eq(contactWhatsappIds.contactId, contactId));
    return {
      addresses: addresses.map((a) => a.jid),
      conversations: convs.map((c) => ({ ...c, messages: rows.filter((m) => m.conversationId === c.id).map(({ conversationId: _c, ...m }) => m) })),
    };
  }

  /**
   * LGPD erasure: the messages stay as a count and a time line (direction, type, status) without
   * text, content or media; the media files and the patient's WhatsApp addresses are deleted, and
   * kept webhook payloads that mention the patient's messages or addresses go too.
   */
  async anonymize(tx: Tx, ctx: TenantContext, contactId: string) {
    const data = new ClinicData(ctx.clinicId, tx);
    const convIds = (await data.pick({ id: conversations.id }, conversations, eq(conversations.contactId, contactId))).map((c) => c.id);
    const jids = (await data.pick({ jid: contactWhatsappIds.jid }, contactWhatsappIds, eq(contactWhatsappIds.contactId, contactId))).map((r) => r.jid);
    let externalIds: string[] = [];
    if (convIds.length > 0) {
      const rows = await data.pick({ externalId: messages.externalId, fileId: messages.fileId }, messages, inArray(messages.conversationId, convIds));
      externalIds = rows.flatMap((r) => (r.externalId ? [r.externalId] : []));
      const fileIds = rows.flatMap((r) => (r.fileId ? [r.fileId] : []));
      await data.update(messages, { text: null, content: null, meta: null, fileId: null, mediaFileName: null, updatedAt: new Date() }, inArray(messages.conversationId, convIds));
      // A medium a professional attached to a medical record belongs to the record now (kept with it).
      const attached = fileIds.length ? (await data.pick({ id: medicalRecordAttachments.fileId }, medicalRecordAttachments, inArray(medicalRecordAttachments.fileId, fileIds))).map((a) => a.id) : [];
      const own = fileIds.filter((id) => !attached.includes(id));
      if (own.length > 0) {
        const removed = await data.delete(files, inArray(files.id, own)).returning({ key: files.storageKey });
        for (const f of removed) await this.infra.storage.delete(f.key);
      }
    }
    await data.delete(contactWhatsappIds, eq(contactWhatsappIds.contactId, contactId));
    const needles = [...externalIds, ...jids];
    if (needles.length > 0) {
      await data.delete(integrationWebhookEvents, or(...needles.map((n) => sql`position(${n} in ${integrationWebhookEvents.payload}::text) > 0`)));
    }
  }

  async hasMessages(clinicId: string, contactId: string): Promise<boolean> {
    const data = new ClinicData(clinicId, this.infra.db);
    const [row] = await data
      .pick({ id: messages.id }, messages)
      .innerJoin(conversations, data.owns(conversations, eq(conversations.id, messages.conversationId), eq(conversations.contactId, contactId)))
      .limit(1);
    return !!row;
  }

  /** Processed Evolution payloads hold message text: deleted after the retention, once per cluster. */
  async prune(now = new Date()): Promise<{ payloads: number; earlyStatuses: number }> {
    const before = new Date(now.getTime() - this.infra.config.whatsappWebhookRetentionMs);
    const evolution = this.infra.systemDb.select({ id: integrationConnections.id }).from(integrationConnections).where(eq(integrationConnections.provider, 'evolution'));
    const payloads = await this.infra.systemDb
      .delete(integrationWebhookEvents)
      .where(and(isNotNull(integrationWebhookEvents.processedAt), lt(integrationWebhookEvents.processedAt, before), inArray(integrationWebhookEvents.connectionId, evolution)))
      .returning({ id: integrationWebhookEvents.id });
    // A status whose message never came.
    const early = await this.infra.systemDb.delete(whatsappEarlyStatuses).where(lt(whatsappEarlyStatuses.receivedAt, before)).returning({ id: whatsappEarlyStatuses.numberId });
    return { payloads: payloads.length, earlyStatuses: early.length };
  }

  jobs(): AnyJobDef[] {
    return [
      defineJob({
        name: 'whatsapp.webhooks.prune',
        queue: 'maintenance',
        everyMs: PRUNE_EVERY_MS,
        handler: async (_data, job) => {
          job.log.info(await this.prune(), 'whatsapp webhook payloads pruned');
        },
      }),
    ];
  }
}

declare module '../../infra/queue.js' {
  interface JobMap {
    'whatsapp.webhooks.prune': Record<string, never>;
  }
}
