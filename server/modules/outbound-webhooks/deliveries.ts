import { and, desc, eq, inArray, isNotNull, lt, ne, sql } from 'drizzle-orm';
import { WEBHOOK_TEST_EVENT } from '../../../shared/api/webhooks.js';
import { webhookDeliveries, type WebhookDeliveryStatus } from '../../../shared/schema/index.js';
import { ClinicData } from '../../infra/clinic-data.js';
import type { Infra } from '../../infra/index.js';
import type { TenantContext } from '../../http/context.js';
import { afterCursor, page } from '../../lib/cursor.js';
import { conflict, notFound } from '../../lib/errors.js';
import type { AuditService } from '../audit/service.js';
import { envelopeBody, messagesOf, type SourceEvent } from './catalog.js';
import type { SubscriptionService } from './subscriptions.js';

export interface DeliverJob {
  deliveryId: string;
  /** Attempts the delivery had when this job was queued: the claim refuses a stale or duplicate job. */
  attempt: number;
}

declare module '../../infra/queue.js' {
  interface JobMap {
    'webhooks.deliver': DeliverJob;
    'webhooks.sweep': Record<string, never>;
    'webhooks.prune': Record<string, never>;
  }
}

export type DeliveryRow = typeof webhookDeliveries.$inferSelect;

export function deliveryView(r: DeliveryRow) {
  return {
    id: r.id,
    subscriptionId: r.subscriptionId as string,
    eventType: r.eventType,
    status: r.status,
    attempts: r.attempts,
    nextAttemptAt: r.status === 'pending' ? r.nextAttemptAt.toISOString() : null,
    lastAttemptAt: r.lastAttemptAt?.toISOString() ?? null,
    responseStatus: r.responseStatus,
    responseBody: r.responseBody,
    durationMs: r.durationMs,
    lastError: r.lastError,
    deliveredAt: r.deliveredAt?.toISOString() ?? null,
    createdAt: r.createdAt.toISOString(),
  };
}

/** A job whose delivery is still pending this long after its time was lost (a crash): the sweep queues it again. */
const SWEEP_GRACE_MS = 5 * 60_000;
/** Rows deleted per statement by the retention job (short statements, no long lock on the table). */
const PRUNE_BATCH = 5000;

/** Delivery rows: one per (event, subscription), made from domain events; the log; replays and test events. */
export class DeliveryService {
  constructor(
    private readonly infra: Infra,
    private readonly audit: AuditService,
    private readonly subscriptions: SubscriptionService,
  ) {}

  private data(clinicId: string) {
    return new ClinicData(clinicId, this.infra.db);
  }

  /**
   * The subscriber: a row for every subscription listening to each message of the event (and for
   * the operator's N8N_WEBHOOK_URL), then a job per new row. Run twice, the unique index makes no
   * second row; a row whose job was lost is queued again by the sweep.
   */
  async fanOut(events: SourceEvent[]): Promise<void> {
    const operator = Boolean(this.infra.config.n8n.webhookUrl);
    // A claimed batch asks once per clinic and event type who listens (an ingest batch brings hundreds of events).
    const listening = new Map<string, Promise<string[]>>();
    const created: { clinicId: string; id: string }[] = [];
    for (const event of events) {
      for (const message of messagesOf(event)) {
        const key = `${event.clinicId}:${message.type}`;
        if (!listening.has(key)) listening.set(key, this.subscriptions.listening(event.clinicId, message.type).then((rows) => rows.map((s) => s.id)));
        const targets: (string | null)[] = [...(await listening.get(key)!)];
        if (operator) targets.push(null);
        if (targets.length === 0) continue;
        const body = envelopeBody(message.type, event.clinicId, event.createdAt, message.data);
        const rows = await this.data(event.clinicId)
          .insert(
            webhookDeliveries,
            targets.map((subscriptionId) => ({ subscriptionId, eventId: event.id, eventType: message.type, body })),
          )
          .onConflictDoNothing()
          .returning({ id: webhookDeliveries.id });
        created.push(...rows.map((r) => ({ clinicId: event.clinicId, id: r.id })));
      }
    }
    await Promise.all(created.map((c) => this.enqueue(c.clinicId, c.id, 0)));
  }

  enqueue(clinicId: string, deliveryId: string, attempt: number, delayMs = 0) {
    // No jobId: the claim in the database is what makes a second job for the same attempt a no-op.
    return this.infra.queue.add('webhooks.deliver', { deliveryId, attempt }, { delayMs, context: { clinicId } });
  }

  async list(clinicId: string, subscriptionId: string, q: { status?: WebhookDeliveryStatus; limit: number; cursor?: string }) {
    await this.subscriptions.row(clinicId, subscriptionId);
    const rows = await this.data(clinicId)
      .select(
        webhookDeliveries,
        eq(webhookDeliveries.subscriptionId, subscriptionId),
        q.status ? eq(webhookDeliveries.status, q.status) : undefined,
        afterCursor(webhookDeliveries.createdAt, webhookDeliveries.id, q.cursor),
      )
      .orderBy(desc(webhookDeliveries.createdAt), desc(webhookDeliveries.id))
      .limit(q.limit + 1);
    const { items, nextCursor } = page(rows, q.limit);
    return { items: items.map(deliveryView), nextCursor };
  }

  /** One of the clinic's deliveries; the operator's (no subscription) are not the clinic's to read. */
  async row(clinicId: string, id: string): Promise<DeliveryRow> {
    const [row] = await this.data(clinicId).select(webhookDeliveries, eq(webhookDeliveries.id, id), isNotNull(webhookDeliveries.subscriptionId));
    if (!row) throw notFound('Webhook delivery');
    return row;
  }

  async get(clinicId: string, id: string) {
    const row = await this.row(clinicId, id);
    return { ...deliveryView(row), body: row.body };
  }

  /**
   * The same message again, same `webhook-id` and body (Standard Webhooks: a replay is another
   * attempt of one message, so a receiver that deduplicates by id sees it once). A new run of
   * attempts: `attempts` counts from 0 again.
   */
  async replay(ctx: TenantContext, id: string) {
    const current = await this.row(ctx.clinicId, id);
    if (current.status === 'pending') throw conflict('delivery_pending', 'This delivery is still being attempted');
    const subscription = await this.subscriptions.row(ctx.clinicId, current.subscriptionId as string);
    if (!subscription.active) throw conflict('subscription_inactive', 'Switch the subscription on before replaying its deliveries');
    const row = await this.data(ctx.clinicId).transaction(async (data, tx) => {
      const [updated] = await data
        .update(webhookDeliveries, { status: 'pending', attempts: 0, nextAttemptAt: new Date(), deliveredAt: null }, eq(webhookDeliveries.id, id), eq(webhookDeliveries.status, current.status))
        .returning();
      if (!updated) throw conflict('delivery_pending', 'This delivery is still being attempted');
      await this.audit.record(ctx, { action: 'webhook_delivery.replayed', entityType: 'webhook_delivery', entityId: id, details: { subscriptionId: current.subscriptionId } }, tx);
      return updated;
    });
    await this.enqueue(ctx.clinicId, id, 0);
    return deliveryView(row);
  }

  /** A `webhook.test` message: one attempt, even to a switched-off subscription, and no effect on its state. */
  async sendTest(ctx: TenantContext, subscriptionId: string) {
    await this.subscriptions.row(ctx.clinicId, subscriptionId);
    const body = envelopeBody(WEBHOOK_TEST_EVENT, ctx.clinicId, new Date(), { subscriptionId });
    const [row] = await this.data(ctx.clinicId).insert(webhookDeliveries, { subscriptionId, eventType: WEBHOOK_TEST_EVENT, body }).returning();
    if (!row) throw new Error('insert returned nothing');
    await this.enqueue(ctx.clinicId, row.id, 0);
    return deliveryView(row);
  }

  /** Pending deliveries of every clinic whose time passed long ago: their job was lost; queued again. */
  async sweep(limit = 1000): Promise<number> {
    const stale = await this.infra.systemDb
      .select({ id: webhookDeliveries.id, clinicId: webhookDeliveries.clinicId, attempts: webhookDeliveries.attempts })
      .from(webhookDeliveries)
      .where(and(eq(webhookDeliveries.status, 'pending'), lt(webhookDeliveries.nextAttemptAt, sql`now() - make_interval(secs => ${SWEEP_GRACE_MS / 1000})`)))
      .limit(limit);
    await Promise.all(stale.map((d) => this.enqueue(d.clinicId, d.id, d.attempts)));
    return stale.length;
  }

  /**
   * The log's retention: finished deliveries (delivered or failed) of every clinic created more than
   * WEBHOOK_DELIVERY_RETENTION_DAYS ago are deleted; a pending one stays until it finishes.
   */
  async prune(now = new Date()): Promise<number> {
    const cutoff = new Date(now.getTime() - this.infra.config.webhooks.retentionMs);
    for (let removed = 0; ; ) {
      const old = this.infra.systemDb.select({ id: webhookDeliveries.id }).from(webhookDeliveries).where(and(lt(webhookDeliveries.createdAt, cutoff), ne(webhookDeliveries.status, 'pending'))).limit(PRUNE_BATCH);
      const gone = await this.infra.systemDb.delete(webhookDeliveries).where(inArray(webhookDeliveries.id, old)).returning({ id: webhookDeliveries.id });
      removed += gone.length;
      if (gone.length < PRUNE_BATCH) return removed;
    }
  }
}
