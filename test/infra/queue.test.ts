import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { createLogger } from '../../server/infra/logger.js';
import { BullMqQueue, MemoryQueue, type JobDef, type Queue } from '../../server/infra/queue.js';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { createClinic } from '../helpers/clinic.js';

const log = createLogger({ level: 'silent' });
const redisUrl = inject('redisUrl');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(check: () => boolean | Promise<boolean>, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(20);
  }
}

const open: Queue[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((q) => q.close()));
});

/** A queue of each kind available here; BullMQ queues get a key prefix of their own. */
type QueueFactory = (backoffMs: number, prefix?: string) => Queue;
const memoryQueue: QueueFactory = (backoffMs) => new MemoryQueue({ log, backoffMs });
const bullQueue: QueueFactory = (backoffMs, prefix) =>
  new BullMqQueue({ log, backoffMs }, redisUrl as string, prefix ?? `${inject('redisPrefix')}q${randomUUID().slice(0, 8)}:`);
const kinds: [string, QueueFactory][] = [['memory', memoryQueue], ...(redisUrl ? [['bullmq', bullQueue] as [string, QueueFactory]] : [])];
const make = (factory: QueueFactory, backoffMs = 10, prefix?: string) => {
  const q = factory(backoffMs, prefix);
  open.push(q);
  return q;
};

describe.each(kinds)('%s queue', (_kind, factory) => {
  it('retries with exponential backoff, then keeps the job as failed for its clinic only', async () => {
    const queue = make(factory, 100);
    const attempts: number[] = [];
    await queue.start([
      {
        name: 'always.fails',
        attempts: 4,
        handler: async () => {
          attempts.push(performance.now());
          throw new Error('serviço fora do ar');
        },
      },
    ]);
    const clinicId = randomUUID();
    await queue.add('always.fails', { clinicId });
    await until(async () => (await queue.failed(clinicId)).length === 1);
    expect(attempts).toHaveLength(4);
    const gaps = attempts.slice(1).map((t, i) => t - (attempts[i] as number));
    // 100, 200, 400 ms: each wait at least the exponential delay (timers may be late, never early).
    gaps.forEach((gap, i) => expect(gap, `wait before attempt ${i + 2}`).toBeGreaterThanOrEqual(100 * 2 ** i - 5));
    const [failed] = await queue.failed(clinicId);
    expect(failed).toMatchObject({ name: 'always.fails', attempts: 4, error: 'serviço fora do ar' });
    expect(await queue.failed(randomUUID())).toEqual([]);
    expect((await queue.depth()).failed).toBeGreaterThanOrEqual(1);
  });

  it('succeeds on a retry without being listed as failed', async () => {
    const queue = make(factory);
    let calls = 0;
    await queue.start([
      {
        name: 'flaky',
        handler: async () => {
          if (++calls < 3) throw new Error('tente de novo');
        },
      },
    ]);
    const clinicId = randomUUID();
    await queue.add('flaky', { clinicId });
    await until(() => calls === 3);
    await sleep(100);
    expect(calls).toBe(3);
    expect(await queue.failed(clinicId)).toEqual([]);
  });

  it('refuses an unknown job name and a name registered twice', async () => {
    const queue = make(factory);
    const job: JobDef = { name: 'mail.test', handler: async () => {} };
    await expect(queue.start([job, { ...job }])).rejects.toThrow(/registered twice/);
    const fresh = make(factory);
    await fresh.start([job]);
    await expect(fresh.add('no.such.job', {})).rejects.toThrow(/Unknown job/);
  });

  it('runs a job id once however often it is added, ids with colons included', async () => {
    const queue = make(factory);
    const seen: string[] = [];
    const ids: string[] = [];
    await queue.start([
      {
        name: 'remind',
        handler: async (data: { n: number }, meta) => {
          seen.push(String(data.n));
          ids.push(meta.jobId);
        },
      } as JobDef<never>,
    ]);
    const id = `reminder:${randomUUID()}`;
    await Promise.all([queue.add('remind', { n: 1 }, { jobId: id }), queue.add('remind', { n: 2 }, { jobId: id })]);
    await queue.add('remind', { n: 3 }, { jobId: id });
    await queue.add('remind', { n: 4 }, { jobId: '12345' });
    await until(() => seen.length >= 2);
    await sleep(300);
    expect(seen).toHaveLength(2);
    expect(seen).toContain('4');
    // Handlers see the id they were given.
    expect(ids.sort()).toEqual(['12345', id].sort());
  });
});

describe.runIf(redisUrl)('BullMQ on one Redis shared by two instances', () => {
  it('runs a repeatable job once per interval for the cluster, not once per instance', async () => {
    const prefix = `${inject('redisPrefix')}cluster${randomUUID().slice(0, 8)}:`;
    const runs: { instance: string; at: number }[] = [];
    const def = (instance: string): JobDef => ({ name: 'tick', everyMs: 300, handler: async () => void runs.push({ instance, at: Date.now() }) });
    const a = make(bullQueue, 10, prefix);
    const b = make(bullQueue, 10, prefix);
    await Promise.all([a.start([def('a')]), b.start([def('b')])]);
    const t0 = Date.now();
    await sleep(3000);
    const elapsed = Date.now() - t0;
    const perInterval = Math.ceil(elapsed / 300) + 1;
    expect(runs.length).toBeGreaterThanOrEqual(4);
    // Two schedulers would give about twice as many runs.
    expect(runs.length).toBeLessThanOrEqual(perInterval);
    const ats = runs.map((r) => r.at).sort((x, y) => x - y);
    const tooClose = ats.slice(1).filter((t, i) => t - (ats[i] as number) < 150);
    expect(tooClose).toEqual([]);
  });
});

describe('failed jobs through the API', () => {
  let app: TestApp;
  let deadPort: number;
  beforeAll(async () => {
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    deadPort = (probe.address() as AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    // Mail to an SMTP server that is not there fails every attempt.
    app = await buildTestApp({ env: { SMTP_URL: `smtp://127.0.0.1:${deadPort}` }, realMailer: true });
  });
  afterAll(async () => {
    await app.close();
  });

  it('GET /api/jobs/failed lists the clinic’s dead jobs to admins only', async () => {
    const [clinic, other] = await Promise.all([createClinic({ app }), createClinic({ app })]);
    const invite = await clinic.admin.agent.post('/api/team/invitations').send({ email: 'nova@example.com', name: 'Nova', role: 'receptionist' });
    expect(invite.status).toBe(201);
    let items: { name: string; attempts: number; error: string }[] = [];
    await until(async () => {
      items = (await clinic.admin.agent.get('/api/jobs/failed')).body.items;
      return items.length > 0;
    }, 30_000);
    expect(items[0]).toMatchObject({ name: 'mail.send', attempts: 5 });
    expect(JSON.stringify(items)).not.toContain('nova@example.com');
    expect((await other.admin.agent.get('/api/jobs/failed')).body.items).toEqual([]);
    expect((await clinic.receptionist.agent.get('/api/jobs/failed')).status).toBe(403);
    expect((await clinic.professional.agent.get('/api/jobs/failed')).status).toBe(403);
  });
});

describe('boot', () => {
  it('fails when a module registers a job name twice', async () => {
    const app = await buildTestApp();
    try {
      const { modules } = app;
      const queue = new MemoryQueue({ log });
      open.push(queue);
      await expect(queue.start([...modules.jobs, ...modules.jobs.slice(0, 1)])).rejects.toThrow(/registered twice/);
    } finally {
      await app.close();
    }
  });
});
