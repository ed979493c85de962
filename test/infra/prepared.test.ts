import { sql } from 'drizzle-orm';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { openDatabase, type Database } from '../../server/infra/db.js';
import { canRun } from '../helpers/skip.js';

// Statements prepared on the connection that ran them (pg_prepared_statements is per session):
// one connection per pool, so the second query sees what the first left.
const databaseUrl = inject('databaseUrl');
const opened: Database[] = [];
afterAll(async () => {
  for (const d of opened) await d.close();
});

async function preparedCount(prepare: boolean) {
  const database = await openDatabase({ url: databaseUrl, poolMax: 1, prepare });
  opened.push(database);
  // Each probe's text is its own, so the transaction's cannot be the pool's statement seen again.
  const probe = async (run: typeof database.db.execute, label: string) => {
    await run(sql`select ${label}::text as ${sql.raw(`probe_${label}`)}`);
    const [row] = (await run(sql`select count(*)::int as n from pg_prepared_statements where statement like ${`%as probe_${label}%`}`)) as unknown as { n: number }[];
    return row?.n ?? 0;
  };
  const pooled = await probe(database.db.execute.bind(database.db), 'pool');
  const inTransaction = await database.db.transaction((tx) => probe(tx.execute.bind(tx), 'tx'));
  return { pooled, inTransaction };
}

describe.runIf(canRun('prepared statements', databaseUrl, 'needs Postgres: set TEST_DATABASE_URL'))('prepared statements on Postgres', () => {
  it('prepares every query, in and out of transactions, and none when told not to (a transaction pooler)', async () => {
    expect(await preparedCount(true)).toEqual({ pooled: 1, inTransaction: 1 });
    expect(await preparedCount(false)).toEqual({ pooled: 0, inTransaction: 0 });
  });

  it('plans each run of a prepared statement for its own values (a generic plan made a range query take minutes)', async () => {
    const database = await openDatabase({ url: databaseUrl, poolMax: 1, prepare: true });
    opened.push(database);
    const [row] = (await database.db.execute(sql`select current_setting('plan_cache_mode') as mode`)) as unknown as { mode: string }[];
    expect(row?.mode).toBe('force_custom_plan');
  });
});
