import type { Infra } from '../../infra/index.js';
import { defineJob } from '../../infra/queue.js';
import type { AuditService } from '../audit/service.js';
import { defineSubscriber, type Module } from '../module.js';
import { SOURCE_EVENTS, type SourceEvent } from './catalog.js';
import { DeliveryService } from './deliveries.js';
import { webhookRoutes } from './routes.js';
import { WebhookSender } from './sender.js';
import { SubscriptionService } from './subscriptions.js';

/** The delivery log's retention runs hourly, once per cluster (rows go in small batches). */
const PRUNE_EVERY_MS = 3600_000;

export interface OutboundWebhooks {
  subscriptions: SubscriptionService;
  deliveries: DeliveryService;
}

/** Outbound webhooks (N8N): subscriptions, the catalog made from domain events, signed deliveries with retries (docs/webhooks.md). */
export function outboundWebhooksModule(infra: Infra, deps: { audit: AuditService }): Module<{ webhooks: OutboundWebhooks }> {
  const subscriptions = new SubscriptionService(infra, deps.audit);
  const deliveries = new DeliveryService(infra, deps.audit, subscriptions);
  const sender = new WebhookSender(infra, subscriptions, deliveries);
  return {
    name: 'outbound-webhooks',
    services: { webhooks: { subscriptions, deliveries } },
    routes: webhookRoutes(subscriptions, deliveries),
    jobs: [
      // The job records its own outcome and queues the next attempt with the schedule's delay;
      // the queue's retries only cover a crash of the handler itself (the database away).
      defineJob({ name: 'webhooks.deliver', queue: 'webhooks', handler: (data, job) => sender.run(data, job) }),
      defineJob({
        name: 'webhooks.sweep',
        queue: 'maintenance',
        everyMs: infra.config.webhooks.sweepEveryMs,
        handler: async (_data, job) => {
          const requeued = await deliveries.sweep();
          if (requeued > 0) job.log.warn({ requeued }, 'webhook deliveries whose job was lost queued again');
        },
      }),
      defineJob({
        name: 'webhooks.prune',
        queue: 'maintenance',
        everyMs: PRUNE_EVERY_MS,
        handler: async (_data, job) => {
          const removed = await deliveries.prune();
          job.log.info({ removed }, 'old webhook deliveries removed');
        },
      }),
    ],
    subscribers: [
      defineSubscriber({ name: 'outbound-webhooks', events: [...SOURCE_EVENTS], handle: (event) => deliveries.fanOut([event as SourceEvent]), handleBatch: (events) => deliveries.fanOut(events as SourceEvent[]) }),
    ],
    metrics: Object.values(sender.metrics),
  };
}
