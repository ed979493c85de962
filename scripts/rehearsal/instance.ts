// One app process started the way EB starts it: the Procfile's web command, from the bundle
// folder, with environment properties only (no .env, no dev tools on PATH).
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import path from 'node:path';
import { check, waitFor } from './harness.js';
import { cleanEnv } from './run.js';

export interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

export class Instance {
  private child?: ChildProcess;
  private exit?: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly logFile: string;

  constructor(
    readonly name: string,
    readonly port: number,
    private readonly bundleDir: string,
    private readonly command: string,
    private readonly env: Record<string, string>,
    logDir: string,
  ) {
    this.logFile = path.join(logDir, `app-${name}.log`);
  }

  get pid(): number {
    return this.child?.pid ?? 0;
  }

  get running(): boolean {
    return Boolean(this.child && this.child.exitCode === null && this.child.signalCode === null);
  }

  /** Exited by itself with a failure (not stopped by a signal or a clean drain). */
  get crashed(): boolean {
    return Boolean(this.child && this.child.exitCode !== null && this.child.exitCode !== 0);
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  start() {
    const out = createWriteStream(this.logFile, { flags: 'a' });
    // `exec` so SIGTERM reaches node itself, as the platform's process manager does.
    const child = spawn('/bin/sh', ['-c', `exec ${this.command}`], {
      cwd: this.bundleDir,
      env: cleanEnv({ ...this.env, PORT: String(this.port), HOST: '127.0.0.1' }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.pipe(out);
    child.stderr?.pipe(out);
    this.exit = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
    this.child = child;
  }

  async waitHealthy(timeoutMs = 60_000) {
    await waitFor(
      `${this.name} to answer /api/health`,
      async () => {
        if (this.child?.exitCode !== null) throw new Error(`${this.name} exited: ${this.tail()}`);
        const res = await fetch(`${this.url}/api/health`);
        return res.status === 200 ? true : undefined;
      },
      timeoutMs,
    );
  }

  logs(): LogLine[] {
    const lines: LogLine[] = [];
    for (const raw of readFileSync(this.logFile, 'utf8').split('\n')) {
      if (!raw.startsWith('{')) continue;
      try {
        lines.push(JSON.parse(raw) as LogLine);
      } catch {
        // a line cut by a crash; the tail shows it
      }
    }
    return lines;
  }

  tail(lines = 15): string {
    return readFileSync(this.logFile, 'utf8').trim().split('\n').slice(-lines).join('\n');
  }

  /** Sends SIGTERM; resolves with the exit code, or fails when it outlives the drain timeout. */
  async terminate(timeoutMs: number): Promise<number | null> {
    const child = this.child;
    check(child && this.exit, `${this.name} was never started`);
    if (child.exitCode !== null) return child.exitCode;
    child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const result = await Promise.race([
      this.exit,
      new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), timeoutMs);
      }),
    ]);
    clearTimeout(timer);
    if (result === 'timeout') {
      child.kill('SIGKILL');
      throw new Error(`${this.name} did not exit within ${timeoutMs} ms of SIGTERM`);
    }
    return result.code;
  }

  /** SIGKILL: no drain and no cleanup, as a host that died. */
  async kill() {
    const child = this.child;
    check(child && this.exit, `${this.name} was never started`);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await this.exit;
  }

  /** Cleanup: stops the process if it still runs. */
  async stop() {
    if (this.child && this.child.exitCode === null && this.child.signalCode === null) {
      await this.terminate(30_000).catch(() => undefined);
    }
  }
}
