import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { createLogger } from '../../server/infra/logger.js';
import { BullMqQueue, type AnyJobDef } from '../../server/infra/queue.js';
import { reportThenKill } from '../helpers/crash.js';
import { withRedis } from '../helpers/skip.js';
import { until } from '../helpers/until.js';
import { CRASH_JOB, CRASH_LOCK_MS, type CrashJobs } from './queue-crash-jobs.js';

const child = path.join(path.dirname(fileURLToPath(import.meta.url)), 'queue-crash-child.ts');
const redisUrl = inject('redisUrl');

// The in-memory queue lives and dies with its process (the laptop mode): nothing to recover there.
describe.runIf(withRedis('BullMQ after a SIGKILL mid-job'))('BullMQ after a SIGKILL mid-job', () => {
  let queue: BullMqQueue<CrashJobs> | undefined;
  afterAll(() => queue?.close());

  it('another worker finds the stalled job once its lock lapses and runs it again, once', async () => {
    const prefix = `${inject('redisPrefix')}crash${randomUUID().slice(0, 8)}:`;
    const key = randomUUID();
    const first = await reportThenKill<{ key: string; attempt: number }>(child, { REDIS_URL: redisUrl as string, PREFIX: prefix, KEY: key });
    expect(first).toEqual({ key, attempt: 1 });

    // The restarted process: same Redis and prefix, a handler that finishes.
    const runs: string[] = [];
    const job: AnyJobDef<CrashJobs> = { name: CRASH_JOB, queue: 'default', handler: async (data) => void runs.push(data.key) };
    queue = new BullMqQueue<CrashJobs>({ log: createLogger({ level: 'silent' }), lockMs: CRASH_LOCK_MS }, redisUrl as string, prefix);
    await queue.start([job]);
    const t0 = Date.now();
    await until(() => runs.length > 0, 15_000, 20);
    // Found by the stalled-job check within a lock or two, not the default 30 s.
    expect(Date.now() - t0).toBeLessThan(CRASH_LOCK_MS * 5);
    await new Promise((r) => setTimeout(r, CRASH_LOCK_MS * 2));
    expect(runs).toEqual([key]);
    expect(await queue.depth()).toMatchObject({ waiting: 0, active: 0, failed: 0 });
  });
});
