import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, expect } from 'vitest';

const children = new Set<ChildProcess>();
afterAll(() => {
  for (const proc of children) proc.kill('SIGKILL');
});

/** Runs a TypeScript child until it prints its first line (a JSON report), then SIGKILLs it mid-work. */
export async function reportThenKill<T>(script: string, env: Record<string, string>): Promise<T> {
  const proc = spawn(process.execPath, ['--import', 'tsx', script], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  children.add(proc);
  const report = await new Promise<string>((resolve, reject) => {
    let out = '';
    proc.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('\n')) resolve(out.split('\n')[0] as string);
    });
    proc.once('exit', (code) => reject(new Error(`child exited early (${code})`)));
  });
  const exited = new Promise((resolve) => proc.once('exit', (_code, signal) => resolve(signal)));
  proc.kill('SIGKILL');
  expect(await exited).toBe('SIGKILL');
  return JSON.parse(report) as T;
}
