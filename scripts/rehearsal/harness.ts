// Step runner for the deploy rehearsal: each step prints PASS or FAIL with its evidence;
// cleanups run in reverse order whatever happens.

export class CheckFailed extends Error {}

export function check(condition: unknown, message: string): asserts condition {
  if (!condition) throw new CheckFailed(message);
}

export class Harness {
  private readonly cleanups: { label: string; fn: () => Promise<void> | void }[] = [];
  private readonly results: { name: string; ok: boolean; detail: string; ms: number }[] = [];

  constructor(private readonly title = 'rehearsal') {}

  /** Runs one step; returns false (after printing FAIL) when it throws. */
  async step(name: string, fn: () => Promise<string>): Promise<boolean> {
    const t0 = Date.now();
    process.stdout.write(`\n--- ${name}\n`);
    try {
      const detail = await fn();
      this.results.push({ name, ok: true, detail, ms: Date.now() - t0 });
      process.stdout.write(`PASS ${name} (${((Date.now() - t0) / 1000).toFixed(1)} s): ${detail}\n`);
      return true;
    } catch (err) {
      const detail = err instanceof CheckFailed ? err.message : ((err as Error).stack ?? String(err));
      this.results.push({ name, ok: false, detail, ms: Date.now() - t0 });
      process.stdout.write(`FAIL ${name}: ${detail}\n`);
      return false;
    }
  }

  log(line: string) {
    process.stdout.write(`     ${line}\n`);
  }

  onCleanup(label: string, fn: () => Promise<void> | void) {
    this.cleanups.push({ label, fn });
  }

  async cleanup() {
    for (const { label, fn } of this.cleanups.reverse()) {
      try {
        await fn();
      } catch (err) {
        process.stdout.write(`     cleanup "${label}" failed: ${(err as Error).message}\n`);
      }
    }
  }

  summary(): boolean {
    const failed = this.results.filter((r) => !r.ok);
    process.stdout.write(`\n=== ${this.title}: ${this.results.length - failed.length} passed, ${failed.length} failed\n`);
    for (const r of this.results) process.stdout.write(`${r.ok ? 'PASS' : 'FAIL'} ${r.name}\n`);
    return failed.length === 0;
  }
}


export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs: number, everyMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await fn();
      if (value !== undefined) return value;
    } catch (err) {
      lastError = err;
    }
    await sleep(everyMs);
  }
  throw new CheckFailed(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? ` (${(lastError as Error).message})` : ''}`);
}
