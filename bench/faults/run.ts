// npm run faults -- [names...] [--short] [--jobs N]: runs each fault script (all by default) and
// prints PASS/FAIL per fault; exits non-zero when any failed. With --jobs N, N faults run at once,
// each in its own process (its own stack on its own ports), its output printed when it ends.
import { spawn, type ChildProcess } from 'node:child_process';
import { loadavg } from 'node:os';
import { deployFault } from './deploy.js';
import { evolutionFault } from './evolution.js';
import { cleanUpOnSignals, runFault, type FaultSpec } from './lib/fault.js';
import { buildCurrent } from './lib/stack.js';
import { modelFault } from './model.js';
import { postgresFault } from './postgres.js';
import { redisFault } from './redis.js';
import { sigkillFault } from './sigkill.js';

const FAULTS: FaultSpec[] = [redisFault, postgresFault, sigkillFault, evolutionFault, modelFault, deployFault];

const args = process.argv.slice(2);
const short = args.includes('--short');
const jobsAt = args.indexOf('--jobs');
const jobs = jobsAt >= 0 ? Math.max(1, Number(args[jobsAt + 1]) || 1) : 1;
const names = args.filter((a, i) => !a.startsWith('--') && !(jobsAt >= 0 && i === jobsAt + 1));
const unknown = names.filter((n) => !FAULTS.some((f) => f.name === n));
if (unknown.length > 0) {
  process.stderr.write(`unknown fault(s): ${unknown.join(', ')}; known: ${FAULTS.map((f) => f.name).join(', ')}\n`);
  process.exit(2);
}
const chosen = names.length > 0 ? FAULTS.filter((f) => names.includes(f.name)) : FAULTS;
const load = () => loadavg().map((n) => n.toFixed(1)).join(' ');
process.stdout.write(`faults: ${chosen.map((f) => f.name).join(', ')}${short ? ' (short)' : ''}, ${jobs} at a time; load average ${load()}\n`);

/** One fault in a child process of this script, its output kept until it ends. */
const children = new Set<ChildProcess>();
function inChild(fault: FaultSpec): Promise<boolean> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...process.execArgv, import.meta.filename, fault.name, ...(short ? ['--short'] : [])], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, FAULTS_BUILT: '1' } });
    children.add(child);
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('close', (code) => {
      children.delete(child);
      process.stdout.write(`\n##### ${fault.name}\n${output}`);
      resolve(code === 0);
    });
  });
}

// Stopped (Ctrl-C, CI's timeout): the children clean up their own stacks; this process its own.
cleanUpOnSignals(() => {
  for (const child of children) child.kill('SIGTERM');
});

const results: { name: string; ok: boolean; seconds: number; load: string }[] = [];
const runOne = async (fault: FaultSpec) => {
  const t0 = Date.now();
  const ok = jobs > 1
    ? await inChild(fault)
    : await runFault(fault, short).catch((err: unknown) => {
        process.stdout.write(`FAIL ${fault.name} aborted: ${(err as Error).stack ?? String(err)}\n`);
        return false;
      });
  results.push({ name: fault.name, ok, seconds: (Date.now() - t0) / 1000, load: load() });
};

if (chosen.length === 1 || jobs === 1) {
  for (const fault of chosen) await runOne(fault);
} else {
  // Built once here: the children would otherwise all write dist/ at the same time.
  await buildCurrent();
  const queue = [...chosen];
  await Promise.all(Array.from({ length: jobs }, async () => {
    for (let fault = queue.shift(); fault; fault = queue.shift()) await runOne(fault);
  }));
}
if (results.length > 1) {
  process.stdout.write(`\n=== faults${short ? ' (short)' : ''}:\n`);
  for (const r of results) process.stdout.write(`${r.ok ? 'PASS' : 'FAIL'} ${r.name} (${r.seconds.toFixed(0)} s, load average after it ${r.load})\n`);
}
// Socket.IO clients and keep-alive agents must not hold the process open.
process.exit(results.every((r) => r.ok) ? 0 : 1);
