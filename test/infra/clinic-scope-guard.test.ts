import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { getTableColumns, is } from 'drizzle-orm';
import { PgTable } from 'drizzle-orm/pg-core';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import * as schema from '../../shared/schema/index.js';

/** Export names of the tables whose rows belong to a clinic. */
const tenantTables = new Set(
  Object.entries(schema)
    .filter(([, value]) => is(value, PgTable) && 'clinicId' in getTableColumns(value))
    .map(([name]) => name),
);

/** The loudly named handles for deliberate cross-clinic work: the database, or a transaction on it. */
const SYSTEM_HANDLES = new Set(['systemDb', 'systemTx']);
/**
 * Drizzle's `from(table)`, `insert(table)`, `update(table)` and `delete(table)` take the table alone;
 * ClinicData's writes take it with the values, the set or the conditions. So a one-argument call is
 * drizzle's own (a ClinicData delete of every row of the clinic spells its condition).
 */
const QUERY_METHODS = new Set(['from', 'insert', 'update', 'delete']);
const JOIN_METHODS = new Set(['innerJoin', 'leftJoin', 'rightJoin', 'fullJoin']);
/** The one place that writes the clinic filter. */
const HELPER = path.join('server', 'infra', 'clinic-data.ts');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : [],
  );
}

/** Names along a receiver chain: `this.infra.systemDb.select().from` -> this, infra, systemDb, select. */
function chainNames(node: ts.Expression): string[] {
  if (ts.isPropertyAccessExpression(node)) return [...chainNames(node.expression), node.name.text];
  if (ts.isCallExpression(node)) return chainNames(node.expression);
  if (ts.isIdentifier(node)) return [node.text];
  return [];
}

/** Every query on a tenant table that bypasses ClinicData (or the loud `systemDb`). */
function violations(file: string): string[] {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const found: string[] = [];
  const where = (node: ts.Node) => `${file}:${source.getLineAndCharacterOfPosition(node.getStart()).line + 1}`;
  const visit = (node: ts.Node) => {
    if (ts.isCallExpression(node) && ts.isPropertyAccessExpression(node.expression)) {
      const method = node.expression.name.text;
      const [first, second] = node.arguments;
      const table = first && ts.isIdentifier(first) && tenantTables.has(first.text) ? first.text : undefined;
      const system = chainNames(node.expression.expression).some((n) => SYSTEM_HANDLES.has(n));
      // Drizzle's insert/update/delete take the table alone; ClinicData's take values, a set or conditions too.
      const drizzleCall = method === 'from' || node.arguments.length === 1;
      if (table && QUERY_METHODS.has(method) && drizzleCall && !system) {
        found.push(`${where(node)} ${method}(${table}) outside ClinicData`);
      }
      // A systemDb query crosses clinics on purpose, its joins too (a public token's form and template).
      if (table && JOIN_METHODS.has(method) && !system && !(second && second.getText(source).includes('.owns('))) {
        found.push(`${where(node)} ${method}(${table}) without the clinic filter (data.owns)`);
      }
    }
    // A hand-written clinic filter: ClinicData writes it.
    if (ts.isPropertyAccessExpression(node) && node.name.text === 'clinicId' && ts.isIdentifier(node.expression) && tenantTables.has(node.expression.text)) {
      const call = node.parent;
      if (ts.isCallExpression(call) && ts.isIdentifier(call.expression) && call.expression.text === 'eq' && call.arguments[0] === node) found.push(`${where(node)} eq(${node.expression.text}.clinicId, ...) by hand`);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

describe('clinic-scoped data access', () => {
  it('knows the tenant tables', () => {
    expect(tenantTables.has('contacts')).toBe(true);
    expect(tenantTables.has('appointments')).toBe(true);
    expect(tenantTables.has('users')).toBe(false);
  });

  it('finds a query that forgets the clinic (the guard itself works)', () => {
    const probe = path.join('test', 'fixtures', 'unscoped-query.ts.txt');
    expect(violations(probe).map((v) => v.replace(/^\S+ /, ''))).toEqual([
      'from(contacts) outside ClinicData',
      'update(appointments) outside ClinicData',
      'eq(appointments.clinicId, ...) by hand',
      'insert(scheduleBlocks) outside ClinicData',
      'delete(scheduleBlocks) outside ClinicData',
    ]);
  });

  it('no module queries a tenant table outside ClinicData or systemDb', () => {
    const files = sourceFiles('server').filter((f) => f !== HELPER);
    expect(files.flatMap(violations)).toEqual([]);
  });

});
