import { and, eq, type SQL } from 'drizzle-orm';
import type { PgColumn, PgInsertValue, PgTable, PgUpdateSetSource, SelectedFields } from 'drizzle-orm/pg-core';
import type { Db, Tx } from './db.js';

/** A table whose rows belong to one clinic. */
export type ClinicTable = PgTable & { clinicId: PgColumn };
type Condition = SQL | undefined;
// Not `Omit<PgInsertValue<T>, 'clinicId'>`: its keyof holds only the required columns, so Omit drops
// every optional one (appointmentId, defaults...) and refuses them in an insert.
type Values<T extends ClinicTable> = { [K in keyof T['$inferInsert'] as K extends 'clinicId' ? never : K]: T['$inferInsert'][K] | SQL };

/**
 * A clinic's data: every select, update and delete through it carries the clinic filter and every
 * insert the clinic id. Modules reach tenant tables only through it (test/infra/clinic-scope-guard.test.ts
 * fails on a raw query of a tenant table); the few cross-clinic reads and jobs use `infra.systemDb`,
 * loudly named. Build one per use: `new ClinicData(ctx.clinicId, infra.db)`, or `data.transaction`.
 */
export class ClinicData {
  constructor(
    readonly clinicId: string,
    private readonly db: Db | Tx,
  ) {}

  /** The clinic filter of `table` with the given conditions: for joins, subqueries and counts. */
  owns(table: ClinicTable, ...conditions: Condition[]): SQL {
    return and(eq(table.clinicId, this.clinicId), ...conditions) as SQL;
  }

  /** Whole rows of `table` (of this clinic) matching the conditions. */
  select<T extends ClinicTable>(table: T, ...conditions: Condition[]) {
    return this.db.select().from<T>(table as never).where(this.owns(table, ...conditions));
  }

  /** Chosen fields of `table`'s rows (of this clinic); a joined table gets `data.owns(joined, ...)` as its join condition. */
  pick<F extends SelectedFields, T extends ClinicTable>(fields: F, table: T, ...conditions: Condition[]) {
    return this.db.select(fields).from<T>(table as never).where(this.owns(table, ...conditions));
  }

  insert<T extends ClinicTable>(table: T, values: Values<T> | Values<T>[]) {
    const rows = (Array.isArray(values) ? values : [values]).map((v) => ({ ...v, clinicId: this.clinicId }) as PgInsertValue<T>);
    return this.db.insert(table).values(rows);
  }

  /** A row never moves to another clinic: `set` has no clinicId. */
  update<T extends ClinicTable>(table: T, set: Omit<PgUpdateSetSource<T>, 'clinicId'>, ...conditions: Condition[]) {
    return this.db.update(table).set(set as PgUpdateSetSource<T>).where(this.owns(table, ...conditions));
  }

  delete<T extends ClinicTable>(table: T, ...conditions: Condition[]) {
    return this.db.delete(table).where(this.owns(table, ...conditions));
  }

  /** The same clinic inside one transaction. */
  transaction<R>(run: (data: ClinicData, tx: Tx) => Promise<R>): Promise<R> {
    return this.db.transaction((tx) => run(new ClinicData(this.clinicId, tx), tx));
  }
}
