import { AsyncLocalStorage } from 'node:async_hooks';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sql } from 'drizzle-orm';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import * as schema from '../../shared/schema/index.js';

export type Schema = typeof schema;
export type Db = PgDatabase<PgQueryResultHKT, Schema>;
export type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];

export interface Database {
  db: Db;
  kind: 'pglite' | 'postgres';
  ping(): Promise<number>;
  migrate(): Promise<void>;
  /** Pool size, for /metrics. */
  poolMax: number;
  close(): Promise<void>;
}

const here = path.dirname(fileURLToPath(import.meta.url));
/** migrations/ sits at the repository root; from server/infra in dev and from dist/ in the bundle. */
export const migrationsFolder =
  [path.resolve(here, '../../migrations'), path.resolve(here, '../migrations')].find((p) => existsSync(path.join(p, 'meta/_journal.json'))) ??
  path.resolve('migrations');

// Any constant works; it only has to be the same in every instance.
const MIGRATION_LOCK_ID = 7_245_001;

export interface DatabaseOptions {
  url?: string;
  /** PGlite data directory; undefined keeps it in memory. */
  dataDir?: string;
  pooler?: boolean;
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
  const client = postgres(url, { max, prepare: !opts.pooler, onnotice: () => {}, idle_timeout: 30, connect_timeout: 10 });
  const db = drizzle(client, { schema }) as unknown as Db;
  return {
    db,
    kind: 'postgres',
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
  const client = dataDir ? new PGlite(path.join(dataDir, 'pglite'), { extensions }) : new PGlite({ extensions });
  await client.waitReady;
  guardNestedQueries(client);
  const db = drizzle(client, { schema }) as unknown as Db;
  return {
    db,
    kind: 'pglite',
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
    close: () => client.close(),
  };
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
