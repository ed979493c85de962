import type { Logger } from './logger.js';
import { BullMqQueue } from './bullmq-queue.js';
import { MemoryQueue } from './memory-queue.js';

/**
 * Job name -> payload type. Each module adds its jobs by augmenting this interface
 * (`declare module '../../infra/queue.js' { interface JobMap { 'mail.send': MailJob } }`), so
 * `queue.add` checks the payload against the name. Payloads carry ids, never secrets or health data.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface JobMap {}

export type JobName<M = JobMap> = keyof M & string;

/** Named queues (settings in QUEUES): each has its own workers, so slow AI calls cannot starve mail. */
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
  /** Caps the doubling delay between attempts, so many attempts span an outage of minutes without waiting minutes once it is over. */
  maxBackoffMs?: number;
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
  /**
   * BullMQ: how long a running job's lock lasts without renewal (30 s). A worker that died (SIGKILL)
   * stops renewing; another finds the job stalled within this much again and runs it once more.
   */
  lockMs?: number;
  /** Per-queue overrides (tests). */
  queues?: Partial<Record<QueueName, QueueSettings>>;
}

export { BullMqQueue, MemoryQueue };
export { QUEUES } from './queue-runtime.js';

export function createQueue(opts: QueueOptions & { redisUrl?: string; prefix: string }): Queue {
  return opts.redisUrl ? new BullMqQueue(opts, opts.redisUrl, opts.prefix) : new MemoryQueue(opts);
}
