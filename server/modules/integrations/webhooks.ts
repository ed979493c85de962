import { and, eq, isNull, lt } from 'drizzle-orm';
import { integrationConnections, integrationWebhookEvents } from '../../../shared/schema/index.js';
import { ClinicData } from '../../infra/clinic-data.js';
import type { Tx } from '../../infra/db.js';
import type { Infra } from '../../infra/index.js';
import { defineJob, type AnyJobDef, type JobContext } from '../../infra/queue.js';
import { AppError } from '../../lib/errors.js';
import type { WebhookContext } from '../../http/route.js';
import type { Providers } from '../module.js';
import type { IntegrationService } from './service.js';

declare module '../../infra/queue.js' {
  interface JobMap {
    /** Ids only: the payload stays in integration_webhook_events. */
    'integrations.webhook': { eventId: string };
    'integrations.webhook_sweep': Record<string, never>;
  }
}

export type WebhookEvent = typeof integrationWebhookEvents.$inferSelect;

/**
 * Marks the delivery processed inside the processor's own transaction, so its writes and the mark
 * commit together; false when it already was (or another run just did it: that run's writes stand).
 * Waits for a run holding it to finish.
 */
export type SettleDelivery = (tx: Tx) => Promise<boolean>;

/** What a provider does with one stored delivery, inside the job; must be safe to run twice. It may settle the delivery itself. */
export type WebhookProcessor = (event: WebhookEvent, job: JobContext, settle: SettleDelivery) => Promise<void>;

export interface Delivery {
  /** The sender's id for this delivery (signed `webhook-id`, message id...). */
  externalId: string;
  type: string;
  payload: unknown;
}

/** Stored deliveries queued again per sweep, oldest first. */
const SWEEP_BATCH = 500;

/**
 * Inbound webhooks are stored, answered and then worked on in the `webhooks` queue. Stored is
 * enough for the 200: with the queue down (Redis) the delivery is still acknowledged, and the
 * sweep queues every stored delivery left unprocessed. A redelivery of the same external id is a
 * no-op (unique per connection); one whose job was lost is enqueued again, and the job id keeps it
 * to one run.
 */
export class WebhookInbox {
  constructor(
    private readonly infra: Pick<Infra, 'db' | 'systemDb' | 'queue' | 'log' | 'config'>,
    private readonly integrations: IntegrationService,
    private readonly providers: Pick<Providers, 'webhookProcessors'>,
  ) {}

  async receive(ctx: WebhookContext, delivery: Delivery): Promise<{ eventId: string; duplicate: boolean }> {
    const data = new ClinicData(ctx.clinicId, this.infra.db);
    const [inserted] = await data
      .insert(integrationWebhookEvents, { connectionId: ctx.connection.id, externalId: delivery.externalId, type: delivery.type, payload: delivery.payload ?? {} })
      .onConflictDoNothing()
      .returning({ id: integrationWebhookEvents.id });
    let event: { id: string; processedAt: Date | null } | undefined = inserted ? { id: inserted.id, processedAt: null } : undefined;
    if (!event) {
      [event] = await data.pick(
        { id: integrationWebhookEvents.id, processedAt: integrationWebhookEvents.processedAt },
        integrationWebhookEvents,
        eq(integrationWebhookEvents.connectionId, ctx.connection.id),
        eq(integrationWebhookEvents.externalId, delivery.externalId),
      );
      if (!event) throw new Error('webhook event vanished');
    }
    if (!event.processedAt) await this.enqueue(event.id, ctx.clinicId, ctx.requestId);
    return { eventId: event.id, duplicate: !inserted };
  }

  /** The delivery's job; with the queue down it stays stored, and the sweep queues it later. */
  private async enqueue(eventId: string, clinicId: string, requestId: string | null) {
    try {
      await this.infra.queue.add('integrations.webhook', { eventId }, { jobId: `webhook:${eventId}`, context: { clinicId, requestId } });
    } catch (err) {
      if (!(err instanceof AppError && err.code === 'queue_unavailable')) throw err;
      this.infra.log.warn({ eventId, clinicId }, 'webhook stored, queue unavailable: the sweep queues it');
    }
  }

  /** Queues the stored deliveries still unprocessed after a sweep period, across clinics (a repeatable job, once per cluster). */
  async sweep(): Promise<number> {
    const before = new Date(Date.now() - this.infra.config.inboundWebhookSweepEveryMs);
    const stale = await this.infra.systemDb
      .select({ id: integrationWebhookEvents.id, clinicId: integrationWebhookEvents.clinicId })
      .from(integrationWebhookEvents)
      .where(and(isNull(integrationWebhookEvents.processedAt), lt(integrationWebhookEvents.receivedAt, before)))
      .orderBy(integrationWebhookEvents.receivedAt)
      .limit(SWEEP_BATCH);
    for (const event of stale) await this.enqueue(event.id, event.clinicId, null);
    return stale.length;
  }

  jobs(): AnyJobDef[] {
    return [
      defineJob({
        name: 'integrations.webhook_sweep',
        queue: 'maintenance',
        everyMs: this.infra.config.inboundWebhookSweepEveryMs,
        handler: async (_data, job) => {
          const queued = await this.sweep();
          if (queued > 0) job.log.info({ queued }, 'stored webhooks queued again');
        },
      }),
      defineJob({
        name: 'integrations.webhook',
        queue: 'webhooks',
        handler: async (data, job) => {
          if (!job.clinicId) throw new Error('webhook job without a clinic');
          const clinic = new ClinicData(job.clinicId, this.infra.db);
          // The delivery and its connection in one query.
          const [found] = await clinic
            .pick({ event: integrationWebhookEvents, provider: integrationConnections.provider, status: integrationConnections.status }, integrationWebhookEvents, eq(integrationWebhookEvents.id, data.eventId))
            .innerJoin(integrationConnections, clinic.owns(integrationConnections, eq(integrationConnections.id, integrationWebhookEvents.connectionId)));
          if (!found || found.event.processedAt) return;
          const { event, provider, status } = found;
          const processor = this.providers.webhookProcessors.get(provider);
          let settled = false;
          const settle: SettleDelivery = async (tx) => {
            settled = true;
            const rows = await new ClinicData(event.clinicId, tx).update(integrationWebhookEvents, { processedAt: new Date() }, eq(integrationWebhookEvents.id, event.id), isNull(integrationWebhookEvents.processedAt)).returning({ id: integrationWebhookEvents.id });
            return rows.length > 0;
          };
          if (processor) await processor(event, job, settle);
          // Unless the processor settled it in its own transaction.
          if (!settled) await clinic.update(integrationWebhookEvents, { processedAt: new Date() }, eq(integrationWebhookEvents.id, event.id), isNull(integrationWebhookEvents.processedAt));
          // A verified delivery proves the connection works.
          if (status !== 'active') await this.integrations.setStatus(job.clinicId, event.connectionId, 'active');
          job.log.info({ provider, type: event.type }, 'webhook processed');
        },
      }),
    ];
  }
}
