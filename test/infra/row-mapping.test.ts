import { eq, sql } from 'drizzle-orm';
import { pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { openDatabase, type Database } from '../../server/infra/db.js';

// drizzle's row mapping is patched at install (scripts/patch-dependencies.mjs): flat selections
// map through decoders worked out once per query. Both shapes must still map as drizzle does.
const owners = pgTable('mapping_owners', { id: uuid('id').primaryKey(), name: text('name').notNull() });
const pets = pgTable('mapping_pets', {
  id: uuid('id').primaryKey(),
  ownerId: uuid('owner_id'),
  name: text('name').notNull(),
  bornAt: timestamp('born_at', { withTimezone: true }),
});

const OWNER = '00000000-0000-4000-8000-000000000001';
const databaseUrl = inject('databaseUrl');

describe.each([['embedded', undefined], ['Postgres', databaseUrl]].filter(([, url], i) => i === 0 || url))('row mapping (%s)', (_label, url) => {
  let database: Database;
  beforeAll(async () => {
    database = await openDatabase(url ? { url, poolMax: 1 } : {});
    const { db } = database;
    await db.execute(sql`drop table if exists mapping_pets, mapping_owners`);
    await db.execute(sql`create table mapping_owners (id uuid primary key, name text not null)`);
    await db.execute(sql`create table mapping_pets (id uuid primary key, owner_id uuid, name text not null, born_at timestamptz)`);
    await db.insert(owners).values({ id: OWNER, name: 'Ana' });
    await db.insert(pets).values([
      { id: '00000000-0000-4000-8000-000000000011', ownerId: OWNER, name: 'Rex', bornAt: new Date('2020-03-04T05:06:07.000Z') },
      { id: '00000000-0000-4000-8000-000000000012', ownerId: null, name: 'Mia', bornAt: null },
    ]);
  });
  afterAll(async () => {
    await database.db.execute(sql`drop table if exists mapping_pets, mapping_owners`);
    await database.close();
  });

  it('a flat selection decodes each column (a timestamp to a Date, a null as null), run after run of a prepared query', async () => {
    const query = database.db.select({ name: pets.name, bornAt: pets.bornAt, owner: owners.name }).from(pets).leftJoin(owners, eq(owners.id, pets.ownerId)).orderBy(pets.name).prepare('mapping_flat');
    for (let run = 0; run < 3; run++) {
      expect(await query.execute()).toEqual([
        { name: 'Mia', bornAt: null, owner: null },
        { name: 'Rex', bornAt: new Date('2020-03-04T05:06:07.000Z'), owner: 'Ana' },
      ]);
    }
  });

  it('a nested selection keeps drizzle own mapping: a left-joined table with no row is null', async () => {
    const rows = await database.db.select({ pet: { name: pets.name }, owner: { name: owners.name } }).from(pets).leftJoin(owners, eq(owners.id, pets.ownerId)).orderBy(pets.name);
    expect(rows).toEqual([
      { pet: { name: 'Mia' }, owner: null },
      { pet: { name: 'Rex' }, owner: { name: 'Ana' } },
    ]);
  });
});
