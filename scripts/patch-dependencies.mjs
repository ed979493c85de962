// Run by `npm install` (postinstall), also on Elastic Beanstalk's `npm ci`: two patches of exact
// versions, each idempotent, each left out (with a warning) for any other version.
//
// postgres.js 3.4.9: fixes the teardown of a connection whose socket died, which has no release
// with the fix (porsager/postgres#1154, #1208; PRs #1168, #1209, not merged). A connection torn
// down while a small write waits for its setImmediate keeps the cancelled timer's handle: once
// reconnected it never flushes again (its queries hang for ever), and a flush that runs after the
// socket went away throws from the timer, which kills the process. And a query given to the
// connection between its socket's error and close is never settled. All three happen when
// Postgres restarts under load (test/infra/postgres-outage.test.ts).
//
// drizzle-orm 0.45.4: `mapResultRow` works out each column's decoder again for every cell of every
// row (a chain of `is` checks, an iterator over the column's path). For a flat selection (what
// every query of ours selects) the decoders are worked out once per query and kept: a third less
// CPU for the rows of a 200-row page (docs/benchmarks.md, cache-miss path). Nested selections
// (path length 2, where left joins null out a missing table) keep drizzle's own code.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const modules = path.resolve(process.argv[2] ?? 'node_modules');

/** Applies `edits` (each `from` found exactly once) to `files` of package `name` at `version`, unless `mark` shows they were. */
function patch({ name, version, why, mark, files, edits }) {
  const dir = path.join(modules, name);
  const pkg = path.join(dir, 'package.json');
  if (!existsSync(pkg)) return;
  const found = JSON.parse(readFileSync(pkg, 'utf8')).version;
  if (found !== version) {
    console.warn(`patch-dependencies: ${name} ${found} is not ${version}, left alone; ${why}`);
    return;
  }
  for (const file of files) {
    const target = path.join(dir, file);
    let text = readFileSync(target, 'utf8');
    if (text.includes(mark)) continue;
    for (const [from, to] of typeof edits === 'function' ? edits(file) : edits) {
      if (text.split(from).length !== 2) throw new Error(`patch-dependencies: ${name}/${file} does not read as expected; the patch needs a review`);
      text = text.replace(from, to);
    }
    writeFileSync(target, text);
    console.log(`patch-dependencies: patched ${name}/${file}`);
  }
}

const MARK = '/* operabase: write scheduler patched */';
const postgresEdits = [
  // A flush with no socket settles the connection's queries instead of throwing from the timer.
  ['  function nextWrite(fn) {\n', `  function nextWrite(fn) {\n    ${MARK}\n    if (!socket) {\n      chunk = nextWriteTimer = null\n      error(Errors.connection('CONNECTION_CLOSED', options))\n      return false\n    }\n`],
  // Teardown forgets the cancelled timer and the bytes meant for the dead socket.
  ['    clearImmediate(nextWriteTimer)\n    if (socket) {\n', '    clearImmediate(nextWriteTimer)\n    chunk = nextWriteTimer = null\n    if (socket) {\n'],
  ['    remaining = 0\n    incomings = null\n    clearImmediate(nextWriteTimer)\n', '    remaining = 0\n    incomings = null\n    clearImmediate(nextWriteTimer)\n    chunk = nextWriteTimer = null\n'],
  // A query handed to the connection between its socket's 'error' and 'close' was never settled: it
  // waited for ever, or was later answered with the next query's result.
  [
    "    !hadError && (query || sent.length) && error(Errors.connection('CONNECTION_CLOSED', options, socket))\n",
    "    ;(query || sent.length) && error(Errors.connection('CONNECTION_CLOSED', options, socket))\n    query = null\n",
  ],
];

patch({
  name: 'postgres',
  version: '3.4.9',
  why: 'check porsager/postgres#1208 before removing this patch',
  mark: MARK,
  files: ['src/connection.js', 'cjs/src/connection.js'],
  edits: postgresEdits,
});

const PLANNED = '/* operabase: planned row mapping */';
// The names the ESM and the CommonJS builds give drizzle's imports.
const NAMES = {
  'utils.js': { is: 'is', Column: 'Column', SQL: 'SQL', Subquery: 'Subquery' },
  'utils.cjs': { is: '(0, import_entity.is)', Column: 'import_column.Column', SQL: 'import_sql.SQL', Subquery: 'import_subquery.Subquery' },
};
patch({
  name: 'drizzle-orm',
  version: '0.45.4',
  why: 'measure mapResultRow (bench/cache-miss.ts) before removing this patch',
  mark: PLANNED,
  files: Object.keys(NAMES),
  edits: (file) => {
    const n = NAMES[file];
    const decoder = `${n.is}(field, ${n.Column}) ? field : ${n.is}(field, ${n.SQL}) ? field.decoder : ${n.is}(field, ${n.Subquery}) ? field._.sql.decoder : field.sql.decoder`;
    return [
      [
        'function mapResultRow(columns, row, joinsNotNullableMap) {\n',
        `const flatPlans = new WeakMap();
function flatPlan(columns) {
  ${PLANNED}
  let plan = flatPlans.get(columns);
  if (plan === undefined) {
    plan = columns.every(({ path }) => path.length === 1) ? columns.map(({ path, field }) => ({ name: path[0], decoder: ${decoder} })) : null;
    flatPlans.set(columns, plan);
  }
  return plan;
}
function mapResultRow(columns, row, joinsNotNullableMap) {
  const plan = flatPlan(columns);
  if (plan) {
    const flat = {};
    for (let i = 0; i < plan.length; i++) {
      const raw = row[i];
      flat[plan[i].name] = raw === null ? null : plan[i].decoder.mapFromDriverValue(raw);
    }
    return flat;
  }
`,
      ],
    ];
  },
});
