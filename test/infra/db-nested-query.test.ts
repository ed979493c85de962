import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../server/infra/db.js';

// PGlite has a single connection: a query on the database handle inside a transaction would wait
// for the transaction forever. It fails loudly instead, so the mistake shows in any embedded test.
describe('a query on the database handle inside a transaction (embedded)', () => {
  let database: Database;
  beforeAll(async () => {
    database = await openDatabase({});
  });
  afterAll(() => database.close());

  it('is refused with a message naming the fix, and the transaction rolls back', async () => {
    const { db } = database;
    await db.execute(sql`create table nested_probe (n int)`);
    const attempt = db.transaction(async (tx) => {
      await tx.execute(sql`insert into nested_probe values (1)`);
      await db.execute(sql`select count(*) from nested_probe`);
    });
    // drizzle wraps the driver's error as `Failed query: ...` with the reason as its cause.
    await expect(attempt).rejects.toMatchObject({ cause: { message: expect.stringMatching(/inside a transaction: use the transaction handle \(tx\)/) } });
    const rows = (await db.execute(sql`select count(*)::int as n from nested_probe`)) as unknown as { rows: { n: number }[] };
    expect(rows.rows[0]?.n).toBe(0);
  });

  it('still lets the transaction handle and concurrent outside queries run', async () => {
    const { db } = database;
    const outside = db.execute(sql`select 1`);
    const inside = db.transaction(async (tx) => ((await tx.execute(sql`select 2 as v`)) as unknown as { rows: { v: number }[] }).rows[0]?.v);
    await expect(Promise.all([outside, inside])).resolves.toHaveLength(2);
    expect(await inside).toBe(2);
  });
});
