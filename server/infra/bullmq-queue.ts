import { Queue as BullQueue, DelayedError, Worker, type Job } from 'bullmq';
import { AppError } from '../lib/errors.js';
import type { AnyJobDef, FailedJob, JobMap, JobName, JobOptions, Queue, QueueDepth, QueueName, QueueOptions, RateLimit } from './queue.js';
import { KEEP_COMPLETED, KEEP_FAILED, QUEUES, envelope, jobContext, registered, registry, retryDelay, unwrap, type RegisteredJob } from './queue-runtime.js';
import { createBullConnection, type Redis } from './redis.js';

// `default` keeps the name of the single queue of earlier versions: jobs and schedulers left there are still seen.
/** The backoff of jobs with a capped delay (`maxBackoffMs`), computed by the workers' strategy. */
const CAPPED = 'capped';
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
  private get backoffMs() {
    return this.opts.backoffMs ?? 1000;
  }

  private bullQueue(queue: QueueName): BullQueue {
    let q = this.queues.get(queue);
    if (!q) {
      q = new BullQueue(bullName(queue), {
        connection: this.connection,
        prefix: `${this.prefix}bull`,
        defaultJobOptions: {
          backoff: { type: 'exponential', delay: this.backoffMs },
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
      const backoff = def.maxBackoffMs === undefined ? undefined : { type: CAPPED, delay: this.backoffMs };
      await this.bullQueue(def.queue).add(name, envelope(data, opts), { jobId, delay: opts.delayMs, attempts: def.attempts, ...(backoff ? { backoff } : {}) });
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
      await this.schedule(queue, registeredJobs);
      this.startWorker(queue, registeredJobs);
    }
    // A Redis that came back empty (restarted without persistence) lost the schedulers: set them again.
    this.connection.on('ready', () => {
      for (const queue of used) {
        this.schedule(queue, registeredJobs).catch((err: Error) => this.opts.log.warn({ queue, err: { message: err.message } }, 'repeatable jobs not rescheduled'));
      }
    });
  }

  /** The queue's repeatable jobs, set (idempotent); schedulers an older version left for a job that no longer repeats here are removed. */
  private async schedule(queue: QueueName, jobs: Map<string, RegisteredJob>) {
    const bull = this.bullQueue(queue);
    for (const scheduler of await bull.getJobSchedulers()) {
      const def = scheduler.name ? jobs.get(scheduler.name) : undefined;
      if ((!def?.everyMs || def.queue !== queue) && scheduler.key) await bull.removeJobScheduler(scheduler.key);
    }
    for (const def of jobs.values()) {
      if (def.everyMs && def.queue === queue) await bull.upsertJobScheduler(def.name, { every: def.everyMs }, { name: def.name, data: envelope({}, {}) });
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
        ...(this.opts.lockMs ? { lockDuration: this.opts.lockMs, stalledInterval: this.opts.lockMs } : {}),
        ...(settings.limiter ? { limiter: { max: settings.limiter.max, duration: settings.limiter.durationMs } } : {}),
        settings: { backoffStrategy: (attemptsMade, _type, _err, job) => retryDelay(attemptsMade, this.backoffMs, job ? jobs.get(job.name)?.maxBackoffMs : undefined) },
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
