// Redis killed (SIGKILL, data set lost) for 30 s and started again, under load: sessions answer 503
// with Retry-After meanwhile, never 500; webhooks acknowledged meanwhile are not lost; the queues
// resume and the socket reconnects by itself.
import { sleep } from '../../scripts/rehearsal/harness.js';
import type { FaultSpec } from './lib/fault.js';

export const redisFault: FaultSpec = {
  name: 'redis',
  title: 'Redis killed and restarted',
  recoveryMs: (short) => (short ? 30_000 : 60_000),
  inject: async ({ stack, h, short }) => {
    const downMs = short ? 5_000 : 30_000;
    await stack.redis.kill();
    h.log(`redis killed; down for ${downMs / 1000} s`);
    await sleep(downMs);
    await stack.redis.up();
    return { detail: `Redis SIGKILLed, down ${downMs / 1000} s, started again on the same port from its append-only file` };
  },
};
