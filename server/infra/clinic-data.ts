import { and, eq, is, Param, Placeholder, sql, type SQL } from 'drizzle-orm';
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
  /** The clinic's id, or in a query built by `ClinicQuery` the placeholder its `run` fills. */
  #clinic: string | Placeholder;

  constructor(
    clinicId: string,
    private readonly db: Db | Tx,
  ) {
    this.#clinic = clinicId;
  }

  get clinicId(): string {
    if (typeof this.#clinic !== 'string') throw new Error('A prepared query knows its clinic only when it runs: filter with data.owns');
    return this.#clinic;
  }

  /** Builds a query whose clinic filter is the placeholder that `ClinicQuery.run` fills. */
  static forPreparing(db: Db): ClinicData {
    const data = new ClinicData('', db);
    data.#clinic = CLINIC;
    return data;
  }

  /** The clinic filter of `table` with the given conditions: for joins, subqueries and counts. */
  owns(table: ClinicTable, ...conditions: Condition[]): SQL {
    return and(eq(table.clinicId, this.#clinic), ...conditions) as SQL;
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

const CLINIC = sql.placeholder('clinicId');

/** A query of `ClinicQuery`: a select, with drizzle's `prepare`. */
interface Preparable<R> {
  toSQL(): { params: unknown[] };
  prepare(name: string): { execute(values?: Record<string, unknown>): Promise<R> };
}

/** The value of the placeholder `name`, encoded as `column` encodes its values (a Date for a timestamp). */
export const placeholder = (name: string, column: PgColumn) => new Param(sql.placeholder(name), column);

const isPlaceholder = (p: unknown) => is(p, Placeholder) || (is(p, Param) && is(p.value, Placeholder));

/**
 * A query of a clinic's data built once and run for any clinic: drizzle building the SQL of a
 * select costs about as much as running it on a fast path (docs/benchmarks.md, cache-miss path).
 * `build` gets a ClinicData whose clinic is a placeholder, which `run` always fills with the
 * clinic it is given, after the caller's values. The query's other values are placeholders too
 * (`placeholder(name, column)`): a value written into it would be reused by every later run, so
 * building one throws.
 */
export class ClinicQuery<R> {
  private readonly prepared: ReturnType<Preparable<R>['prepare']>;

  constructor(db: Db, name: string, build: (data: ClinicData) => Preparable<R>) {
    const query = build(ClinicData.forPreparing(db));
    const fixed = query.toSQL().params.filter((p) => !isPlaceholder(p));
    if (fixed.length > 0) throw new Error(`prepared query ${name} holds values (${fixed.length}): make them placeholders`);
    this.prepared = query.prepare(name);
  }

  run(clinicId: string, values: Record<string, unknown> = {}): Promise<R> {
    return this.prepared.execute({ ...values, [CLINIC.name]: clinicId });
  }
}

/** How many shapes of one query are kept built; past it (a search of many words) a shape is built for its run only. */
const MAX_SHAPES = 32;

/**
 * One query in the shapes a request can give it (which optional filters it has), each a
 * `ClinicQuery` built on first use. A shape holds only what changes the SQL (flags, counts), never
 * a value.
 */
export class ClinicQueries<S, R> {
  private readonly built = new Map<string, ClinicQuery<R>>();

  constructor(
    private readonly db: Db,
    private readonly name: string,
    private readonly build: (data: ClinicData, shape: S) => Preparable<R>,
  ) {}

  run(shape: S, clinicId: string, values: Record<string, unknown>): Promise<R> {
    const key = JSON.stringify(shape);
    let query = this.built.get(key);
    if (!query) {
      query = new ClinicQuery(this.db, `${this.name}:${key}`, (data) => this.build(data, shape));
      if (this.built.size < MAX_SHAPES) this.built.set(key, query);
    }
    return query.run(clinicId, values);
  }
}
