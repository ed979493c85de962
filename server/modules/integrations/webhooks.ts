import { and, asc, eq, inArray, isNull, lt, sql } from 'drizzle-orm';
import { integrationConnections, integrationWebhookEvents } from '../../../shared/schema/index.js';
import { ClinicData } from '../../infra/clinic-data.js';
import { rowsOf, type Tx } from '../../infra/db.js';
import type { Infra } from '../../infra/index.js';
import { errorForLog } from '../../infra/logger.js';
import { groupBy } from '../../lib/group-by.js';
import { defineJob, type AnyJobDef, type JobContext } from '../../infra/queue.js';
import type { WebhookContext } from '../../http/route.js';
import type { Providers } from '../module.js';
import type { IntegrationService } from './service.js';

declare module '../../infra/queue.js' {
  interface JobMap {
    /** The job's clinic: its stored deliveries not processed yet, oldest first, in batches. */
    'integrations.webhooks.drain': Record<string, never>;
    /** Once per cluster: a clinic whose deliveries wait unprocessed (a lost signal, a crash) gets a drain. */
    'integrations.webhooks.sweep': Record<string, never>;
  }
}

export type WebhookEvent = typeof integrationWebhookEvents.$inferSelect;

/**
 * Marks these deliveries processed inside the processor's own transaction, so its writes and the
 * marks commit together; answers the ids this run took (another run's writes stand for the rest).
 * It takes the clinic's drain lock first: two runs never interleave their writes.
 */
export type SettleDeliveries = (tx: Tx, ids: readonly string[]) => Promise<Set<string>>;

/**
 * What a provider does with a batch of its stored deliveries, oldest first, inside the drain job;
 * must be safe to run twice. Deliveries it does not settle are marked processed after it returns.
 */
export type WebhookProcessor = (events: WebhookEvent[], job: JobContext, settle: SettleDeliveries) => Promise<void>;

export interface Delivery {
  /** The sender's id for this delivery (signed `webhook-id`, message id...). */
  externalId: string;
  type: string;
  payload: unknown;
}

type WaitingAck = { row: { connectionId: string; externalId: string; type: string; payload: unknown }; resolve: (duplicate: boolean) => void; reject: (err: unknown) => void };

/** Deliveries per processor call (one transaction's worth), and per acknowledgement insert. */
export const DRAIN_BATCH = 200;
/** A process asks for a clinic's drain at most once per this many ms: deliveries in between ride along. */
const DRAIN_SIGNAL_MS = 5;
/** Runs of one delivery alone that may fail before it is left aside (logged as an error). */
export const WEBHOOK_MAX_ATTEMPTS = 5;
/** The sweep drains clinics with a delivery older than this still unprocessed. */
const SWEEP_AFTER_MS = 5_000;
const SWEEP_EVERY_MS = 10_000;

/**
 * Inbound webhooks are stored and answered (one insert, shared by concurrent deliveries), then worked on by the clinic's drain job
 * in the `webhooks` queue, many deliveries per transaction. A redelivery of the same external id
 * is a no-op (unique per connection). The drain is signalled per clinic, not per delivery; the
 * sweep finds what a lost signal left.
 */
export class WebhookInbox {
  /** Deliveries waiting for their clinic's next insert (the running one holds the lane). */
  private readonly acks = new Map<string, WaitingAck[]>();
  /** Clinics whose drain this process is about to ask for. */
  private readonly signals = new Set<string>();
  /** Clinics this process drains now, and whether it was asked again meanwhile. */
  private readonly draining = new Map<string, { again: boolean }>();

  constructor(
    private readonly infra: Pick<Infra, 'db' | 'systemDb' | 'queue' | 'log'>,
    private readonly integrations: IntegrationService,
    private readonly providers: Pick<Providers, 'webhookProcessors'>,
  ) {}

  /**
   * Stores the delivery; `duplicate` when its external id was stored before. Concurrent deliveries
   * of a clinic share one multi-row insert (group commit): while one insert runs, the next ones
   * wait for it and go together, so a burst costs a few statements, not one per delivery.
   */
  async receive(ctx: WebhookContext, delivery: Delivery): Promise<{ duplicate: boolean }> {
    const row = { connectionId: ctx.connection.id, externalId: delivery.externalId, type: delivery.type, payload: delivery.payload ?? {} };
    const duplicate = await new Promise<boolean>((resolve, reject) => {
      let lane = this.acks.get(ctx.clinicId);
      if (!lane) {
        lane = [];
        this.acks.set(ctx.clinicId, lane);
        setImmediate(() => void this.store(ctx.clinicId, lane!));
      }
      lane.push({ row, resolve, reject });
    });
    // A duplicate too: its first copy may wait for a drain that was never asked for.
    this.signal(ctx.clinicId, ctx.requestId);
    return { duplicate };
  }

  /** Inserts what waits in the clinic's lane, a batch at a time, until it is empty. */
  private async store(clinicId: string, lane: WaitingAck[]) {
    while (lane.length > 0) {
      const batch = lane.splice(0, DRAIN_BATCH);
      try {
        this.answer(batch, await this.insert(clinicId, batch));
      } catch (err) {
        if (batch.length === 1) batch[0]!.reject(err);
        // A row the database refuses must not fail the others: each alone.
        else for (const ack of batch) await this.insert(clinicId, [ack]).then((fresh) => this.answer([ack], fresh), ack.reject);
      }
    }
    this.acks.delete(clinicId);
  }

  /**
   * One statement of fixed text for any batch: the rows travel as one jsonb parameter (drizzle's
   * values() would build rows x columns parameters, and stringify each payload again, per insert).
   */
  private async insert(clinicId: string, batch: WaitingAck[]): Promise<Set<string>> {
    const json = JSON.stringify(batch.map(({ row }) => ({ connection_id: row.connectionId, external_id: row.externalId, type: row.type, payload: row.payload })));
    const rows = rowsOf<{ connectionId: string; externalId: string }>(
      await this.infra.db.execute(sql`
        insert into integration_webhook_events (clinic_id, connection_id, external_id, type, payload)
        select ${clinicId}::uuid, r.connection_id, r.external_id, r.type, r.payload
        from jsonb_to_recordset(${json}::jsonb) as r(connection_id uuid, external_id text, type text, payload jsonb)
        on conflict (connection_id, external_id) do nothing
        returning connection_id as "connectionId", external_id as "externalId"`),
    );
    return new Set(rows.map((r) => `${r.connectionId}:${r.externalId}`));
  }

  /** The first of a key the insert stored is new; the others (stored before, or twice in the batch) are duplicates. */
  private answer(batch: WaitingAck[], fresh: Set<string>) {
    for (const ack of batch) ack.resolve(!fresh.delete(`${ack.row.connectionId}:${ack.row.externalId}`));
  }

  /**
   * Asks for the clinic's drain a few ms from now, once for every delivery stored meanwhile. Not
   * awaited by the answer: what was stored is never lost (the sweep finds it if the queue is down).
   */
  private signal(clinicId: string, requestId: string | null) {
    if (this.signals.has(clinicId)) return;
    this.signals.add(clinicId);
    setTimeout(() => {
      this.signals.delete(clinicId);
      this.infra.queue.add('integrations.webhooks.drain', {}, { context: { clinicId, requestId } }).catch((err: unknown) => {
        this.infra.log.warn({ err: errorForLog(err), clinicId }, 'webhook drain not signalled; the sweep will find the deliveries');
      });
    }, DRAIN_SIGNAL_MS).unref();
  }

  /** Processes the clinic's waiting deliveries until none is left; a second call while one runs in this process makes it look again. */
  async drain(clinicId: string, job: JobContext): Promise<void> {
    const running = this.draining.get(clinicId);
    if (running) {
      running.again = true;
      return;
    }
    const state = { again: true };
    this.draining.set(clinicId, state);
    try {
      while (state.again) {
        state.again = false;
        while ((await this.drainBatch(clinicId, job)) === DRAIN_BATCH);
      }
    } finally {
      this.draining.delete(clinicId);
    }
  }

  /** One batch, oldest first, handed to each provider's processor; answers how many deliveries it took. */
  private async drainBatch(clinicId: string, job: JobContext): Promise<number> {
    const clinic = new ClinicData(clinicId, this.infra.db);
    const rows = await clinic
      .pick({ event: integrationWebhookEvents, provider: integrationConnections.provider, status: integrationConnections.status }, integrationWebhookEvents, isNull(integrationWebhookEvents.processedAt), lt(integrationWebhookEvents.attempts, WEBHOOK_MAX_ATTEMPTS))
      .innerJoin(integrationConnections, clinic.owns(integrationConnections, eq(integrationConnections.id, integrationWebhookEvents.connectionId)))
      .orderBy(asc(integrationWebhookEvents.receivedAt), asc(integrationWebhookEvents.id))
      .limit(DRAIN_BATCH);
    // A verified delivery proves the connection works (marked before its deliveries count as processed).
    const idle = new Set(rows.filter((r) => r.status !== 'active').map((r) => r.event.connectionId));
    for (const connectionId of idle) await this.integrations.setStatus(clinicId, connectionId, 'active');
    let failed = false;
    for (const [provider, group] of groupBy(rows, (r) => r.provider)) {
      const events = group.map((r) => r.event);
      try {
        await this.process(clinic, provider, events, job);
      } catch (err) {
        // One bad delivery must not hold back the others: each alone, a failing one counted.
        for (const event of events) {
          await (events.length === 1 ? Promise.reject(err) : this.process(clinic, provider, [event], job)).catch((e: unknown) => {
            failed = true;
            return this.recordFailure(clinic, event, e, job);
          });
        }
      }
    }
    // After a failure the next signal (or the sweep) tries again, not this loop at once.
    return failed ? 0 : rows.length;
  }

  private async process(clinic: ClinicData, provider: string, events: WebhookEvent[], job: JobContext) {
    const settled = new Set<string>();
    const settle: SettleDeliveries = async (tx, ids) => {
      await tx.execute(sql`select pg_advisory_xact_lock(hashtextextended(${`webhook-drain:${clinic.clinicId}`}, 0))`);
      if (ids.length === 0) return new Set();
      const rows = await new ClinicData(clinic.clinicId, tx)
        .update(integrationWebhookEvents, { processedAt: new Date() }, inArray(integrationWebhookEvents.id, [...ids]), isNull(integrationWebhookEvents.processedAt))
        .returning({ id: integrationWebhookEvents.id });
      for (const id of ids) settled.add(id);
      return new Set(rows.map((r) => r.id));
    };
    const processor = this.providers.webhookProcessors.get(provider);
    if (processor) await processor(events, job, settle);
    // What the processor did not settle in its own transaction (all of them for a provider without one).
    const rest = events.filter((e) => !settled.has(e.id)).map((e) => e.id);
    if (rest.length > 0) await clinic.update(integrationWebhookEvents, { processedAt: new Date() }, inArray(integrationWebhookEvents.id, rest), isNull(integrationWebhookEvents.processedAt));
    job.log.info({ provider, deliveries: events.length }, 'webhooks processed');
  }

  private async recordFailure(clinic: ClinicData, event: WebhookEvent, err: unknown, job: JobContext) {
    const attempts = event.attempts + 1;
    const message = (err instanceof Error ? err.message : String(err)).slice(0, 500);
    await clinic.update(integrationWebhookEvents, { attempts: sql`${integrationWebhookEvents.attempts} + 1`, lastError: message }, eq(integrationWebhookEvents.id, event.id));
    const dead = attempts >= WEBHOOK_MAX_ATTEMPTS;
    job.log[dead ? 'error' : 'warn']({ err: errorForLog(err), deliveryId: event.id, type: event.type, attempt: attempts }, dead ? 'webhook delivery failed for good' : 'webhook delivery failed; the next drain retries it');
  }

  /** Clinics with a delivery waiting longer than a signal takes: a drain each. */
  private async sweep() {
    const waiting = await this.infra.systemDb
      .selectDistinct({ clinicId: integrationWebhookEvents.clinicId })
      .from(integrationWebhookEvents)
      .where(and(isNull(integrationWebhookEvents.processedAt), lt(integrationWebhookEvents.attempts, WEBHOOK_MAX_ATTEMPTS), lt(integrationWebhookEvents.receivedAt, new Date(Date.now() - SWEEP_AFTER_MS))));
    for (const { clinicId } of waiting) await this.infra.queue.add('integrations.webhooks.drain', {}, { context: { clinicId } });
  }

  jobs(): AnyJobDef[] {
    return [
      defineJob({
        name: 'integrations.webhooks.drain',
        queue: 'webhooks',
        handler: async (_data, job) => {
          if (!job.clinicId) throw new Error('webhook drain without a clinic');
          await this.drain(job.clinicId, job);
        },
      }),
      defineJob({ name: 'integrations.webhooks.sweep', queue: 'maintenance', everyMs: SWEEP_EVERY_MS, handler: () => this.sweep() }),
    ];
  }
}
