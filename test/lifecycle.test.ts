import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../scripts/lib/free-port.js';


const dataDir = mkdtempSync(path.join(tmpdir(), 'opb-lifecycle-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

describe('process lifecycle', () => {
  it('on SIGTERM finishes the request in flight, refuses new connections and exits 0', async () => {
    const port = await freePort();
    // One node process (no npx/tsx wrapper in between), as the Procfile runs it.
    const child = spawn(process.execPath, ['--import', 'tsx', 'server/index.ts'], {
      env: { PATH: process.env.PATH ?? '', NODE_ENV: 'development', PORT: String(port), HOST: '127.0.0.1', DATA_DIR: dataDir, ENABLE_TEST_ROUTES: 'true', LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    const base = `http://127.0.0.1:${port}`;
    try {
      const deadline = Date.now() + 150_000;
      for (;;) {
        const ok = await fetch(`${base}/api/health`).then((r) => r.ok, () => false);
        if (ok) break;
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`server did not start:\n${output}`);
        await new Promise((r) => setTimeout(r, 250));
      }

      const slow = fetch(`${base}/api/test/slow?ms=2500`).then(async (r) => ({ status: r.status, body: (await r.json()) as unknown }));
      await new Promise((r) => setTimeout(r, 500));
      child.kill('SIGTERM');
      await new Promise((r) => setTimeout(r, 300));
      const refused = await fetch(`${base}/api/health`).then(
        (r) => `answered ${r.status}`,
        (err: Error & { cause?: { code?: string } }) => err.cause?.code ?? err.message,
      );
      expect(refused).toBe('ECONNREFUSED');
      expect(await slow).toEqual({ status: 200, body: { waitedMs: 2500 } });
      const code = await exited;
      expect(code, output.slice(-3000)).toBe(0);
      expect(output).toContain('"stopped"');
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  }, 200_000);
});
