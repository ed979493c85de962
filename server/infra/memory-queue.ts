import type { AnyJobDef, FailedJob, JobMap, JobName, JobOptions, Queue, QueueDepth, QueueName, QueueOptions, QueueSettings } from './queue.js';
import { KEEP_COMPLETED, KEEP_FAILED, QUEUES, envelope, jobContext, registered, registry, retryDelay, type Envelope, type RegisteredJob } from './queue-runtime.js';

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
        this.schedule(job, retryDelay(job.attempt, this.opts.backoffMs ?? 1000, job.def.maxBackoffMs));
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
