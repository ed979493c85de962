import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Request, Response } from 'express';
import type { CacheStats } from './cache.js';
import type { OutboxStats } from './outbox.js';
import type { QueueDepth } from './queue.js';

export interface MetricSources {
  cacheStats: () => CacheStats;
  dbPoolMax: () => number;
  socketConnections: () => number;
  queueDepth: () => Promise<QueueDepth>;
  outboxStats: () => Promise<OutboxStats>;
  /** Failed delivery attempts in this process. */
  outboxFailures: () => number;
  /** Google Calendar links: failed syncs and last sync per connection, links by status. */
  calendarSync?: () => Promise<CalendarSyncStats>;
}

export interface CalendarSyncStats {
  connections: { connection: string; errors: number; lastSyncAt: Date | null }[];
  byStatus: Record<string, number>;
}

export class Metrics {
  readonly registry = new Registry();
  private readonly duration: Histogram<'method' | 'route' | 'status'>;
  private readonly errors: Counter<'method' | 'route' | 'status'>;

  constructor(sources: MetricSources) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.duration = new Histogram({
      name: 'http_request_duration_seconds',
      help: 'HTTP request duration by route template',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.errors = new Counter({
      name: 'http_errors_total',
      help: 'HTTP answers with status >= 400 (4xx and 5xx)',
      labelNames: ['method', 'route', 'status'],
      registers,
    });
    new Gauge({
      name: 'cache_hits_total',
      help: 'Cache hits since start',
      registers,
      collect() {
        this.set(sources.cacheStats().hits);
      },
    });
    new Gauge({
      name: 'cache_misses_total',
      help: 'Cache misses since start',
      registers,
      collect() {
        this.set(sources.cacheStats().misses);
      },
    });
    new Gauge({
      name: 'db_pool_max_connections',
      help: 'Size of the database connection pool',
      registers,
      collect() {
        this.set(sources.dbPoolMax());
      },
    });
    new Gauge({
      name: 'websocket_connections',
      help: 'Open Socket.IO connections on this instance',
      registers,
      collect() {
        this.set(sources.socketConnections());
      },
    });
    new Gauge({
      name: 'queue_jobs',
      help: 'Jobs in the queue by state',
      labelNames: ['state'],
      registers,
      async collect() {
        try {
          const depth = await sources.queueDepth();
          for (const [state, n] of Object.entries(depth)) this.set({ state }, n);
        } catch {
          // Queue unreachable: readiness reports it; metrics stay available.
        }
      },
    });
    // One query per scrape feeds both outbox gauges.
    let scrape: Promise<OutboxStats> | undefined;
    const outboxStats = () =>
      (scrape ??= sources.outboxStats().finally(() => {
        scrape = undefined;
      }));
    new Gauge({
      name: 'outbox_lag_seconds',
      help: 'Age of the oldest domain event a subscriber has not received yet',
      registers,
      async collect() {
        try {
          this.set((await outboxStats()).lagSeconds);
        } catch {
          // Database unreachable: readiness reports it.
        }
      },
    });
    new Gauge({
      name: 'outbox_deliveries',
      help: 'Event deliveries to subscribers by state (pending, failing: pending after a failure, dead: every attempt failed)',
      labelNames: ['state'],
      registers,
      async collect() {
        try {
          const { pending, failing, dead } = await outboxStats();
          this.set({ state: 'pending' }, pending);
          this.set({ state: 'failing' }, failing);
          this.set({ state: 'dead' }, dead);
        } catch {
          // Database unreachable: readiness reports it.
        }
      },
    });
    if (sources.calendarSync) this.calendarGauges(sources.calendarSync, registers);
    new Gauge({
      name: 'outbox_delivery_failures_total',
      help: 'Failed event delivery attempts on this instance since start',
      registers,
      collect() {
        this.set(sources.outboxFailures());
      },
    });
  }

  /** One database read per scrape feeds the three Google Calendar gauges. */
  private calendarGauges(read: () => Promise<CalendarSyncStats>, registers: Registry[]) {
    let scrape: Promise<CalendarSyncStats> | undefined;
    const stats = () =>
      (scrape ??= read().finally(() => {
        scrape = undefined;
      }));
    const gauge = (name: string, help: string, labelNames: string[], fill: (g: Gauge<string>, s: CalendarSyncStats) => void) =>
      new Gauge({
        name,
        help,
        labelNames,
        registers,
        async collect() {
          try {
            const s = await stats();
            this.reset();
            fill(this, s);
          } catch {
            // Database unreachable: readiness reports it.
          }
        },
      });
    gauge('google_calendar_sync_errors', 'Failed Google Calendar syncs per connection since it was linked', ['connection'], (g, s) => {
      for (const c of s.connections) g.set({ connection: c.connection }, c.errors);
    });
    gauge('google_calendar_last_sync_timestamp_seconds', 'Last successful Google Calendar sync per connection', ['connection'], (g, s) => {
      for (const c of s.connections) if (c.lastSyncAt) g.set({ connection: c.connection }, c.lastSyncAt.getTime() / 1000);
    });
    gauge('google_calendar_connections', 'Google Calendar links by status', ['status'], (g, s) => {
      for (const [status, n] of Object.entries(s.byStatus)) g.set({ status }, n);
    });
  }

  /** Records an answer under its route template (`/api/contacts/:id`), never the raw path. */
  readonly observe = (req: Request, res: Response, seconds: number): void => {
    const template = typeof res.locals.routeTemplate === 'string' ? res.locals.routeTemplate : req.route?.path ? `${req.baseUrl}${String(req.route.path)}` : 'unmatched';
    const labels = { method: req.method, route: template, status: String(res.statusCode) };
    this.duration.observe(labels, seconds);
    if (res.statusCode >= 400) this.errors.inc(labels);
  };
}
