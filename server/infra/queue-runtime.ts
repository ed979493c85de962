import type { Logger } from './logger.js';
import type { AnyJobDef, JobContext, JobDef, JobMeta, JobOptions, QueueName, QueueSettings } from './queue.js';

// Shared by both queue implementations: the queues' settings, registration, the stored envelope, the handler's context.

export const QUEUES: Record<QueueName, QueueSettings> = {
  default: { concurrency: 4, attempts: 5 },
  mail: { concurrency: 2, attempts: 5, limiter: { max: 20, durationMs: 1000 } },
  maintenance: { concurrency: 1, attempts: 3 },
  // Slots filled by the WhatsApp, AI, webhook and Google Calendar features.
  whatsapp: { concurrency: 4, attempts: 5, limiter: { max: 20, durationMs: 1000 }, perKey: { max: 20, durationMs: 60_000 } },
  ai: { concurrency: 2, attempts: 3 },
  // Outbound webhooks wait on the receivers (up to 10 s each): enough slots that a few slow endpoints do not hold up every clinic's.
  webhooks: { concurrency: 16, attempts: 8 },
  calendar: { concurrency: 2, attempts: 5, limiter: { max: 10, durationMs: 1000 } },
};

export const KEEP_COMPLETED = 1000;
export const KEEP_FAILED = 5000;

/** What is stored: the payload and, beside it, who asked. */
export interface Envelope {
  payload: unknown;
  meta: JobMeta;
}

export interface RegisteredJob {
  name: string;
  queue: QueueName;
  attempts: number;
  maxBackoffMs?: number;
  everyMs?: number;
  rateLimitKey?: (data: unknown) => string;
  handler: (data: unknown, job: JobContext) => Promise<void>;
}

/** Every job name has exactly one handler, or the process does not boot. */
export function registry(jobs: readonly AnyJobDef<never>[], settings: (q: QueueName) => QueueSettings): Map<string, RegisteredJob> {
  const map = new Map<string, RegisteredJob>();
  for (const job of jobs as unknown as JobDef<Record<string, unknown>, string>[]) {
    if (map.has(job.name)) throw new Error(`Job "${job.name}" is registered twice`);
    if (typeof job.handler !== 'function') throw new Error(`Job "${job.name}" has no handler`);
    if (!(job.queue in QUEUES)) throw new Error(`Job "${job.name}" names an unknown queue "${job.queue}"`);
    map.set(job.name, { ...job, attempts: job.attempts ?? settings(job.queue).attempts } as RegisteredJob);
  }
  return map;
}

export function registered(jobs: Map<string, RegisteredJob> | undefined, name: string): RegisteredJob {
  if (!jobs) throw new Error('The queue is not started');
  const def = jobs.get(name);
  if (!def) throw new Error(`Unknown job "${name}": register it in its module's jobs`);
  return def;
}

/** The wait before attempt `attempt + 1`: the base doubled per attempt made, up to the job's cap. */
export const retryDelay = (attemptsMade: number, baseMs: number, maxMs = Number.POSITIVE_INFINITY) => Math.min(baseMs * 2 ** (attemptsMade - 1), maxMs);

export const envelope = (data: unknown, opts: JobOptions): Envelope => ({
  payload: data,
  meta: { clinicId: opts.context?.clinicId ?? null, requestId: opts.context?.requestId ?? null },
});

/** Jobs added before envelopes existed carried the clinic at the top of their data. */
export const unwrap = (stored: unknown): Envelope => {
  const value = (stored ?? {}) as Partial<Envelope> & { clinicId?: unknown };
  if (value.meta && 'payload' in value) return value as Envelope;
  return { payload: value, meta: { clinicId: typeof value.clinicId === 'string' ? value.clinicId : null, requestId: null } };
};

export function jobContext(log: Logger, name: string, jobId: string, attempt: number, meta: JobMeta): JobContext {
  return { ...meta, jobId, attempt, log: log.child({ job: name, jobId, clinicId: meta.clinicId, requestId: meta.requestId }) };
}
