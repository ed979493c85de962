import { AsyncLocalStorage } from 'node:async_hooks';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sql } from 'drizzle-orm';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import type { Sql } from 'postgres';
import * as schema from '../../shared/schema/index.js';
import { DataDirLockedError, lockDataDir } from './data-dir-lock.js';
import { databaseUnreachable } from '../lib/pg-errors.js';

export type Schema = typeof schema;
export type Db = PgDatabase<PgQueryResultHKT, Schema>;
export type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];

/** The rows of a raw `db.execute(sql...)`: postgres.js answers an array, PGlite `{ rows }`. */
export const rowsOf = <T>(result: unknown): T[] => (Array.isArray(result) ? (result as T[]) : (result as { rows: T[] }).rows);

export interface Database {
  db: Db;
  kind: 'pglite' | 'postgres';
  ping(): Promise<number>;
  migrate(): Promise<void>;
  /** Pool size, for /metrics. */
  poolMax: number;
  /** Called with the transaction object after each top-level `db.transaction` commits (the outbox's nudge). */
  onCommit(listener: CommitListener): () => void;
  close(): Promise<void>;
}

const here = path.dirname(fileURLToPath(import.meta.url));
/** migrations/ sits at the repository root; from server/infra in dev and from dist/ in the bundle. */
export const migrationsFolder =
  [path.resolve(here, '../../migrations'), path.resolve(here, '../migrations')].find((p) => existsSync(path.join(p, 'meta/_journal.json'))) ??
  path.resolve('migrations');

// Any constant works; it only has to be the same in every instance.
const MIGRATION_LOCK_ID = 7_245_001;

export type CommitListener = (tx: Tx) => void;

/**
 * Wraps `db.transaction` so listeners learn of each commit: the outbox relay starts delivering
 * the moment a transaction that published events commits, instead of at its next poll.
 */
function withCommitListeners(db: Db): (listener: CommitListener) => () => void {
  const listeners = new Set<CommitListener>();
  const transaction = db.transaction.bind(db);
  db.transaction = (async (run: (tx: Tx) => Promise<unknown>, config?: Parameters<Db['transaction']>[1]) => {
    let committed: Tx | undefined;
    const result = await transaction((tx) => {
      committed = tx;
      return run(tx);
    }, config);
    if (committed) for (const listener of listeners) listener(committed);
    return result;
  }) as Db['transaction'];
  return (listener) => {
    listeners.add(listener);
    return () => listeners.delete(listener);
  };
}

export interface DatabaseOptions {
  url?: string;
  /** PGlite data directory; undefined keeps it in memory. */
  dataDir?: string;
  /** Named prepared statements for every query (off behind Supabase's transaction pooler, which cannot keep them). */
  prepare?: boolean;
  poolMax?: number;
}

export async function openDatabase(opts: DatabaseOptions): Promise<Database> {
  return opts.url ? openPostgres(opts.url, opts) : openPglite(opts.dataDir);
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return Math.round((performance.now() - t0) * 100) / 100;
}

async function openPostgres(url: string, opts: DatabaseOptions): Promise<Database> {
  const { default: postgres } = await import('postgres');
  const { drizzle } = await import('drizzle-orm/postgres-js');
  const { migrate } = await import('drizzle-orm/postgres-js/migrator');
  const max = opts.poolMax ?? 10;
  const prepare = opts.prepare ?? true;
  // Prepared statements save the parse and a round trip; each execution is still planned for its
  // own values: after five runs Postgres may switch a statement to one generic plan, which for a
  // date range (analytics) took minutes where the value's plan takes a third of a second.
  const connection = prepare ? { plan_cache_mode: 'force_custom_plan' } : {};
  // Reconnect attempts 0.1 s apart, doubling up to 2 s (postgres.js waits up to 20 s): back within 2 s of the server.
  const backoff = (retries: number) => Math.min(0.1 * 2 ** retries, 2);
  const client = postgres(url, { max, prepare, connection, onnotice: () => {}, idle_timeout: 30, connect_timeout: 10, backoff });
  const db = drizzle(guarded(client, { prepare, gate: new OutageGate() }), { schema }) as unknown as Db;
  return {
    db,
    kind: 'postgres',
    onCommit: withCommitListeners(db),
    ping: () => timed(() => client`select 1`),
    async migrate() {
      // A dedicated single connection holds the advisory lock for the whole run.
      const lockClient = postgres(url, { max: 1, prepare: false, onnotice: () => {} });
      try {
        await lockClient`select pg_advisory_lock(${MIGRATION_LOCK_ID})`;
        await migrate(drizzle(lockClient), { migrationsFolder });
        await lockClient`select pg_advisory_unlock(${MIGRATION_LOCK_ID})`;
      } finally {
        await lockClient.end({ timeout: 5 });
      }
    },
    poolMax: max,
    close: () => client.end({ timeout: 5 }),
  };
}

/** Fails queries at once while Postgres is known to be unreachable, instead of queueing them behind reconnect attempts. */
class OutageGate {
  private downUntil = 0;
  private probing = false;

  constructor(private readonly cooldownMs = 1000) {}

  /** Before a query: throws while down; after the cool-down one query goes through to try the server again. */
  admit(): void {
    if (this.downUntil === 0) return;
    if (Date.now() < this.downUntil || this.probing) throw Object.assign(new Error('database unreachable (recent connection failures)'), { code: 'DATABASE_DOWN' });
    this.probing = true;
  }

  /** After a query: a connection failure closes the gate for the cool-down; anything else (even a SQL error) reopens it. */
  settled(err?: unknown): void {
    this.probing = false;
    if (err !== undefined && databaseUnreachable(err)) this.downUntil = Date.now() + this.cooldownMs;
    else this.downUntil = 0;
  }
}

/**
 * The postgres.js handle drizzle gets: every query passes the outage gate, and with `prepare` it
 * is a named prepared statement of its connection. Drizzle asks postgres.js not to prepare any
 * query it did not name (`prepare: false` on every call), and postgres.js then sends a
 * parameterised query in two round trips (parse and describe, wait, then bind and execute) and has
 * Postgres plan it each time; prepared, it is one round trip and no parsing once seen. Statements
 * live as long as their connection (postgres.js recycles connections after 30-60 minutes).
 */
function guarded(client: Sql, opts: { prepare: boolean; gate: OutageGate; inTransaction?: boolean }): Sql {
  const { gate } = opts;
  // A transaction passed the gate when it began: its own queries are not held back.
  const admit = () => opts.inTransaction || gate.admit();
  const watch = <T extends PromiseLike<unknown>>(query: T): T => {
    // postgres.js queries run when first awaited (a microtask later): drizzle's `.values()` still applies.
    query.then(
      () => gate.settled(),
      (err: unknown) => gate.settled(err),
    );
    return query;
  };
  return new Proxy(client, {
    get(target, prop, receiver) {
      if (prop === 'unsafe') {
        return (query: string, params?: never[], options?: { prepare?: boolean }) => {
          admit();
          return watch(target.unsafe(query, params, opts.prepare ? { ...options, prepare: true } : options));
        };
      }
      // Transactions and savepoints hand their own connection to the callback: it is handled the same way.
      if (prop === 'begin' || prop === 'savepoint') {
        const method = Reflect.get(target, prop, receiver) as (...args: unknown[]) => Promise<unknown>;
        return (...args: unknown[]) => {
          const run = args.pop() as (sql: Sql) => unknown;
          if (prop === 'begin') admit();
          const started = method.call(target, ...args, (sql: Sql) => run(guarded(sql, { ...opts, inTransaction: true })));
          return prop === 'begin' ? watch(started) : started;
        };
      }
      return Reflect.get(target, prop, receiver);
    },
  });
}

async function openPglite(dataDir: string | undefined): Promise<Database> {
  const { PGlite } = await import('@electric-sql/pglite');
  // The same extensions as Supabase and Debian's Postgres contrib: exclusion constraints,
  // trigram and accent-insensitive search, vectors for RAG.
  const [{ btree_gist }, { pg_trgm }, { unaccent }, { vector }] = await Promise.all([
    import('@electric-sql/pglite/contrib/btree_gist'),
    import('@electric-sql/pglite/contrib/pg_trgm'),
    import('@electric-sql/pglite/contrib/unaccent'),
    import('@electric-sql/pglite/vector'),
  ]);
  const extensions = { btree_gist, pg_trgm, unaccent, vector };
  const { drizzle } = await import('drizzle-orm/pglite');
  const { migrate } = await import('drizzle-orm/pglite/migrator');
  if (dataDir) mkdirSync(dataDir, { recursive: true });
  const unlock = dataDir ? lockDataDir(dataDir) : () => {};
  const client = dataDir ? new PGlite(path.join(dataDir, 'pglite'), { extensions }) : new PGlite({ extensions });
  try {
    await client.waitReady;
  } catch (err) {
    unlock();
    throw err;
  }
  guardNestedQueries(client);
  const db = drizzle(client, { schema }) as unknown as Db;
  return {
    db,
    kind: 'pglite',
    onCommit: withCommitListeners(db),
    ping: () => timed(() => client.query('select 1')),
    async migrate() {
      await db.execute(sql`select pg_advisory_lock(${MIGRATION_LOCK_ID})`);
      try {
        await migrate(drizzle(client), { migrationsFolder });
      } finally {
        await db.execute(sql`select pg_advisory_unlock(${MIGRATION_LOCK_ID})`);
      }
    },
    poolMax: 1,
    async close() {
      await client.close();
      unlock();
    },
  };
}

/**
 * One line for a database that cannot be opened at boot (missing, unreachable, refused login, a
 * DATA_DIR held by another process), instead of the driver's stack; undefined for anything else.
 */
export function databaseStartupProblem(err: unknown, url: string | undefined): string | undefined {
  if (err instanceof DataDirLockedError) return err.message;
  const e = (err ?? {}) as { code?: string; cause?: { code?: string } };
  const code = e.code ?? e.cause?.code;
  if (!url || !code) return undefined;
  let where = 'the database server';
  let name = '';
  try {
    const u = new URL(url);
    where = `${u.hostname}:${u.port || '5432'}`;
    name = decodeURIComponent(u.pathname.slice(1));
  } catch {
    // Not a URL: keep the generic words.
  }
  switch (code) {
    case '3D000':
      return `Database "${name}" does not exist on ${where}: create it (e.g. createdb -h ${where.split(':')[0]} ${name}) or fix DATABASE_URL.`;
    case '28P01':
    case '28000':
      return `Postgres at ${where} refused the login in DATABASE_URL: check the user and password.`;
    case 'ECONNREFUSED':
    case 'ENOTFOUND':
    case 'ETIMEDOUT':
    case 'CONNECT_TIMEOUT':
      return `Cannot reach Postgres at ${where} (${code}): is it running, and is DATABASE_URL right?`;
    default:
      return undefined;
  }
}

/**
 * PGlite has one connection: a query on the database handle (not the transaction's `tx`) inside a
 * transaction waits for that transaction, which waits for the query, forever. Such a query throws
 * instead, so a test on the embedded database catches the mistake (on Postgres it would silently
 * run outside the transaction).
 */
function guardNestedQueries(client: { transaction: unknown; query: unknown; exec: unknown }) {
  const inTransaction = new AsyncLocalStorage<true>();
  const wrap = <F extends (...args: never[]) => Promise<unknown>>(fn: F, guarded: boolean): F =>
    ((...args: never[]) => {
      if (guarded && inTransaction.getStore()) {
        return Promise.reject(new Error('A query on infra.db ran inside a transaction: use the transaction handle (tx)'));
      }
      return guarded ? fn(...args) : inTransaction.run(true, () => fn(...args));
    }) as F;
  const c = client as Record<'transaction' | 'query' | 'exec', (...args: never[]) => Promise<unknown>>;
  c.query = wrap(c.query.bind(client), true);
  c.exec = wrap(c.exec.bind(client), true);
  c.transaction = wrap(c.transaction.bind(client), false);
}
