import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../scripts/lib/free-port.js';
import { openDatabase } from '../server/infra/db.js';
import { DataDirLockedError, lockDataDir } from '../server/infra/data-dir-lock.js';
import { until } from './helpers/until.js';

/** What a newcomer does: `npm start`, `npm run seed` beside it, curl, then Ctrl-C or kill. */
const root = mkdtempSync(path.join(tmpdir(), 'opb-newcomer-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const cleanEnv = (extra: Record<string, string>) => ({ PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? root, NODE_ENV: 'development', ...extra });

function npm(args: string[], env: Record<string, string>) {
  // Its own process group, so a failed test can kill npm and the server under it at once.
  const child = spawn('npm', args, { env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code, signal) => resolve(code ?? (signal ? -1 : null))));
  return { child, exited, output: () => output };
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};


async function started(base: string, child: ChildProcess, output: () => string) {
  const deadline = Date.now() + 150_000;
  while (!(await fetch(`${base}/api/health`).then((r) => r.ok, () => false))) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`server did not start:\n${output()}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe('DATA_DIR lock', () => {
  it('takes over a lock left by a process that died, and releases it', () => {
    const dataDir = path.join(root, 'lock-unit');
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(path.join(dataDir, 'lock'), '999999999\n');
    const release = lockDataDir(dataDir);
    expect(readFileSync(path.join(dataDir, 'lock'), 'utf8').trim()).toBe(String(process.pid));
    release();
    expect(existsSync(path.join(dataDir, 'lock'))).toBe(false);
  });
});

describe('npm start, npm run seed and signals', () => {
  const dataDir = path.join(root, 'data');

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`seeds through the running server, refuses a second opener, and stops on ${signal} to npm's pid with no orphan`, async () => {
      const port = await freePort();
      // The second run binds every interface on purpose: embedded mode must warn about it.
      const exposed = signal === 'SIGINT';
      const env = { PORT: String(port), DATA_DIR: dataDir, LOG_LEVEL: 'info', ...(exposed ? { HOST: '0.0.0.0' } : {}) };
      const server = npm(['start'], env);
      const base = `http://127.0.0.1:${port}`;
      try {
        await started(base, server.child, server.output);
        // Log lines are written in batches: the last ones may land just after /health answers
        // (seconds later on a loaded host).
        await until(() => server.output().includes('`npm run seed` creates a demo clinic'), 20_000);
        if (exposed) expect(server.output()).toContain('embedded mode is reachable from other machines');
        else {
          expect(server.output()).toContain(`reference at http://localhost:${port}/api/docs`);
          expect(server.output()).not.toContain('reachable from other machines');
        }
        const serverPid = Number(readFileSync(path.join(dataDir, 'lock'), 'utf8'));
        expect(alive(serverPid)).toBe(true);

        // A second process opening the folder is refused with the holder's pid...
        const refused = await openDatabase({ dataDir }).then(() => undefined, (err: unknown) => err);
        expect(refused).toBeInstanceOf(DataDirLockedError);
        expect((refused as Error).message).toContain(`pid ${serverPid}`);

        // ...and the seed goes through the server; its logins work.
        const seed = npm(['run', 'seed'], env);
        expect(await seed.exited, seed.output()).toBe(0);
        expect(seed.output()).toContain('through the running server');
        const [email, password] = seed.output().match(/professional\s+(\S+)\s+(\S+)/)?.slice(1) ?? [];
        const login = await fetch(`${base}/api/auth/login`, { method: 'POST', headers: { 'Content-Type': 'application/json', Origin: base }, body: JSON.stringify({ email, password }) });
        expect(login.status).toBe(200);

        server.child.kill(signal);
        expect(await server.exited, server.output().slice(-2000)).toBe(0);
        expect(server.output()).toContain('"stopped"');
        expect(alive(serverPid)).toBe(false);
        expect(existsSync(path.join(dataDir, 'lock'))).toBe(false);
      } finally {
        if (server.child.exitCode === null && server.child.pid) process.kill(-server.child.pid, 'SIGKILL');
      }
    }, 300_000);
  }
});

describe('a real-Postgres start that cannot open its database', () => {
  async function start(databaseUrl: string) {
    const child = spawn(process.execPath, ['--import', 'tsx', 'server/index.ts'], {
      env: cleanEnv({ DATABASE_URL: databaseUrl, PORT: String(await freePort()), LOG_LEVEL: 'info' }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    return { code, stderr };
  }

  it('says in one line that Postgres cannot be reached', async () => {
    const { code, stderr } = await start('postgres://postgres@127.0.0.1:9/operabase');
    expect(code).toBe(1);
    expect(stderr.trim()).toBe('Failed to start: Cannot reach Postgres at 127.0.0.1:9 (ECONNREFUSED): is it running, and is DATABASE_URL right?');
  }, 60_000);

  const server = process.env.TEST_DATABASE_URL;
  if (!server) console.info('skipped "names a missing database in one line": it needs a Postgres server (TEST_DATABASE_URL)');
  it.skipIf(!server)('names a missing database in one line', async () => {
    const url = new URL(server ?? 'postgres://x');
    url.pathname = '/opb_missing_database';
    const { code, stderr } = await start(url.toString());
    expect(code).toBe(1);
    expect(stderr.trim().split('\n')).toEqual([expect.stringMatching(/^Failed to start: Database "opb_missing_database" does not exist on 127\.0\.0\.1:5432: create it/)]);
  }, 60_000);
});
