// Postgres stopped (pg_ctl -m fast: every connection cut) and started again under load: the pool
// recovers without restarting the app, requests in the gap answer 503, no acknowledged write is lost.
import type { FaultSpec } from './lib/fault.js';

export const postgresFault: FaultSpec = {
  name: 'postgres',
  title: 'Postgres restarted (pg_ctl -m fast)',
  // Outbox deliveries claimed by a relay run whose connection was cut come back when their 60 s
  // lease runs out (as in the SIGKILL fault); later events of the same aggregate wait behind them.
  recoveryMs: (short) => (short ? 90_000 : 120_000),
  inject: async ({ stack, h, short }) => {
    const gapMs = short ? 3_000 : 20_000;
    h.log(`pg_ctl stop -m fast, ${gapMs / 1000} s down, pg_ctl start`);
    await stack.pg.restart(gapMs);
    return { detail: `Postgres stopped with -m fast, down ${gapMs / 1000} s, started again` };
  },
};
