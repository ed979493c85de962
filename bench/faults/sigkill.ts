// One of three instances SIGKILLed during webhook ingest and sends: every message Evolution retries
// is stored once, no send lost or doubled, outbox events still delivered; the instance is started
// again (as the platform replaces it) and rejoins.
import { sleep } from '../../scripts/rehearsal/harness.js';
import type { FaultSpec } from './lib/fault.js';

export const sigkillFault: FaultSpec = {
  name: 'sigkill',
  title: 'one of three instances SIGKILLed',
  instances: 3,
  // What the dead instance held comes back by itself: its outbox claims when their 60 s lease runs
  // out, its active jobs when BullMQ's stall check (every 30 s) finds their lock expired.
  recoveryMs: (short) => (short ? 90_000 : 120_000),
  allowLostConnections: true,
  driver: { webhookLoops: 3, sendLoops: 2, readLoops: 2 },
  inject: async ({ driver, instances, h, short }) => {
    const victim = instances[2];
    if (!victim) throw new Error('no third instance');
    await victim.kill();
    const killedAt = Date.now();
    // The load balancer's health check takes the instance out a moment later; requests in flight fail.
    await sleep(1000);
    driver.markDead(victim.url);
    h.log(`${victim.name} SIGKILLed (pid gone), out of the balancer 1 s later`);
    await sleep(short ? 3_000 : 20_000);
    victim.start();
    await victim.waitHealthy(120_000);
    driver.addTarget(victim.url);
    h.log(`${victim.name} started again and back in the balancer`);
    return { detail: `${victim.name} SIGKILLed during ingest and sends, started again ${((Date.now() - killedAt) / 1000).toFixed(0)} s later`, end: killedAt };
  },
};
