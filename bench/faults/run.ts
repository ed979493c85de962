// npm run faults -- [names...] [--short]: runs each fault script (all by default) one after the
// other and prints PASS/FAIL per fault; exits non-zero when any failed.
import { loadavg } from 'node:os';
import { deployFault } from './deploy.js';
import { evolutionFault } from './evolution.js';
import { runFault, type FaultSpec } from './lib/fault.js';
import { modelFault } from './model.js';
import { postgresFault } from './postgres.js';
import { redisFault } from './redis.js';
import { sigkillFault } from './sigkill.js';

const FAULTS: FaultSpec[] = [redisFault, postgresFault, sigkillFault, evolutionFault, modelFault, deployFault];

const args = process.argv.slice(2);
const short = args.includes('--short');
const names = args.filter((a) => !a.startsWith('--'));
const unknown = names.filter((n) => !FAULTS.some((f) => f.name === n));
if (unknown.length > 0) {
  process.stderr.write(`unknown fault(s): ${unknown.join(', ')}; known: ${FAULTS.map((f) => f.name).join(', ')}\n`);
  process.exit(2);
}
const chosen = names.length > 0 ? FAULTS.filter((f) => names.includes(f.name)) : FAULTS;
const load = () => loadavg().map((n) => n.toFixed(1)).join(' ');
process.stdout.write(`faults: ${chosen.map((f) => f.name).join(', ')}${short ? ' (short)' : ''}; load average ${load()}\n`);
const results: { name: string; ok: boolean; seconds: number; load: string }[] = [];
for (const fault of chosen) {
  const t0 = Date.now();
  const ok = await runFault(fault, short).catch((err: unknown) => {
    process.stdout.write(`FAIL ${fault.name} aborted: ${(err as Error).stack ?? String(err)}\n`);
    return false;
  });
  results.push({ name: fault.name, ok, seconds: (Date.now() - t0) / 1000, load: load() });
}
process.stdout.write(`\n=== faults${short ? ' (short)' : ''}:\n`);
for (const r of results) process.stdout.write(`${r.ok ? 'PASS' : 'FAIL'} ${r.name} (${r.seconds.toFixed(0)} s, load average after it ${r.load})\n`);
// Socket.IO clients and keep-alive agents must not hold the process open.
process.exit(results.every((r) => r.ok) ? 0 : 1);
