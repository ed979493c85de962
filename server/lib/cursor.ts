import { and, eq, lt, or, type AnyColumn, type SQL } from 'drizzle-orm';
import type { PgColumn } from 'drizzle-orm/pg-core';
import { placeholder } from '../infra/clinic-data.js';
import { AppError } from './errors.js';
import { inInstantRange } from '../../shared/api/common.js';

/** Keyset cursor over (created_at desc, id desc): stable under inserts, no offsets. */
export interface Cursor {
  at: Date;
  id: string;
}

export const encodeCursor = (row: { createdAt: Date; id: string }) =>
  Buffer.from(`${row.createdAt.toISOString()}|${row.id}`).toString('base64url');

export function decodeCursor(cursor: string | undefined): Cursor | undefined {
  if (!cursor) return undefined;
  const [at, id] = Buffer.from(cursor, 'base64url').toString().split('|');
  const date = new Date(at ?? '');
  // Only what encodeCursor writes: a forged date beyond what Postgres holds would fail the query.
  const wellFormed = !Number.isNaN(date.getTime()) && inInstantRange(date) && date.toISOString() === at;
  if (!id || !wellFormed || !/^[0-9a-f-]{36}$/i.test(id)) throw new AppError(400, 'invalid_cursor', 'Invalid cursor');
  return { at: date, id };
}

/** Takes `limit + 1` rows and returns the page and the cursor of the next one. */
export function page<T extends { createdAt: Date; id: string }>(rows: T[], limit: number) {
  const items = rows.slice(0, limit);
  const last = items[items.length - 1];
  return { items, nextCursor: rows.length > limit && last ? encodeCursor(last) : null };
}

/** Rows after the cursor in (created_at desc, id desc) order; undefined on the first page. */
export function afterCursor(createdAt: AnyColumn, id: AnyColumn, cursor: string | undefined): SQL | undefined {
  const c = decodeCursor(cursor);
  return c ? or(lt(createdAt, c.at), and(eq(createdAt, c.at), lt(id, c.id))) : undefined;
}

/** `afterCursor` in a prepared query (`ClinicQuery`): the cursor's values are its placeholders `cursorAt` and `cursorId`. */
export function afterCursorPlaceholders(createdAt: PgColumn, id: PgColumn): SQL {
  const at = placeholder('cursorAt', createdAt);
  return or(lt(createdAt, at), and(eq(createdAt, at), lt(id, placeholder('cursorId', id)))) as SQL;
}

/** The placeholder values of `afterCursorPlaceholders` for a cursor (none on the first page). */
export function cursorValues(cursor: string | undefined): { cursorAt?: Date; cursorId?: string } {
  const c = decodeCursor(cursor);
  return c ? { cursorAt: c.at, cursorId: c.id } : {};
}
