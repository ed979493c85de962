import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { inject } from 'vitest';
import { createLogger } from '../../server/infra/logger.js';
import { Writable } from 'node:stream';
import { BullMqQueue, MemoryQueue, type AnyJobDef, type JobContext, type Queue, type QueueName, type QueueSettings } from '../../server/infra/queue.js';
import { buildTestApp, getTestApp, type TestApp } from '../helpers/app.js';
import { anonymous, createClinic } from '../helpers/clinic.js';
import { withRedis } from '../helpers/skip.js';
import { until } from '../helpers/until.js';

const log = createLogger({ level: 'silent' });
const redisUrl = inject('redisUrl');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));


const open: { close(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((q) => q.close()));
});

/** The jobs of these tests, typed like the app's JobMap. */
interface TestJobs {
  'always.fails': { clinicId?: string };
  flaky: Record<string, never>;
  'mail.test': Record<string, never>;
  remind: { n: number };
  tick: Record<string, never>;
  'who.asked': { n: number };
  slow: { n: number };
  limited: { n: number };
  send: { from: string; n: number };
}
type TestQueue = Queue<TestJobs>;
type TestJob = AnyJobDef<TestJobs>;

interface FactoryOptions {
  backoffMs?: number;
  prefix?: string;
  queues?: Partial<Record<QueueName, QueueSettings>>;
  logTo?: ReturnType<typeof createLogger>;
}

/** A queue of each kind available here; BullMQ queues get a key prefix of their own. */
type QueueFactory = (opts: FactoryOptions) => TestQueue;
const memoryQueue: QueueFactory = (o) => new MemoryQueue<TestJobs>({ log: o.logTo ?? log, backoffMs: o.backoffMs, queues: o.queues });
const bullQueue: QueueFactory = (o) =>
  new BullMqQueue<TestJobs>({ log: o.logTo ?? log, backoffMs: o.backoffMs, queues: o.queues }, redisUrl as string, o.prefix ?? `${inject('redisPrefix')}q${randomUUID().slice(0, 8)}:`);
const kinds: [string, QueueFactory][] = [['memory', memoryQueue], ...(redisUrl ? [['bullmq', bullQueue] as [string, QueueFactory]] : [])];
const make = (factory: QueueFactory, backoffMs = 10, prefix?: string, extra: Omit<FactoryOptions, 'backoffMs' | 'prefix'> = {}) => {
  const q = factory({ backoffMs, prefix, ...extra });
  open.push(q);
  return q;
};

/** A logger whose lines (JSON) are kept for the test to read. */
function capturingLogger() {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { lines, logger: createLogger({ level: 'trace', destination }) };
}

describe.each(kinds)('%s queue', (_kind, factory) => {
  it('retries with exponential backoff, then keeps the job as failed for its clinic only', async () => {
    const queue = make(factory, 100);
    const attempts: number[] = [];
    await queue.start([
      {
        name: 'always.fails',
        queue: 'default',
        attempts: 4,
        handler: async () => {
          attempts.push(performance.now());
          throw new Error('serviço fora do ar');
        },
      },
    ]);
    const clinicId = randomUUID();
    await queue.add('always.fails', {}, { context: { clinicId } });
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
        queue: 'default',
        handler: async () => {
          if (++calls < 3) throw new Error('tente de novo');
        },
      },
    ]);
    const clinicId = randomUUID();
    await queue.add('flaky', {}, { context: { clinicId } });
    await until(() => calls === 3);
    await sleep(100);
    expect(calls).toBe(3);
    expect(await queue.failed(clinicId)).toEqual([]);
  });

  it('refuses an unknown job name and a name registered twice', async () => {
    const queue = make(factory);
    const job: TestJob = { name: 'mail.test', queue: 'mail', handler: async () => {} };
    await expect(queue.start([job, { ...job }])).rejects.toThrow(/registered twice/);
    const fresh = make(factory);
    await fresh.start([job]);
    await expect(fresh.add('no.such.job' as 'mail.test', {})).rejects.toThrow(/Unknown job/);
  });

  it('runs a job id once however often it is added, ids with colons included', async () => {
    const queue = make(factory);
    const seen: string[] = [];
    const ids: string[] = [];
    await queue.start([
      {
        name: 'remind',
        queue: 'default',
        handler: async (data, meta) => {
          seen.push(String(data.n));
          ids.push(meta.jobId);
        },
      },
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

describe.each(kinds)('%s queue: metadata, concurrency and rate limits', (_kind, factory) => {
  it('hands the clinic and request id to the handler, and puts the request id in its log lines', async () => {
    const { lines, logger } = capturingLogger();
    const queue = make(factory, 10, undefined, { logTo: logger });
    const seen: { data: { n: number }; job: JobContext }[] = [];
    await queue.start([
      {
        name: 'who.asked',
        queue: 'default',
        handler: async (data, job) => {
          seen.push({ data, job });
          job.log.info('working');
        },
      },
    ]);
    const clinicId = randomUUID();
    await queue.add('who.asked', { n: 7 }, { context: { clinicId, requestId: 'req-abc-123' } });
    await queue.add('who.asked', { n: 8 });
    await until(() => seen.length === 2);
    const mine = seen.find((s) => s.data.n === 7);
    // The payload is exactly what was added: metadata travels beside it.
    expect(mine?.data).toEqual({ n: 7 });
    expect(mine?.job).toMatchObject({ clinicId, requestId: 'req-abc-123', attempt: 1 });
    expect(seen.find((s) => s.data.n === 8)?.job).toMatchObject({ clinicId: null, requestId: null });
    await until(() => lines.some((l) => l.msg === 'working' && l.requestId === 'req-abc-123'));
    expect(lines.find((l) => l.msg === 'working' && l.requestId === 'req-abc-123')).toMatchObject({ job: 'who.asked', clinicId });
  });

  it('runs no more jobs at once than its queue allows, and a busy queue does not hold up another', async () => {
    const queue = make(factory, 10, undefined, { queues: { ai: { concurrency: 2, attempts: 1 } } });
    let running = 0;
    let most = 0;
    let done = 0;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const mailed: number[] = [];
    await queue.start([
      {
        name: 'slow',
        queue: 'ai',
        handler: async () => {
          most = Math.max(most, ++running);
          await gate;
          await sleep(20);
          running--;
          done++;
        },
      },
      { name: 'limited', queue: 'mail', handler: async (data) => void mailed.push(data.n) },
    ]);
    for (let n = 0; n < 6; n++) await queue.add('slow', { n });
    await until(() => running === 2);
    // Both AI workers are stuck: mail still goes out.
    await queue.add('limited', { n: 1 });
    await until(() => mailed.length === 1);
    expect(running).toBe(2);
    release();
    await until(() => done === 6);
    expect(most).toBe(2);
  });

  it('starts no more jobs per window than its rate limit', async () => {
    const queue = make(factory, 10, undefined, { queues: { whatsapp: { concurrency: 5, attempts: 1, limiter: { max: 3, durationMs: 600 } } } });
    const starts: number[] = [];
    await queue.start([{ name: 'limited', queue: 'whatsapp', handler: async () => void starts.push(Date.now()) }]);
    for (let n = 0; n < 7; n++) await queue.add('limited', { n });
    await until(() => starts.length === 7);
    starts.sort((a, b) => a - b);
    // 3 per window (BullMQ's window is fixed, the memory queue's sliding: both hold this), with a
    // small allowance for timer granularity.
    const first = starts[0] as number;
    expect(starts.filter((t) => t - first < 550)).toHaveLength(3);
    expect((starts[3] as number) - first).toBeGreaterThanOrEqual(550);
    expect((starts[6] as number) - first).toBeGreaterThanOrEqual(1150);
  });

  it('limits per key (one WhatsApp number) without holding up other keys or using attempts', async () => {
    const queue = make(factory, 10, undefined, { queues: { whatsapp: { concurrency: 4, attempts: 1, perKey: { max: 2, durationMs: 700 } } } });
    const runs: { from: string; at: number; attempt: number }[] = [];
    await queue.start([
      { name: 'send', queue: 'whatsapp', rateLimitKey: (data) => data.from, handler: async (data, job) => void runs.push({ from: data.from, at: Date.now(), attempt: job.attempt }) },
    ]);
    const t0 = Date.now();
    for (let n = 0; n < 4; n++) await queue.add('send', { from: 'clinica-a', n });
    for (let n = 0; n < 2; n++) await queue.add('send', { from: 'clinica-b', n });
    await until(() => runs.length === 6);
    const a = runs.filter((r) => r.from === 'clinica-a').map((r) => r.at - t0);
    const b = runs.filter((r) => r.from === 'clinica-b').map((r) => r.at - t0);
    // Two of A at once, the other two a window later; B is not queued behind A's wait.
    expect(a.filter((ms) => ms < 500)).toHaveLength(2);
    expect(a.filter((ms) => ms >= 600)).toHaveLength(2);
    expect(b.every((ms) => ms < 500)).toBe(true);
    // Waiting for the window is not a failed attempt (the queue allows only one).
    expect(runs.every((r) => r.attempt === 1)).toBe(true);
  });
});

describe.runIf(withRedis('BullMQ on one Redis shared by two instances'))('BullMQ on one Redis shared by two instances', () => {
  it('runs a repeatable job once per interval for the cluster, not once per instance', async () => {
    const prefix = `${inject('redisPrefix')}cluster${randomUUID().slice(0, 8)}:`;
    const runs: { instance: string; at: number }[] = [];
    const def = (instance: string): TestJob => ({ name: 'tick', queue: 'maintenance', everyMs: 300, handler: async () => void runs.push({ instance, at: Date.now() }) });
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

describe('job payloads carry no secrets', () => {
  it('a password-reset mail is queued sealed: no link, token or address in the job, and it is still delivered', async () => {
    const app = await getTestApp();
    const clinic = await createClinic({ app });
    const added: unknown[] = [];
    const original = app.infra.queue.add.bind(app.infra.queue);
    const spy = vi.spyOn(app.infra.queue, 'add').mockImplementation(async (...args) => {
      added.push(args);
      return original(...args);
    });
    try {
      const before = app.mail.sent.length;
      const res = await anonymous(app).post('/api/auth/password-reset').send({ email: clinic.admin.email });
      expect(res.status).toBeLessThan(300);
      await until(() => app.mail.sent.length > before);
      const mail = app.mail.sent.at(-1);
      expect(mail?.text).toMatch(/redefinir-senha\?token=/);
      const token = /token=([^\s]+)/.exec(mail?.text ?? '')?.[1] as string;
      const queued = JSON.stringify(added);
      // The request queues the reset job (sealed email); that job queues the mail (sealed message).
      expect((added as [string][]).map(([name]) => name)).toEqual(['auth.password_reset', 'mail.send']);
      for (const secret of [decodeURIComponent(token), token, clinic.admin.email, 'redefinir']) expect(queued).not.toContain(secret);
    } finally {
      spy.mockRestore();
    }
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
