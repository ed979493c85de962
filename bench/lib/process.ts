import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { freePort } from '../../scripts/lib/free-port.js';


export interface Child {
  process: ChildProcess;
  url: string;
  stop(): Promise<void>;
}

/**
 * Starts a server process on a fresh port and waits until `readyPath` answers 200. Its stdout
 * (the request log) goes to /dev/null, as it would go to a log shipper in production; stderr is
 * kept for failures.
 */
export async function startChild(command: string, args: string[], env: Record<string, string>, readyPath: string): Promise<Child> {
  const port = await freePort();
  const child = spawn(command, args, {
    env: { ...process.env, ...env, PORT: String(port), HOST: '127.0.0.1' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${command} ${args.join(' ')} exited ${child.exitCode}: ${stderr}`);
    const ok = await fetch(`${url}${readyPath}`).then((r) => r.ok, () => false);
    if (ok) break;
    if (Date.now() > deadline) throw new Error(`${command} ${args.join(' ')} not ready after 120 s: ${stderr}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    process: child,
    url,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

/** Resident memory of a process and its descendants, in MiB (Linux /proc). */
export function rssMiB(pid: number): number {
  const kib = (p: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${p}/status`, 'utf8'))?.[1] ?? 0);
  const children = (p: number): number[] => {
    try {
      return readdirSync(`/proc/${p}/task`).flatMap((t) =>
        readFileSync(`/proc/${p}/task/${t}/children`, 'utf8').split(' ').filter(Boolean).map(Number),
      );
    } catch {
      return [];
    }
  };
  const all = [pid];
  for (let i = 0; i < all.length; i++) all.push(...children(all[i] as number));
  return all.reduce((sum, p) => sum + kib(p), 0) / 1024;
}

/** CPU seconds (user + system, all threads) a process has used so far (Linux /proc). */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // After the command name: state is field 3, utime 14 and stime 15 (in clock ticks, 100 a second).
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/**
 * CPU seconds of every Postgres process on this machine (the server's and its backends'): the
 * database shares the cores here, where production has it on another host. Backends that exited
 * meanwhile are not counted (the pools' connections live through a run).
 */
export function postgresCpuSeconds(): number {
  let total = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() === 'postgres') total += cpuSeconds(Number(entry));
    } catch {
      // gone between the listing and the read
    }
  }
  return total;
}

/** nproc, CPU model and Node version, printed with every figure. */
export function machine(): string {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const model = /model name\s*:\s*(.+)/.exec(cpuinfo)?.[1]?.trim() ?? 'unknown CPU';
  const cores = cpuinfo.split('\n').filter((l) => l.startsWith('processor')).length;
  return `${cores} cores, ${model}, Node ${process.version}`;
}
