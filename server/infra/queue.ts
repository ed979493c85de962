import { Queue as BullQueue, DelayedError, Worker, type Job } from 'bullmq';
import { AppError } from '../http/errors.js';
import type { Logger } from './logger.js';
import { createBullConnection, type Redis } from './redis.js';

/**
 * Job name -> payload type. Each module adds its jobs by augmenting this interface
 * (`declare module '../../infra/queue.js' { interface JobMap { 'mail.send': MailJob } }`), so
 * `queue.add` checks the payload against the name. Payloads carry ids, never secrets or health data.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface JobMap {}

export type JobName<M = JobMap> = keyof M & string;

/** Named queues: each has its own workers, so slow AI calls cannot starve mail. */
export type QueueName = 'default' | 'mail' | 'maintenance' | 'whatsapp' | 'ai' | 'webhooks' | 'calendar';

export interface QueueSettings {
  concurrency: number;
  attempts: number;
  /** At most `max` jobs started per `durationMs`, across the cluster on BullMQ. */
  limiter?: RateLimit;
  /** The same, per key of a job that names one (`rateLimitKey`): one WhatsApp number cannot use the whole queue's pace. */
  perKey?: RateLimit;
}

export interface RateLimit {
  max: number;
  durationMs: number;
}

export const QUEUES: Record<QueueName, QueueSettings> = {
  default: { concurrency: 4, attempts: 5 },
  mail: { concurrency: 2, attempts: 5, limiter: { max: 20, durationMs: 1000 } },
  maintenance: { concurrency: 1, attempts: 3 },
  // Slots filled by the WhatsApp, AI, webhook and Google Calendar features.
  whatsapp: { concurrency: 4, attempts: 5, limiter: { max: 20, durationMs: 1000 }, perKey: { max: 20, durationMs: 60_000 } },
  ai: { concurrency: 2, attempts: 3 },
  webhooks: { concurrency: 4, attempts: 8 },
  calendar: { concurrency: 2, attempts: 5, limiter: { max: 10, durationMs: 1000 } },
};

/** Who asked for the job: recorded when it is added, handed back to its handler. */
export interface JobMeta {
  clinicId: string | null;
  requestId: string | null;
}

/** What a handler receives besides its payload: the context rebuilt from the job's metadata. */
export interface JobContext extends JobMeta {
  jobId: string;
  attempt: number;
  /** Child logger carrying the job name, id, clinic and the request id that enqueued it. */
  log: Logger;
}

export interface JobDef<M, N extends JobName<M>> {
  name: N;
  queue: QueueName;
  handler: (data: M[N], job: JobContext) => Promise<void>;
  /** Overrides the queue's attempts. */
  attempts?: number;
  /** Repeatable job: runs every N ms, once per cluster. */
  everyMs?: number;
  /** Key of the queue's `perKey` rate limit (the sending WhatsApp number); a job over it waits, without using an attempt. */
  rateLimitKey?: (data: M[N]) => string;
}

export type AnyJobDef<M = JobMap> = { [N in JobName<M>]: JobDef<M, N> }[JobName<M>];

/** Types a job definition against the job map. */
export const defineJob = <N extends JobName>(def: JobDef<JobMap, N>): AnyJobDef => def as unknown as AnyJobDef;

export interface JobOptions {
  /** Same id, same job: adding it twice runs it once. */
  jobId?: string;
  delayMs?: number;
  /** The clinic and request behind the job (a request's context fits). */
  context?: { clinicId?: string | null; requestId?: string | null };
}

export interface FailedJob {
  id: string;
  name: string;
  clinicId: string | null;
  attempts: number;
  error: string;
  failedAt: string | null;
}

export interface QueueDepth {
  waiting: number;
  active: number;
  delayed: number;
  failed: number;
}

export interface Queue<M = JobMap> {
  readonly kind: 'memory' | 'bullmq';
  add<N extends JobName<M>>(name: N, data: M[N], opts?: JobOptions): Promise<void>;
  /** Registers the handlers (every job name exactly once) and starts working. */
  start(jobs: readonly AnyJobDef<M>[]): Promise<void>;
  depth(): Promise<QueueDepth>;
  failed(clinicId: string): Promise<FailedJob[]>;
  ping(): Promise<number>;
  /** Stops taking jobs and waits for the running ones. */
  close(): Promise<void>;
}

export interface QueueOptions {
  log: Logger;
  backoffMs?: number;
  /** Per-queue overrides (tests). */
  queues?: Partial<Record<QueueName, QueueSettings>>;
}

const KEEP_COMPLETED = 1000;
const KEEP_FAILED = 5000;

/** What is stored: the payload and, beside it, who asked. */
interface Envelope {
  payload: unknown;
  meta: JobMeta;
}

interface RegisteredJob {
  name: string;
  queue: QueueName;
  attempts: number;
  everyMs?: number;
  rateLimitKey?: (data: unknown) => string;
  handler: (data: unknown, job: JobContext) => Promise<void>;
}

/** Every job name has exactly one handler, or the process does not boot. */
function registry(jobs: readonly AnyJobDef<never>[], settings: (q: QueueName) => QueueSettings): Map<string, RegisteredJob> {
  const map = new Map<string, RegisteredJob>();
  for (const job of jobs as unknown as JobDef<Record<string, unknown>, string>[]) {
    if (map.has(job.name)) throw new Error(`Job "${job.name}" is registered twice`);
    if (typeof job.handler !== 'function') throw new Error(`Job "${job.name}" has no handler`);
    if (!(job.queue in QUEUES)) throw new Error(`Job "${job.name}" names an unknown queue "${job.queue}"`);
    map.set(job.name, { ...job, attempts: job.attempts ?? settings(job.queue).attempts } as RegisteredJob);
  }
  return map;
}

function registered(jobs: Map<string, RegisteredJob> | undefined, name: string): RegisteredJob {
  if (!jobs) throw new Error('The queue is not started');
  const def = jobs.get(name);
  if (!def) throw new Error(`Unknown job "${name}": register it in its module's jobs`);
  return def;
}

const envelope = (data: unknown, opts: JobOptions): Envelope => ({
  payload: data,
  meta: { clinicId: opts.context?.clinicId ?? null, requestId: opts.context?.requestId ?? null },
});

/** Jobs added before envelopes existed carried the clinic at the top of their data. */
const unwrap = (stored: unknown): Envelope => {
  const value = (stored ?? {}) as Partial<Envelope> & { clinicId?: unknown };
  if (value.meta && 'payload' in value) return value as Envelope;
  return { payload: value, meta: { clinicId: typeof value.clinicId === 'string' ? value.clinicId : null, requestId: null } };
};

function jobContext(log: Logger, name: string, jobId: string, attempt: number, meta: JobMeta): JobContext {
  return { ...meta, jobId, attempt, log: log.child({ job: name, jobId, clinicId: meta.clinicId, requestId: meta.requestId }) };
}

export function createQueue(opts: QueueOptions & { redisUrl?: string; prefix: string }): Queue {
  return opts.redisUrl ? new BullMqQueue(opts, opts.redisUrl, opts.prefix) : new MemoryQueue(opts);
}

interface MemoryJob extends Envelope {
  id: string;
  def: RegisteredJob;
  attempt: number;
  error?: string;
  failedAt?: Date;
}

/** One named queue in memory: ready jobs, running count and the start times inside the limiter's window. */
interface Lane {
  settings: QueueSettings;
  ready: MemoryJob[];
  active: number;
  starts: number[];
  timer?: NodeJS.Timeout;
}

/** In-process queue with BullMQ's semantics: named queues with concurrency and rate limit, retries with exponential backoff, bounded retention. */
export class MemoryQueue<M = JobMap> implements Queue<M> {
  readonly kind = 'memory';
  private jobs?: Map<string, RegisteredJob>;
  private readonly lanes = new Map<QueueName, Lane>();
  private readonly known = new Set<string>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly running = new Set<Promise<void>>();
  private readonly failedJobs: MemoryJob[] = [];
  private readonly keyStarts = new Map<string, number[]>();
  private delayed = 0;
  private closed = false;
  private seq = 0;

  constructor(private readonly opts: QueueOptions) {}

  private settings = (queue: QueueName) => this.opts.queues?.[queue] ?? QUEUES[queue];

  async add<N extends JobName<M>>(name: N, data: M[N], opts: JobOptions = {}) {
    const def = registered(this.jobs, name);
    const id = opts.jobId ?? `${name}:${++this.seq}`;
    if (this.known.has(id)) return;
    this.known.add(id);
    if (this.known.size > KEEP_COMPLETED * 10) this.known.delete(this.known.values().next().value as string);
    this.schedule({ id, def, ...envelope(data, opts), attempt: 0 }, opts.delayMs ?? 0);
  }

  private schedule(job: MemoryJob, delayMs: number) {
    if (this.closed) return;
    if (delayMs <= 0) return this.enqueue(job);
    this.delayed++;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.delayed--;
      this.enqueue(job);
    }, delayMs);
    this.timers.add(timer);
  }

  private lane(queue: QueueName): Lane {
    let lane = this.lanes.get(queue);
    if (!lane) {
      lane = { settings: this.settings(queue), ready: [], active: 0, starts: [] };
      this.lanes.set(queue, lane);
    }
    return lane;
  }

  private enqueue(job: MemoryJob) {
    const lane = this.lane(job.def.queue);
    lane.ready.push(job);
    this.pump(lane);
  }

  /** Starts ready jobs while the lane has a free worker and the limiter allows; otherwise waits for the window to move. */
  private pump(lane: Lane) {
    while (!this.closed && lane.active < lane.settings.concurrency && lane.ready.length > 0) {
      const limiter = lane.settings.limiter;
      if (limiter) {
        const now = Date.now();
        while (lane.starts.length > 0 && (lane.starts[0] as number) <= now - limiter.durationMs) lane.starts.shift();
        if (lane.starts.length >= limiter.max) {
          if (!lane.timer) {
            const timer = setTimeout(() => {
              this.timers.delete(timer);
              lane.timer = undefined;
              this.pump(lane);
            }, (lane.starts[0] as number) + limiter.durationMs - now);
            lane.timer = timer;
            this.timers.add(timer);
          }
          return;
        }
        lane.starts.push(now);
      }
      const job = lane.ready.shift() as MemoryJob;
      lane.active++;
      const run = this.run(job).finally(() => {
        this.running.delete(run);
        lane.active--;
        this.pump(lane);
      });
      this.running.add(run);
    }
  }

  /** Ms until the job's key has room in its window; 0 (and counted) when it may start now. */
  private keyWait(job: MemoryJob): number {
    const limit = this.settings(job.def.queue).perKey;
    if (!limit || !job.def.rateLimitKey) return 0;
    const key = `${job.def.queue}:${job.def.rateLimitKey(job.payload)}`;
    const now = Date.now();
    const starts = (this.keyStarts.get(key) ?? []).filter((t) => t > now - limit.durationMs);
    this.keyStarts.set(key, starts);
    if (starts.length >= limit.max) return (starts[0] as number) + limit.durationMs - now;
    starts.push(now);
    return 0;
  }

  private async run(job: MemoryJob) {
    const wait = this.keyWait(job);
    if (wait > 0) return this.schedule(job, wait);
    job.attempt++;
    const ctx = jobContext(this.opts.log, job.def.name, job.id, job.attempt, job.meta);
    try {
      await job.def.handler(job.payload, ctx);
    } catch (err) {
      if (job.attempt < job.def.attempts && !this.closed) {
        this.schedule(job, (this.opts.backoffMs ?? 1000) * 2 ** (job.attempt - 1));
      } else {
        job.error = (err as Error).message;
        job.failedAt = new Date();
        this.failedJobs.push(job);
        if (this.failedJobs.length > KEEP_FAILED) this.failedJobs.shift();
        ctx.log.error({ err: { message: job.error } }, 'job failed for good');
      }
    }
  }

  async start(jobs: readonly AnyJobDef<M>[]) {
    if (this.jobs) throw new Error('The queue is already started');
    this.jobs = registry(jobs as unknown as readonly AnyJobDef<never>[], this.settings);
    for (const def of this.jobs.values()) {
      if (!def.everyMs) continue;
      const timer = setInterval(() => void this.add(def.name as JobName<M>, {} as M[JobName<M>], { jobId: `${def.name}:${Date.now()}` }), def.everyMs);
      timer.unref();
      this.timers.add(timer);
    }
  }

  async depth(): Promise<QueueDepth> {
    let waiting = 0;
    let active = 0;
    for (const lane of this.lanes.values()) {
      waiting += lane.ready.length;
      active += lane.active;
    }
    return { waiting, active, delayed: this.delayed, failed: this.failedJobs.length };
  }

  async failed(clinicId: string): Promise<FailedJob[]> {
    return this.failedJobs
      .filter((j) => j.meta.clinicId === clinicId)
      .map((j) => ({ id: j.id, name: j.def.name, clinicId, attempts: j.attempt, error: j.error ?? '', failedAt: j.failedAt?.toISOString() ?? null }));
  }

  async ping() {
    return 0;
  }

  async close() {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    await Promise.allSettled([...this.running]);
  }
}

// `default` keeps the name of the single queue of earlier versions: jobs and schedulers left there are still seen.
const bullName = (queue: QueueName) => (queue === 'default' ? 'operabase' : `operabase-${queue}`);

/** INCR a window counter (expiring with the window); over the limit, answer the window's remaining ms. */
const KEY_WINDOW = `
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
if n > tonumber(ARGV[1]) then
  local ttl = redis.call('PTTL', KEYS[1])
  if ttl < 1 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return tonumber(ARGV[2]) end
  return ttl
end
return 0`;

// BullMQ refuses custom ids that contain ':' or are integers; escaped, every id the memory queue takes works here too.
const toBullId = (id: string) => `id.${id.replace(/%/g, '%25').replace(/:/g, '%3A')}`;
const fromBullId = (id: string) => (id.startsWith('id.') ? decodeURIComponent(id.slice(3)) : id);

/** BullMQ on Redis: one BullMQ queue and worker per named queue; jobs survive restarts and repeatable jobs run once per cluster. */
export class BullMqQueue<M = JobMap> implements Queue<M> {
  readonly kind = 'bullmq';
  private jobs?: Map<string, RegisteredJob>;
  private readonly connection: Redis;
  private readonly queues = new Map<QueueName, BullQueue>();
  private readonly workers: Worker[] = [];
  private readonly workerConnections: Redis[] = [];

  constructor(
    private readonly opts: QueueOptions,
    private readonly url: string,
    private readonly prefix: string,
  ) {
    this.connection = createBullConnection(url, 'queue', { failFast: true });
    this.connection.on('error', () => {});
  }

  private settings = (queue: QueueName) => this.opts.queues?.[queue] ?? QUEUES[queue];

  private bullQueue(queue: QueueName): BullQueue {
    let q = this.queues.get(queue);
    if (!q) {
      q = new BullQueue(bullName(queue), {
        connection: this.connection,
        prefix: `${this.prefix}bull`,
        defaultJobOptions: {
          backoff: { type: 'exponential', delay: this.opts.backoffMs ?? 1000 },
          removeOnComplete: { count: KEEP_COMPLETED, age: 24 * 3600 },
          removeOnFail: { count: KEEP_FAILED, age: 14 * 24 * 3600 },
        },
      });
      q.on('error', (err) => this.opts.log.warn({ queue, err: { message: err.message } }, 'queue error'));
      this.queues.set(queue, q);
    }
    return q;
  }

  async add<N extends JobName<M>>(name: N, data: M[N], opts: JobOptions = {}) {
    const def = registered(this.jobs, name);
    const jobId = opts.jobId === undefined ? undefined : toBullId(opts.jobId);
    try {
      await this.bullQueue(def.queue).add(name, envelope(data, opts), { jobId, delay: opts.delayMs, attempts: def.attempts });
    } catch (err) {
      if (this.connection.status === 'ready') throw err;
      this.opts.log.warn({ job: name, err: { message: (err as Error).message } }, 'queue unavailable, job not added');
      throw new AppError(503, 'queue_unavailable', 'The service is briefly unavailable; try again in a moment', undefined, { 'Retry-After': '5' });
    }
  }

  async start(jobs: readonly AnyJobDef<M>[]) {
    if (this.jobs) throw new Error('The queue is already started');
    const registeredJobs = registry(jobs as unknown as readonly AnyJobDef<never>[], this.settings);
    this.jobs = registeredJobs;
    const used = new Set<QueueName>(['default', ...[...registeredJobs.values()].map((d) => d.queue)]);
    for (const queue of used) {
      const bull = this.bullQueue(queue);
      // Schedulers left in Redis by an older version for a job that no longer repeats here are removed.
      for (const scheduler of await bull.getJobSchedulers()) {
        const def = scheduler.name ? registeredJobs.get(scheduler.name) : undefined;
        if ((!def?.everyMs || def.queue !== queue) && scheduler.key) await bull.removeJobScheduler(scheduler.key);
      }
      for (const def of registeredJobs.values()) {
        if (def.everyMs && def.queue === queue) await bull.upsertJobScheduler(def.name, { every: def.everyMs }, { name: def.name, data: envelope({}, {}) });
      }
      this.startWorker(queue, registeredJobs);
    }
  }

  private startWorker(queue: QueueName, jobs: Map<string, RegisteredJob>) {
    const settings = this.settings(queue);
    const connection = createBullConnection(this.url, `worker-${queue}`);
    connection.on('error', () => {});
    this.workerConnections.push(connection);
    const worker = new Worker(
      bullName(queue),
      async (job: Job, token?: string) => {
        const def = jobs.get(job.name);
        if (!def) throw new Error(`No handler for job "${job.name}"`);
        const { payload, meta } = unwrap(job.data);
        if (settings.perKey && def.rateLimitKey) {
          const wait = await this.keyWait(`${queue}:${def.rateLimitKey(payload)}`, settings.perKey);
          if (wait > 0) {
            // Back to delayed without using an attempt (BullMQ's manual rate-limit pattern).
            await job.moveToDelayed(Date.now() + wait, token);
            throw new DelayedError();
          }
        }
        await def.handler(payload, jobContext(this.opts.log, def.name, fromBullId(job.id ?? ''), job.attemptsMade + 1, meta));
      },
      {
        connection,
        prefix: `${this.prefix}bull`,
        concurrency: settings.concurrency,
        ...(settings.limiter ? { limiter: { max: settings.limiter.max, duration: settings.limiter.durationMs } } : {}),
      },
    );
    worker.on('error', (err) => this.opts.log.warn({ queue, err: { message: err.message } }, 'worker error'));
    worker.on('failed', (job, err) => {
      if (job && job.attemptsMade >= (job.opts.attempts ?? 1)) {
        const { meta } = unwrap(job.data);
        this.opts.log.error({ job: job.name, jobId: job.id, clinicId: meta.clinicId, requestId: meta.requestId, err: { message: err.message } }, 'job failed for good');
      }
    });
    this.workers.push(worker);
  }

  /** A fixed window per key in Redis, shared by the cluster: ms until the key has room, or 0 (and counted). */
  private async keyWait(key: string, limit: RateLimit): Promise<number> {
    const ttl = (await this.connection.eval(KEY_WINDOW, 1, `${this.prefix}ratekey:${key}`, limit.max, limit.durationMs)) as number;
    return ttl === 0 ? 0 : Math.max(ttl, 10);
  }

  async depth(): Promise<QueueDepth> {
    const total: QueueDepth = { waiting: 0, active: 0, delayed: 0, failed: 0 };
    for (const q of this.queues.values()) {
      const c = await q.getJobCounts('waiting', 'active', 'delayed', 'failed');
      total.waiting += c.waiting ?? 0;
      total.active += c.active ?? 0;
      total.delayed += c.delayed ?? 0;
      total.failed += c.failed ?? 0;
    }
    return total;
  }

  async failed(clinicId: string): Promise<FailedJob[]> {
    const lists = await Promise.all([...this.queues.values()].map((q) => q.getFailed(0, 999)));
    return lists
      .flat()
      .filter((j) => unwrap(j.data).meta.clinicId === clinicId)
      .map((j) => ({
        id: fromBullId(j.id ?? ''),
        name: j.name,
        clinicId,
        attempts: j.attemptsMade,
        error: j.failedReason,
        failedAt: j.finishedOn ? new Date(j.finishedOn).toISOString() : null,
      }));
  }

  async ping() {
    const t0 = performance.now();
    await this.connection.ping();
    return Math.round((performance.now() - t0) * 100) / 100;
  }

  async close() {
    await Promise.all(this.workers.map((w) => w.close()));
    await Promise.all([...this.queues.values()].map((q) => q.close()));
    for (const c of this.workerConnections) c.disconnect();
    this.connection.disconnect();
  }
}
