import { Queue as BullQueue, Worker, type Job } from 'bullmq';
import type { Logger } from './logger.js';
import { createBullConnection, type Redis } from './redis.js';

export interface JobMeta {
  jobId: string;
  attempt: number;
}

export interface JobDef<D = Record<string, unknown>> {
  name: string;
  handler: (data: D, meta: JobMeta) => Promise<void>;
  attempts?: number;
  /** Repeatable job: runs every N ms, once per cluster. */
  everyMs?: number;
}

export interface JobOptions {
  /** Same id, same job: adding it twice runs it once. */
  jobId?: string;
  delayMs?: number;
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

export interface Queue {
  readonly kind: 'memory' | 'bullmq';
  add(name: string, data: Record<string, unknown>, opts?: JobOptions): Promise<void>;
  /** Registers the handlers (every job name exactly once) and starts working. */
  start(jobs: readonly JobDef<never>[]): Promise<void>;
  depth(): Promise<QueueDepth>;
  failed(clinicId: string): Promise<FailedJob[]>;
  ping(): Promise<number>;
  /** Stops taking jobs and waits for the running ones. */
  close(): Promise<void>;
}

export interface QueueOptions {
  log: Logger;
  backoffMs?: number;
}

const DEFAULT_ATTEMPTS = 5;
const KEEP_COMPLETED = 1000;
const KEEP_FAILED = 5000;

/** Every job name has exactly one handler, or the process does not boot. */
function registry(jobs: readonly JobDef<never>[]): Map<string, JobDef<Record<string, unknown>>> {
  const map = new Map<string, JobDef<Record<string, unknown>>>();
  for (const job of jobs) {
    if (map.has(job.name)) throw new Error(`Job "${job.name}" is registered twice`);
    if (typeof job.handler !== 'function') throw new Error(`Job "${job.name}" has no handler`);
    map.set(job.name, job as unknown as JobDef<Record<string, unknown>>);
  }
  return map;
}

function checkName(jobs: Map<string, unknown> | undefined, name: string) {
  if (!jobs) throw new Error('The queue is not started');
  if (!jobs.has(name)) throw new Error(`Unknown job "${name}": register it in its module's jobs`);
}

const clinicOf = (data: unknown) => {
  const id = (data as { clinicId?: unknown } | undefined)?.clinicId;
  return typeof id === 'string' ? id : null;
};

export function createQueue(opts: QueueOptions & { redisUrl?: string; prefix: string }): Queue {
  return opts.redisUrl ? new BullMqQueue(opts, opts.redisUrl, opts.prefix) : new MemoryQueue(opts);
}

interface MemoryJob {
  id: string;
  name: string;
  data: Record<string, unknown>;
  attempt: number;
  error?: string;
  failedAt?: Date;
}

/** In-process queue with the same semantics as BullMQ's: retries with exponential backoff, bounded retention. */
export class MemoryQueue implements Queue {
  readonly kind = 'memory';
  private jobs?: Map<string, JobDef<Record<string, unknown>>>;
  private readonly known = new Set<string>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly running = new Set<Promise<void>>();
  private readonly failedJobs: MemoryJob[] = [];
  private waiting = 0;
  private delayed = 0;
  private closed = false;
  private seq = 0;

  constructor(private readonly opts: QueueOptions) {}

  async add(name: string, data: Record<string, unknown>, opts: JobOptions = {}) {
    checkName(this.jobs, name);
    const id = opts.jobId ?? `${name}:${++this.seq}`;
    if (this.known.has(id)) return;
    this.known.add(id);
    if (this.known.size > KEEP_COMPLETED * 10) this.known.delete(this.known.values().next().value as string);
    this.schedule({ id, name, data, attempt: 0 }, opts.delayMs ?? 0);
  }

  private schedule(job: MemoryJob, delayMs: number) {
    if (this.closed) return;
    if (delayMs > 0) this.delayed++;
    else this.waiting++;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (delayMs > 0) this.delayed--;
      else this.waiting--;
      const run = this.run(job).finally(() => this.running.delete(run));
      this.running.add(run);
    }, delayMs);
    this.timers.add(timer);
  }

  private async run(job: MemoryJob) {
    const def = this.jobs?.get(job.name);
    if (!def) return;
    job.attempt++;
    try {
      await def.handler(job.data, { jobId: job.id, attempt: job.attempt });
    } catch (err) {
      const attempts = def.attempts ?? DEFAULT_ATTEMPTS;
      if (job.attempt < attempts && !this.closed) {
        this.schedule(job, (this.opts.backoffMs ?? 1000) * 2 ** (job.attempt - 1));
      } else {
        job.error = (err as Error).message;
        job.failedAt = new Date();
        this.failedJobs.push(job);
        if (this.failedJobs.length > KEEP_FAILED) this.failedJobs.shift();
        this.opts.log.error({ job: job.name, jobId: job.id, err: { message: job.error } }, 'job failed for good');
      }
    }
  }

  async start(jobs: readonly JobDef<never>[]) {
    if (this.jobs) throw new Error('The queue is already started');
    this.jobs = registry(jobs);
    for (const def of this.jobs.values()) {
      if (!def.everyMs) continue;
      const timer = setInterval(() => void this.add(def.name, {}, { jobId: `${def.name}:${Date.now()}` }), def.everyMs);
      timer.unref();
      this.timers.add(timer);
    }
  }

  async depth(): Promise<QueueDepth> {
    return { waiting: this.waiting, active: this.running.size, delayed: this.delayed, failed: this.failedJobs.length };
  }

  async failed(clinicId: string): Promise<FailedJob[]> {
    return this.failedJobs
      .filter((j) => clinicOf(j.data) === clinicId)
      .map((j) => ({ id: j.id, name: j.name, clinicId, attempts: j.attempt, error: j.error ?? '', failedAt: j.failedAt?.toISOString() ?? null }));
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

const QUEUE_NAME = 'operabase';

// BullMQ refuses custom ids that contain ':' or are integers; escaped, every id the memory queue takes works here too.
const toBullId = (id: string) => `id.${id.replace(/%/g, '%25').replace(/:/g, '%3A')}`;
const fromBullId = (id: string) => (id.startsWith('id.') ? decodeURIComponent(id.slice(3)) : id);

/** BullMQ on Redis: jobs survive restarts and repeatable jobs run once per cluster. */
export class BullMqQueue implements Queue {
  readonly kind = 'bullmq';
  private jobs?: Map<string, JobDef<Record<string, unknown>>>;
  private readonly connection: Redis;
  private readonly queue: BullQueue;
  private worker?: Worker;
  private workerConnection?: Redis;

  constructor(
    private readonly opts: QueueOptions,
    private readonly url: string,
    private readonly prefix: string,
  ) {
    this.connection = createBullConnection(url, 'queue');
    this.connection.on('error', () => {});
    this.queue = new BullQueue(QUEUE_NAME, {
      connection: this.connection,
      prefix: `${prefix}bull`,
      defaultJobOptions: {
        attempts: DEFAULT_ATTEMPTS,
        backoff: { type: 'exponential', delay: opts.backoffMs ?? 1000 },
        removeOnComplete: { count: KEEP_COMPLETED, age: 24 * 3600 },
        removeOnFail: { count: KEEP_FAILED, age: 14 * 24 * 3600 },
      },
    });
    this.queue.on('error', (err) => opts.log.warn({ err: { message: err.message } }, 'queue error'));
  }

  async add(name: string, data: Record<string, unknown>, opts: JobOptions = {}) {
    checkName(this.jobs, name);
    const def = this.jobs?.get(name);
    await this.queue.add(name, data, { jobId: opts.jobId === undefined ? undefined : toBullId(opts.jobId), delay: opts.delayMs, attempts: def?.attempts ?? DEFAULT_ATTEMPTS });
  }

  async start(jobs: readonly JobDef<never>[]) {
    if (this.jobs) throw new Error('The queue is already started');
    const registered = registry(jobs);
    this.jobs = registered;
    // Schedulers left in Redis by an older version for a job that no longer exists are removed.
    for (const scheduler of await this.queue.getJobSchedulers()) {
      const def = scheduler.name ? registered.get(scheduler.name) : undefined;
      if (!def?.everyMs && scheduler.key) await this.queue.removeJobScheduler(scheduler.key);
    }
    for (const def of registered.values()) {
      if (def.everyMs) await this.queue.upsertJobScheduler(def.name, { every: def.everyMs }, { name: def.name, data: {} });
    }
    const workerConnection = createBullConnection(this.url, 'worker');
    workerConnection.on('error', () => {});
    this.workerConnection = workerConnection;
    this.worker = new Worker(
      QUEUE_NAME,
      async (job: Job) => {
        const def = registered.get(job.name);
        if (!def) throw new Error(`No handler for job "${job.name}"`);
        await def.handler(job.data as Record<string, unknown>, { jobId: fromBullId(job.id ?? ''), attempt: job.attemptsMade + 1 });
      },
      { connection: workerConnection, prefix: `${this.prefix}bull`, concurrency: 4 },
    );
    this.worker.on('error', (err) => this.opts.log.warn({ err: { message: err.message } }, 'worker error'));
    this.worker.on('failed', (job, err) => {
      if (job && job.attemptsMade >= (job.opts.attempts ?? 1))
        this.opts.log.error({ job: job.name, jobId: job.id, err: { message: err.message } }, 'job failed for good');
    });
  }

  async depth(): Promise<QueueDepth> {
    const c = await this.queue.getJobCounts('waiting', 'active', 'delayed', 'failed');
    return { waiting: c.waiting ?? 0, active: c.active ?? 0, delayed: c.delayed ?? 0, failed: c.failed ?? 0 };
  }

  async failed(clinicId: string): Promise<FailedJob[]> {
    const jobs = await this.queue.getFailed(0, 999);
    return jobs
      .filter((j) => clinicOf(j.data) === clinicId)
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
    await this.worker?.close();
    await this.queue.close();
    this.workerConnection?.disconnect();
    this.connection.disconnect();
  }
}
