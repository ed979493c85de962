// Private Redis and Postgres for the fault scripts and the load benches: started on free ports in
// the run's work folder, so a script may kill or restart them and their figures are the run's
// alone. The machine's shared 5432 and 6379 are never touched.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import postgres from 'postgres';
import { freePort } from '../../scripts/lib/free-port.js';
import { waitFor } from '../../scripts/rehearsal/harness.js';
import { run } from '../../scripts/rehearsal/run.js';

const PG_BIN = '/usr/lib/postgresql/15/bin';

export class PrivateRedis {
  private child?: ChildProcess;

  private constructor(
    readonly port: number,
    private readonly dir: string,
    private readonly persistent: boolean,
  ) {}

  /** `persistent`: an append-only file, as a managed Redis with persistence (the faults); off, nothing on disk (the load). */
  static async start(workDir: string, { persistent = true } = {}): Promise<PrivateRedis> {
    const redis = new PrivateRedis(await freePort(), path.join(workDir, 'redis'), persistent);
    mkdirSync(redis.dir, { recursive: true });
    await redis.up();
    return redis;
  }

  get url() {
    return `redis://127.0.0.1:${this.port}`;
  }

  async up() {
    // Append-only file, fsync every second, as a managed Redis with persistence: a restarted node
    // comes back with its keys (sessions, queued jobs) less the last second.
    const persistence = this.persistent ? ['--appendonly', 'yes', '--appendfsync', 'everysec'] : ['--appendonly', 'no'];
    this.child = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', ...persistence, '--dir', this.dir], { stdio: 'ignore' });
    await waitFor(`redis on ${this.port}`, async () => ((await run('redis-cli', ['-p', String(this.port), 'ping'], { allowFailure: true })).stdout.trim() === 'PONG' ? true : undefined), 10_000);
  }

  /** SIGKILL: no shutdown; what the append-only file holds survives. */
  async kill() {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }
}

export class PrivatePostgres {
  private constructor(readonly port: number, private readonly dir: string) {}

  static async start(workDir: string): Promise<PrivatePostgres> {
    const pg = new PrivatePostgres(await freePort(), path.join(workDir, 'pg'));
    mkdirSync(pg.dir, { recursive: true });
    // initdb refuses root: the cluster belongs to the postgres account, as the packaged one does,
    // which needs to pass through the work folder (traverse only, no listing).
    if (process.getuid?.() === 0) chmodSync(workDir, 0o711);
    if (process.getuid?.() === 0) chownSync(pg.dir, Number((await run('id', ['-u', 'postgres'])).stdout.trim()), Number((await run('id', ['-g', 'postgres'])).stdout.trim()));
    await pg.ctl('initdb', ['-D', pg.dataDir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C.UTF-8']);
    await pg.pgctl('start');
    return pg;
  }

  get dataDir() {
    return path.join(this.dir, 'data');
  }

  url(database = 'postgres') {
    return `postgres://postgres@127.0.0.1:${this.port}/${database}`;
  }

  async createDatabase(name: string): Promise<string> {
    await this.query(`create database ${name}`);
    return this.url(name);
  }

  /** One connection per call: the cluster may have been restarted since the last one. */
  async query<T extends Record<string, unknown>>(sql: string, params: unknown[] = [], database = 'app'): Promise<T[]> {
    const db = postgres(this.url(sql.startsWith('create database') ? 'postgres' : database), { max: 1, onnotice: () => {}, connect_timeout: 5 });
    try {
      return (await db.unsafe(sql, params as never[])) as unknown as T[];
    } finally {
      await db.end({ timeout: 1 });
    }
  }

  /** `pg_ctl stop -m fast` (open connections are cut), `gapMs` down, then start: with no gap, `pg_ctl restart -m fast`. */
  async restart(gapMs: number) {
    if (gapMs === 0) return this.pgctl('restart', ['-m', 'fast']);
    await this.pgctl('stop', ['-m', 'fast']);
    await new Promise((resolve) => setTimeout(resolve, gapMs));
    await this.pgctl('start');
  }

  async stop() {
    await this.pgctl('stop', ['-m', 'immediate']).catch(() => undefined);
  }

  private pgctl(action: string, extra: string[] = []) {
    const options = `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1 -c max_connections=200`;
    return this.ctl('pg_ctl', [action, '-D', this.dataDir, '-w', '-l', path.join(this.dir, 'server.log'), '-o', options, ...extra]);
  }

  private ctl(binary: string, args: string[]) {
    const command = path.join(PG_BIN, binary);
    return process.getuid?.() === 0 ? run('runuser', ['-u', 'postgres', '--', command, ...args]) : run(command, args);
  }
}
