import { eq } from 'drizzle-orm';
import { Counter } from 'prom-client';
import { WEBHOOK_TEST_EVENT } from '../../../shared/api/webhooks.js';
import { memberships, users, webhookDeliveries } from '../../../shared/schema/index.js';
import { ClinicData } from '../../infra/clinic-data.js';
import type { Infra } from '../../infra/index.js';
import type { JobContext } from '../../infra/queue.js';
import { safeFetch, SafeFetchError } from '../../lib/safe-fetch.js';
import { enqueueMail } from '../platform/jobs.js';
import type { DeliverJob, DeliveryRow, DeliveryService } from './deliveries.js';
import { signedHeaders, type SigningKeys } from './signing.js';
import type { SubscriptionRow, SubscriptionService } from './subscriptions.js';

const RESPONSE_EXCERPT_BYTES = 1024;

type Outcome = 'delivered' | 'retry' | 'failed' | 'gone';

/** One attempt of one delivery, the `webhooks.deliver` job: sign, send, record, then retry, finish or switch the subscription off. */
export class WebhookSender {
  readonly metrics = {
    attempts: new Counter({ name: 'webhook_attempts_total', help: 'Outbound webhook attempts, by outcome (delivered, retry, failed, gone)', labelNames: ['outcome'], registers: [] }),
  };

  constructor(
    private readonly infra: Infra,
    private readonly subscriptions: SubscriptionService,
    private readonly deliveries: DeliveryService,
  ) {}

  private data(clinicId: string) {
    return new ClinicData(clinicId, this.infra.db);
  }

  async run(job: DeliverJob, ctx: JobContext): Promise<void> {
    if (!ctx.clinicId) return;
    const data = this.data(ctx.clinicId);
    // The claim: one attempt per job even when two jobs carry the same attempt (a sweep beside a
    // late retry), and a job for a finished delivery does nothing. Until the attempt is recorded,
    // `next_attempt_at` is a lease the sweep waits out.
    const lease = new Date(Date.now() + this.infra.config.webhooks.timeoutMs + 60_000);
    const [delivery] = await data
      .update(webhookDeliveries, { attempts: job.attempt + 1, lastAttemptAt: new Date(), nextAttemptAt: lease }, eq(webhookDeliveries.id, job.deliveryId), eq(webhookDeliveries.status, 'pending'), eq(webhookDeliveries.attempts, job.attempt))
      .returning();
    if (!delivery) return;
    const test = delivery.eventType === WEBHOOK_TEST_EVENT;
    const target = await this.target(delivery, test);
    if ('skip' in target) {
      await data.update(webhookDeliveries, { status: 'failed', lastError: target.skip, nextAttemptAt: new Date() }, eq(webhookDeliveries.id, delivery.id), eq(webhookDeliveries.status, 'pending'));
      return;
    }

    const result = await this.send(target.url, delivery, target.keys);
    const delays = this.infra.config.webhooks.retryScheduleMs;
    const ok = result.status !== null && result.status >= 200 && result.status < 300;
    const outcome: Outcome = ok ? 'delivered' : result.status === 410 && !test ? 'gone' : !test && job.attempt < delays.length ? 'retry' : 'failed';
    const delay = delays[job.attempt] ?? 0;
    const now = new Date();
    await data.update(
      webhookDeliveries,
      {
        status: outcome === 'delivered' ? 'delivered' : outcome === 'retry' ? 'pending' : 'failed',
        nextAttemptAt: outcome === 'retry' ? new Date(now.getTime() + delay) : now,
        deliveredAt: ok ? now : null,
        responseStatus: result.status,
        responseBody: result.body,
        durationMs: result.ms,
        lastError: ok ? null : result.error,
      },
      eq(webhookDeliveries.id, delivery.id),
    );
    this.metrics.attempts.inc({ outcome });
    ctx.log.info({ deliveryId: delivery.id, subscriptionId: delivery.subscriptionId, eventType: delivery.eventType, attempt: job.attempt + 1, status: result.status, ms: result.ms, outcome }, 'webhook attempt');
    if (outcome === 'retry') await this.deliveries.enqueue(ctx.clinicId, delivery.id, job.attempt + 1, delay);
    if (test || !delivery.subscriptionId) return;
    if (outcome === 'delivered' && target.failures > 0) await this.subscriptions.succeeded(ctx.clinicId, delivery.subscriptionId);
    const disabled =
      outcome === 'gone'
        ? await this.subscriptions.disable(ctx.clinicId, delivery.subscriptionId, 'gone')
        : outcome === 'failed'
          ? await this.subscriptions.failed(ctx.clinicId, delivery.subscriptionId)
          : undefined;
    if (disabled) await this.notifyAdmins(disabled, ctx);
  }

  /** Where the delivery goes and how it is signed, or why it goes nowhere. */
  private async target(delivery: DeliveryRow, test: boolean): Promise<{ url: string; keys: SigningKeys; failures: number } | { skip: string }> {
    if (!delivery.subscriptionId) {
      const { webhookUrl, webhookSecret } = this.infra.config.n8n;
      if (!webhookUrl || !webhookSecret) return { skip: 'operator_webhook_not_configured' };
      return { url: webhookUrl, keys: { secrets: [webhookSecret], authMode: 'standard', clinicId: delivery.clinicId }, failures: 0 };
    }
    const target = await this.subscriptions.target(delivery.clinicId, delivery.subscriptionId);
    if (!target) return { skip: 'subscription_deleted' };
    const { row } = target;
    if (!row.active && !test) return { skip: 'subscription_disabled' };
    return { url: row.url, keys: this.subscriptions.keys(target), failures: row.consecutiveFailures };
  }

  private async send(url: string, delivery: DeliveryRow, keys: SigningKeys) {
    const headers = await signedHeaders(delivery.id, delivery.body, new Date(), keys);
    const t0 = performance.now();
    try {
      const res = await safeFetch(url, {
        method: 'POST',
        body: delivery.body,
        headers,
        anyStatus: true,
        maxBytes: RESPONSE_EXCERPT_BYTES,
        timeoutMs: this.infra.config.webhooks.timeoutMs,
        allowHosts: this.infra.config.outboundAllowHosts,
      });
      const ms = Math.round(performance.now() - t0);
      // Postgres text holds no NUL; a cut multi-byte character decodes as U+FFFD.
      const body = res.body.toString('utf8').replaceAll('\u0000', '');
      return { status: res.status, body, ms, error: `HTTP ${res.status}` };
    } catch (err) {
      if (!(err instanceof SafeFetchError)) throw err;
      return { status: null, body: null, ms: Math.round(performance.now() - t0), error: `${err.code}: ${err.message}` };
    }
  }

  /** A mail to each active admin: the host and description only (a webhook path can be a secret of its own). */
  private async notifyAdmins(subscription: SubscriptionRow, ctx: JobContext) {
    const admins = await this.data(subscription.clinicId)
      .pick({ email: users.email }, memberships, eq(memberships.role, 'admin'), eq(memberships.active, true))
      .innerJoin(users, eq(users.id, memberships.userId));
    const host = new URL(subscription.url).host;
    const why =
      subscription.disabledReason === 'gone'
        ? 'o destino respondeu 410 (Gone), que pede o fim das entregas'
        : `${this.infra.config.webhooks.disableAfterFailures} entregas seguidas falharam depois de todas as tentativas`;
    const text = [
      `O webhook para ${host}${subscription.description ? ` (${subscription.description})` : ''} foi desativado: ${why}.`,
      'Nenhum evento será enviado até que um administrador o reative em Integrações > Webhooks, depois de corrigir o destino.',
      'As entregas que falharam podem ser reenviadas pelo histórico de entregas.',
    ].join('\n\n');
    for (const admin of admins) await enqueueMail(this.infra, { to: admin.email, subject: 'Webhook desativado', text }, { clinicId: subscription.clinicId, requestId: ctx.requestId });
    ctx.log.warn({ subscriptionId: subscription.id, reason: subscription.disabledReason, notified: admins.length }, 'webhook subscription disabled');
  }
}
