// Samples of the processes under test while the load runs: resident memory and CPU from /proc,
// and from each instance's /metrics (prom-client's default metrics) the event-loop lag p99 of the
// interval (prom-client resets its histogram at every scrape), heap used and active handles.
// The generator's own CPU and loop lag are sampled too: a saturated generator would flatter
// nothing but would distort every latency.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import { cpuSeconds, rssMiB } from '../process.js';
import type { Stack } from './stack.js';

export interface InstanceSample {
  at: number;
  instance: string;
  rssMiB: number;
  cpuSeconds: number;
  heapUsedMiB: number;
  activeHandles: number;
  loopLagP99Ms: number;
  sockets: number;
}

export interface RedisSample {
  at: number;
  usedMemoryMiB: number;
  keys: number;
  keysWithoutTtl: number;
  /** Keys without a TTL outside the families bounded by design (see BOUNDED_WITHOUT_TTL). */
  unboundedWithoutTtl: number;
  /** Per BullMQ queue: jobs kept completed and failed (trimmed by count, server/infra/bullmq-queue.ts). */
  retained: Record<string, { completed: number; failed: number }>;
}

/**
 * Keys that live without a TTL and are bounded by something other than time: BullMQ's jobs
 * (`bull:<queue>:<job id>`, trimmed by count on completion and failure) and its per-queue
 * structures, and the cache's group versions (`cg:<group>`, one counter per professional's
 * calendar or clinic). Any other key without a TTL that keeps appearing is a leak.
 */
const BOUNDED_WITHOUT_TTL = [/^bull:[^:]+:/, /^cg:/];

const metric = (text: string, name: string) => {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : NaN;
};

export class Sampler {
  readonly instances: InstanceSample[] = [];
  readonly redis: RedisSample[] = [];
  readonly generator: { at: number; cpuShare: number; loopLagP99Ms: number }[] = [];
  private timer?: NodeJS.Timeout;
  private redisTimer?: NodeJS.Timeout;
  private readonly lag = monitorEventLoopDelay({ resolution: 10 });
  private lastCpu = process.cpuUsage();
  private lastAt = performance.now();
  private readonly client: Redis;

  constructor(
    private readonly stack: Stack,
    private readonly everyMs = 5000,
    private readonly redisEveryMs = 30_000,
  ) {
    this.client = new Redis(stack.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  }

  async start() {
    await this.client.connect();
    this.lag.enable();
    await this.sample();
    await this.sampleRedis();
    this.timer = setInterval(() => void this.sample(), this.everyMs);
    this.redisTimer = setInterval(() => void this.sampleRedis(), this.redisEveryMs);
  }

  async sample() {
    const at = Date.now();
    await Promise.all(
      this.stack.instances.map(async (instance) => {
        const text = await fetch(`${instance.url}/metrics`, { headers: { authorization: `Bearer ${this.stack.metricsToken}` } }).then((r) => r.text(), () => '');
        try {
          this.instances.push({
            at,
            instance: instance.name,
            rssMiB: rssMiB(instance.pid),
            cpuSeconds: cpuSeconds(instance.pid),
            heapUsedMiB: metric(text, 'nodejs_heap_size_used_bytes') / 2 ** 20,
            activeHandles: metric(text, 'nodejs_active_handles_total'),
            loopLagP99Ms: metric(text, 'nodejs_eventloop_lag_p99_seconds') * 1000,
            sockets: metric(text, 'websocket_connections'),
          });
        } catch {
          // the process is gone (a fault script stopped it): no sample
        }
      }),
    );
    const cpu = process.cpuUsage(this.lastCpu);
    const now = performance.now();
    this.generator.push({ at, cpuShare: (cpu.user + cpu.system) / 1000 / (now - this.lastAt), loopLagP99Ms: this.lag.percentile(99) / 1e6 });
    this.lag.reset();
    this.lastCpu = process.cpuUsage();
    this.lastAt = now;
  }

  /** Every key of the run (under its prefix) with its TTL in ms (-1: none). */
  private async eachKey(visit: (key: string, ttl: number) => void) {
    let cursor = '0';
    do {
      const [next, batch] = await this.client.scan(cursor, 'MATCH', `${this.stack.redisPrefix}*`, 'COUNT', 1000);
      cursor = next;
      const pipeline = this.client.pipeline();
      for (const key of batch) pipeline.pttl(key);
      const ttls = batch.length > 0 ? ((await pipeline.exec()) ?? []) : [];
      batch.forEach((key, i) => visit(key, Number(ttls[i]?.[1])));
    } while (cursor !== '0');
  }

  /** Redis memory and the run's keys, with those that carry no TTL. */
  async sampleRedis() {
    const info = await this.client.info('memory');
    let keys = 0;
    let keysWithoutTtl = 0;
    let unboundedWithoutTtl = 0;
    const queues: string[] = [];
    await this.eachKey((key, ttl) => {
      keys++;
      const name = key.slice(this.stack.redisPrefix.length);
      const queue = /^bull:([^:]+):meta$/.exec(name)?.[1];
      if (queue) queues.push(queue);
      if (ttl !== -1) return;
      keysWithoutTtl++;
      if (!BOUNDED_WITHOUT_TTL.some((re) => re.test(name))) unboundedWithoutTtl++;
    });
    const retained: RedisSample['retained'] = {};
    for (const queue of queues) {
      const base = `${this.stack.redisPrefix}bull:${queue}`;
      const [completed, failed] = await Promise.all([this.client.zcard(`${base}:completed`), this.client.zcard(`${base}:failed`)]);
      retained[queue] = { completed, failed };
    }
    this.redis.push({ at: Date.now(), usedMemoryMiB: Number(/used_memory:(\d+)/.exec(info)?.[1] ?? 0) / 2 ** 20, keys, keysWithoutTtl, unboundedWithoutTtl, retained });
  }

  /** Keys without a TTL by shape (ids replaced by `*`): where an unbounded growth would start. */
  async keysWithoutTtl(): Promise<Map<string, number>> {
    const shapes = new Map<string, number>();
    await this.eachKey((key, ttl) => {
      if (ttl !== -1) return;
      const shape = key.slice(this.stack.redisPrefix.length).replace(/[0-9a-f]{8}-[0-9a-f-]{27}|\d+/g, '*');
      shapes.set(shape, (shapes.get(shape) ?? 0) + 1);
    });
    return shapes;
  }

  async stop() {
    clearInterval(this.timer);
    clearInterval(this.redisTimer);
    await this.sample();
    await this.sampleRedis();
    this.lag.disable();
    this.client.disconnect();
  }
}
