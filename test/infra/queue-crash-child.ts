// Spawned by queue-crash.test.ts: starts a BullMQ worker, adds one job whose handler never ends,
// reports when it runs, then waits to be SIGKILLed mid-job.
import { createLogger } from '../../server/infra/logger.js';
import { BullMqQueue, type AnyJobDef } from '../../server/infra/queue.js';
import { CRASH_JOB, CRASH_LOCK_MS, type CrashJobs } from './queue-crash-jobs.js';

const queue = new BullMqQueue<CrashJobs>({ log: createLogger({ level: 'silent' }), lockMs: CRASH_LOCK_MS }, process.env.REDIS_URL as string, process.env.PREFIX as string);
const job: AnyJobDef<CrashJobs> = {
  name: CRASH_JOB,
  queue: 'default',
  handler: async (data, ctx) => {
    process.stdout.write(`${JSON.stringify({ key: data.key, attempt: ctx.attempt })}\n`);
    await new Promise(() => {});
  },
};
await queue.start([job]);
await queue.add(CRASH_JOB, { key: process.env.KEY as string }, { jobId: `crash:${process.env.KEY}` });
await new Promise(() => {});
