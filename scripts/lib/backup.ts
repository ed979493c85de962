// Backups of the database the config names (docs/deploy.md "Backups and restore"):
// - Postgres: pg_dump's custom format of the app's schemas (public, and drizzle's migration
//   journal) with the extensions they use; restored with pg_restore into an empty database.
// - Embedded PGlite: a tar.gz of DATA_DIR (database, local files, the generated keys), taken
//   while no server holds the folder; restored into an empty DATA_DIR.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import postgres from 'postgres';
import { lockDataDir } from '../../server/infra/data-dir-lock.js';

const run = promisify(execFile);
const SCHEMAS = ['public', 'drizzle'];
const EXTENSIONS = ['btree_gist', 'pg_trgm', 'unaccent', 'vector'];

export class BackupError extends Error {}

export interface Target {
  /** Postgres URL; undefined: the embedded database in `dataDir`. */
  databaseUrl?: string;
  dataDir: string;
}

async function tool(name: 'pg_dump' | 'pg_restore' | 'tar', args: string[]): Promise<string> {
  try {
    return (await run(name, args, { maxBuffer: 64 * 1024 * 1024 })).stdout;
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') throw new BackupError(`${name} is not installed (PostgreSQL client tools, the same major version as the server or newer)`);
    throw new BackupError(`${name} failed: ${(e.stderr ?? e.message).trim()}`);
  }
}

/** Writes a backup of the target to `file`. */
export async function backup(target: Target, file: string): Promise<void> {
  if (target.databaseUrl) {
    const only = [...SCHEMAS.flatMap((s) => ['--schema', s]), ...EXTENSIONS.flatMap((e) => ['--extension', e])];
    await tool('pg_dump', ['--format=custom', '--no-owner', '--no-privileges', ...only, '--file', file, '--dbname', target.databaseUrl]);
    return;
  }
  if (!existsSync(target.dataDir)) throw new BackupError(`DATA_DIR ${target.dataDir} does not exist: nothing to back up`);
  // Held for the copy: a running server (or seed) is refused with its pid, and cannot start meanwhile.
  const unlock = lockDataDir(target.dataDir);
  try {
    await tool('tar', ['-czf', path.resolve(file), '--exclude=./lock', '-C', target.dataDir, '.']);
  } finally {
    unlock();
  }
}

const isEmptyDir = (dir: string) => !existsSync(dir) || (statSync(dir).isDirectory() && readdirSync(dir).length === 0);

/** Restores `file` into the target, which must be empty (a fresh database, a new DATA_DIR). */
export async function restore(target: Target, file: string): Promise<void> {
  if (!existsSync(file)) throw new BackupError(`${file} does not exist`);
  if (target.databaseUrl) {
    const sql = postgres(target.databaseUrl, { max: 1, onnotice: () => {} });
    try {
      const [row] = await sql`select count(*)::int as n from pg_tables where schemaname = any(${SCHEMAS})`;
      if ((row?.n ?? 0) > 0) throw new BackupError('The target database is not empty: restore into a new database (createdb), then point DATABASE_URL at it');
    } finally {
      await sql.end();
    }
    // Every entry but the ones a fresh database already has (schema public) and the extensions'
    // stock comments (which only their owner may set): one transaction, stopped at the first error.
    const list = (await tool('pg_restore', ['--list', file]))
      .split('\n')
      .filter((line) => !/ (SCHEMA - public|COMMENT - SCHEMA public|COMMENT - EXTENSION) /.test(line))
      .join('\n');
    const dir = mkdtempSync(path.join(tmpdir(), 'opb-restore-'));
    try {
      writeFileSync(path.join(dir, 'list'), list);
      await tool('pg_restore', ['--no-owner', '--no-privileges', '--exit-on-error', '--single-transaction', '--use-list', path.join(dir, 'list'), '--dbname', target.databaseUrl, file]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    return;
  }
  if (!isEmptyDir(target.dataDir)) throw new BackupError(`DATA_DIR ${target.dataDir} is not empty: restore into a new folder, then point DATA_DIR at it`);
  const unlock = lockDataDir(target.dataDir);
  try {
    await tool('tar', ['-xzf', path.resolve(file), '-C', target.dataDir]);
  } finally {
    unlock();
  }
}
