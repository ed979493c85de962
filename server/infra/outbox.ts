import { sql, type SQL } from 'drizzle-orm';
import { EVENT_AGGREGATES, type AnyDeliveredEvent, type DeliveredEvent, type DomainEventName, type DomainEvents } from '../../shared/api/domain-events.js';
import { rowsOf, type Database, type Db, type Tx } from './db.js';
import { errorForLog, type Logger } from './logger.js';

/** Who caused the event; a TenantContext fits as it is. */
export interface EventMeta {
  clinicId: string;
  actor?: { type: 'user'; userId: string } | { type: 'api_key'; apiKeyId: string } | { type: 'system'; service: string } | null;
  requestId?: string | null;
}

/**
 * A reaction to domain events. Delivery is at least once and in order per aggregate: `handle`
 * must be idempotent (the event id is stable across retries). A throw is retried with backoff
 * for this subscriber alone.
 */
export interface Subscriber<N extends DomainEventName = DomainEventName> {
  /** Stable: it names the subscriber's delivery rows in the database. */
  name: string;
  events: readonly N[];
  handle(event: AnyDeliveredEvent<N>): Promise<void> | void;
  /**
   * Several events of one claim at once (at most one per aggregate), so a subscriber can read what
   * they need in one query rather than one per event. A throw hands each event to `handle` alone.
   */
  handleBatch?(events: AnyDeliveredEvent<N>[]): Promise<void>;
}

export interface OutboxOptions {
  /** Prefix of subscriber names in the database; tests give each app its own, like the queue prefix. */
  scope?: string;
  /** First retry delay; doubles per attempt up to MAX_BACKOFF_MS. */
  backoffMs?: number;
  /** Attempts before a delivery is marked failed (dead) and stops holding back its aggregate. */
  maxAttempts?: number;
  /** How long a claim lasts: a relay killed mid-delivery gives its events back after this. */
  leaseMs?: number;
  /** A handler still running after this counts as failed (and is retried), so a hung call cannot stall its subscriber; below leaseMs. */
  timeoutMs?: number;
  /** Backstop poll: events of other instances, expired leases and retries are found at least this often. */
  pollMs?: number;
  batchSize?: number;
}

export interface OutboxStats {
  /** Deliveries still to make (dead ones excluded). */
  pending: number;
  /** Pending deliveries that failed at least once and wait for a retry. */
  failing: number;
  /** Deliveries that failed every attempt. */
  dead: number;
  /** Age of the oldest pending event, seconds (0 when nothing is pending). */
  lagSeconds: number;
}

const MAX_BACKOFF_MS = 10 * 60_000;

/** An event to publish: a name and its payload. */
export type PendingEvent = { [N in DomainEventName]: { name: N; payload: DomainEvents[N] } }[DomainEventName];

interface Registered {
  stored: string;
  subscriber: Subscriber;
  running?: Promise<void>;
  again: boolean;
  retry?: NodeJS.Timeout;
}

interface ClaimedRow extends Record<string, unknown> {
  id: string;
  name: DomainEventName;
  clinic_id: string;
  aggregate_type: string;
  aggregate_id: string;
  payload: unknown;
  actor: string | null;
  request_id: string | null;
  created_at: Date | string;
  attempts: number;
  /** Its aggregate has a later event for this subscriber, due once this one is delivered. */
  has_next: boolean;
}

const actorOf = (meta: EventMeta) => {
  const a = meta.actor;
  if (!a) return null;
  return a.type === 'user' ? `user:${a.userId}` : a.type === 'api_key' ? `api_key:${a.apiKeyId}` : `system:${a.service}`;
};
const textList = (names: readonly string[]): SQL => sql`array[${sql.join(names.map((n) => sql`${n}`), sql`, `)}]::text[]`;

/**
 * The transactional outbox: `publish` records an event in the caller's transaction; the relay
 * delivers committed events to each subscriber on its own (its own rows, retries and backoff).
 * Instances relay together: a claim takes due rows with FOR UPDATE SKIP LOCKED and leases them,
 * and only the oldest undelivered event of an aggregate is ever due, which keeps the order.
 */
export class Outbox {
  private readonly registered = new Map<string, Registered>();
  private readonly targets = new Map<DomainEventName, string[]>();
  /** Transactions that published, and to whom: their commit wakes those subscribers at once. */
  private readonly published = new WeakMap<Tx, Set<string>>();
  private readonly scope: string;
  private readonly backoffMs: number;
  private readonly maxAttempts: number;
  private readonly leaseMs: number;
  private readonly timeoutMs: number;
  private readonly pollMs: number;
  private readonly batchSize: number;
  private started = false;
  private poller?: NodeJS.Timeout;
  private stopListening?: () => void;
  /** Failed delivery attempts in this process (a Prometheus counter reads it). */
  failures = 0;

  constructor(
    private readonly database: Database,
    private readonly log: Logger,
    opts: OutboxOptions = {},
  ) {
    this.scope = opts.scope ?? '';
    this.backoffMs = opts.backoffMs ?? 1000;
    this.maxAttempts = opts.maxAttempts ?? 12;
    this.leaseMs = opts.leaseMs ?? 60_000;
    this.timeoutMs = opts.timeoutMs ?? Math.floor(this.leaseMs / 2);
    this.pollMs = opts.pollMs ?? 1000;
    this.batchSize = opts.batchSize ?? 500;
  }

  private get db(): Db {
    return this.database.db;
  }

  subscribe<N extends DomainEventName>(subscriber: Subscriber<N>): void {
    if (this.started) throw new Error(`Subscriber "${subscriber.name}" registered after the relay started`);
    const stored = this.scope + subscriber.name;
    if (this.registered.has(stored)) throw new Error(`Subscriber "${subscriber.name}" is registered twice`);
    this.registered.set(stored, { stored, subscriber: subscriber as unknown as Subscriber, again: false });
    for (const name of new Set(subscriber.events)) this.targets.set(name, [...(this.targets.get(name) ?? []), stored]);
  }

  /** Records the event in `tx` (one statement), with a delivery row for each subscriber of it. */
  publish<N extends DomainEventName>(tx: Tx, name: N, payload: DomainEvents[N], meta: EventMeta): Promise<void> {
    return this.publishMany(tx, [{ name, payload } as PendingEvent], meta);
  }

  /**
   * Records several events of one cause in `tx`, in this order, with their delivery rows: one
   * statement however many there are (a stored message and its conversation's change).
   */
  async publishMany(tx: Tx, events: readonly PendingEvent[], meta: EventMeta): Promise<void> {
    if (events.length === 0) return;
    const rows = events.map(({ name, payload }) => {
      const aggregate = EVENT_AGGREGATES[name] as { type: string; id: (p: unknown) => string };
      const aggregateId = aggregate.id(payload);
      return { name, type: aggregate.type, aggregateId, payload, targets: this.targets.get(name) ?? [] };
    });
    // Multi-row VALUES take their ids in order: the order of events per aggregate holds.
    const values = sql.join(
      rows.map((r) => sql`(${meta.clinicId}, ${r.name}, ${r.type}, ${r.aggregateId}, ${JSON.stringify(r.payload)}::jsonb, ${actorOf(meta)}, ${meta.requestId ?? null}, clock_timestamp())`),
      sql`, `,
    );
    const insert = sql`insert into outbox (clinic_id, name, aggregate_type, aggregate_id, payload, actor, request_id, created_at) values ${values} returning id, name, aggregate_type, aggregate_id`;
    // Each (event name, subscriber) once: the join gives every event of that name its row.
    const pairs = [...new Set(rows.map((r) => r.name))].flatMap((name) => (this.targets.get(name) ?? []).map((t) => sql`(${name}, ${t})`));
    if (pairs.length === 0) {
      await tx.execute(insert);
      return;
    }
    await tx.execute(sql`with e as (${insert})
      insert into outbox_deliveries (subscriber, event_id, aggregate)
      select t.subscriber, e.id, ${meta.clinicId} || ':' || e.aggregate_type || ':' || e.aggregate_id
      from e join (values ${sql.join(pairs, sql`, `)}) as t(name, subscriber) on t.name = e.name`);
    const woken = this.published.get(tx) ?? new Set<string>();
    for (const r of rows) for (const t of r.targets) woken.add(t);
    this.published.set(tx, woken);
  }

  /** Starts relaying: at once after each commit that published, and every `pollMs` as a backstop. */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.stopListening = this.database.onCommit((tx) => {
      const woken = this.published.get(tx);
      if (!woken) return;
      this.published.delete(tx);
      for (const stored of woken) this.wake(this.registered.get(stored));
    });
    this.poller = setInterval(() => this.wakeAll(), this.pollMs);
    this.poller.unref();
    this.wakeAll();
  }

  /**
   * Stops taking events and waits for the deliveries in progress, at most `waitMs`: what is still
   * running then is delivered again by another instance when its lease runs out.
   */
  async stop(waitMs = 5000): Promise<void> {
    this.started = false;
    clearInterval(this.poller);
    this.stopListening?.();
    for (const r of this.registered.values()) clearTimeout(r.retry);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all([...this.registered.values()].map((r) => r.running)),
      new Promise((resolve) => {
        timer = setTimeout(resolve, waitMs);
      }),
    ]);
    clearTimeout(timer);
  }

  /** Delivers everything due now and resolves when no delivery is running (tests, benchmarks). */
  async flush(): Promise<void> {
    do {
      this.wakeAll();
      await Promise.all([...this.registered.values()].map((r) => r.running));
    } while ([...this.registered.values()].some((r) => r.running !== undefined));
  }

  private wakeAll() {
    for (const r of this.registered.values()) this.wake(r);
  }

  private wake(r: Registered | undefined) {
    if (!r || !this.started) return;
    if (r.running) {
      r.again = true;
      return;
    }
    r.running = this.relay(r).finally(() => {
      r.running = undefined;
    });
  }

  /**
   * Claims and delivers batches while some may be due: a full batch, an aggregate with a later
   * event, or a wake meanwhile (a commit, a retry). Not after every batch: that second claim,
   * nearly always empty, was a third of the clinic day's claims (docs/reliability.md).
   */
  private async relay(r: Registered) {
    try {
      do {
        r.again = false;
        if (await this.deliverBatch(r)) r.again = true;
      } while (r.again && this.started);
    } catch (err) {
      // The database is unreachable or the process is closing: the next poll tries again.
      this.log.error({ err: errorForLog(err), subscriber: r.subscriber.name }, 'outbox relay failed');
    }
  }

  /** Claims and delivers one batch; answers whether more may be due at once. */
  private async deliverBatch(r: Registered): Promise<boolean> {
    const claimed = rowsOf<ClaimedRow>(
      await this.db.execute(sql`
        with claimed as (
          update outbox_deliveries d
          set locked_until = now() + ${sql.raw(`interval '${this.leaseMs} milliseconds'`)}, attempts = d.attempts + 1
          from (
            select c.event_id from outbox_deliveries c
            where c.subscriber = ${r.stored} and c.failed_at is null and c.next_attempt_at <= now()
              and (c.locked_until is null or c.locked_until < now())
              and not exists (
                select 1 from outbox_deliveries p
                where p.subscriber = c.subscriber and p.aggregate = c.aggregate and p.event_id < c.event_id and p.failed_at is null)
            order by c.event_id
            limit ${sql.raw(String(this.batchSize))}
            for update skip locked) due
          where d.subscriber = ${r.stored} and d.event_id = due.event_id
          returning d.event_id, d.attempts, exists (
            select 1 from outbox_deliveries n
            where n.subscriber = d.subscriber and n.aggregate = d.aggregate and n.event_id > d.event_id and n.failed_at is null) as has_next)
        select o.id::text as id, o.name, o.clinic_id, o.aggregate_type, o.aggregate_id, o.payload, o.actor, o.request_id, o.created_at, claimed.attempts, claimed.has_next
        from claimed join outbox o on o.id = claimed.event_id
        order by o.id`),
    );
    if (claimed.length === 0) return false;
    // One event per aggregate at most (only heads are due), so they may run side by side.
    const results = await this.handleAll(r, claimed);
    const delivered: string[] = [];
    const failed: { row: ClaimedRow; err: unknown }[] = [];
    results.forEach((res, i) => {
      const row = claimed[i] as ClaimedRow;
      if (res.status === 'fulfilled') delivered.push(row.id);
      else failed.push({ row, err: res.reason });
    });
    if (delivered.length > 0) {
      await this.db.execute(sql`delete from outbox_deliveries where subscriber = ${r.stored} and event_id = any(${`{${delivered.join(',')}}`}::bigint[])`);
    }
    for (const { row, err } of failed) await this.recordFailure(r, row, err);
    return claimed.length === this.batchSize || claimed.some((row) => row.has_next);
  }

  /** The batch handler when the subscriber has one (each event alone if it throws), else each event side by side. */
  private async handleAll(r: Registered, claimed: ClaimedRow[]): Promise<PromiseSettledResult<void>[]> {
    const batch = r.subscriber.handleBatch?.bind(r.subscriber);
    if (batch && claimed.length > 1) {
      try {
        await this.timed(() => batch(claimed.map(toEvent) as never));
        return claimed.map(() => ({ status: 'fulfilled', value: undefined }));
      } catch (err) {
        this.log.warn({ err: errorForLog(err), subscriber: r.subscriber.name, events: claimed.length }, 'event batch failed; delivering its events one by one');
      }
    }
    return Promise.allSettled(claimed.map((row) => this.timed(async () => r.subscriber.handle(toEvent(row) as never))));
  }

  private async timed(run: () => Promise<void>): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        run(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`handler timed out after ${this.timeoutMs} ms`)), this.timeoutMs);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  private async recordFailure(r: Registered, row: ClaimedRow, err: unknown) {
    this.failures += 1;
    const attempts = Number(row.attempts);
    const delay = Math.min(this.backoffMs * 2 ** (attempts - 1), MAX_BACKOFF_MS);
    const dead = attempts >= this.maxAttempts;
    const message = (err instanceof Error ? err.message : String(err)).slice(0, 500);
    await this.db.execute(sql`
      update outbox_deliveries
      set locked_until = null, last_error = ${message},
        next_attempt_at = now() + ${delay} * interval '1 millisecond',
        failed_at = ${dead ? sql`now()` : sql`null`}
      where subscriber = ${r.stored} and event_id = ${row.id}::bigint`);
    this.log[dead ? 'error' : 'warn'](
      { err: errorForLog(err), subscriber: r.subscriber.name, eventId: row.id, event: row.name, attempt: attempts, clinicId: row.clinic_id },
      dead ? 'event delivery failed for good' : 'event delivery failed; will retry',
    );
    if (!dead) {
      clearTimeout(r.retry);
      r.retry = setTimeout(() => this.wake(r), delay);
      r.retry.unref();
    }
  }

  /** Pending, failing and dead deliveries of this process's subscribers, and the oldest pending event's age. */
  async stats(): Promise<OutboxStats> {
    const names = [...this.registered.keys()];
    if (names.length === 0) return { pending: 0, failing: 0, dead: 0, lagSeconds: 0 };
    const [row] = rowsOf<{ pending: number; failing: number; dead: number; lag: number | string | null }>(
      await this.db.execute(sql`
        select count(*) filter (where d.failed_at is null)::int as pending,
          count(*) filter (where d.failed_at is null and d.last_error is not null)::int as failing,
          count(*) filter (where d.failed_at is not null)::int as dead,
          extract(epoch from clock_timestamp() - min(o.created_at) filter (where d.failed_at is null))::float8 as lag
        from outbox_deliveries d join outbox o on o.id = d.event_id
        where d.subscriber = any(${textList(names)})`),
    );
    return { pending: Number(row?.pending ?? 0), failing: Number(row?.failing ?? 0), dead: Number(row?.dead ?? 0), lagSeconds: Math.max(0, Number(row?.lag ?? 0)) };
  }

  /** Deletes events older than `olderThanMs` that no subscriber still waits for (dead deliveries go with them). */
  async prune(olderThanMs: number): Promise<number> {
    let removed = 0;
    for (;;) {
      const rows = rowsOf<{ id: string }>(
        await this.db.execute(sql`
          delete from outbox where id in (
            select o.id from outbox o
            where o.created_at < now() - ${olderThanMs} * interval '1 millisecond'
              and not exists (select 1 from outbox_deliveries d where d.event_id = o.id and d.failed_at is null)
            limit 5000)
          returning id`),
      );
      removed += rows.length;
      if (rows.length < 5000) return removed;
    }
  }
}

function toEvent(row: ClaimedRow): DeliveredEvent {
  return {
    id: Number(row.id),
    name: row.name,
    clinicId: row.clinic_id,
    aggregateType: row.aggregate_type,
    aggregateId: row.aggregate_id,
    payload: (typeof row.payload === 'string' ? JSON.parse(row.payload) : row.payload) as DomainEvents[DomainEventName],
    actor: row.actor,
    requestId: row.request_id,
    createdAt: new Date(row.created_at),
    attempt: Number(row.attempts),
  };
}
