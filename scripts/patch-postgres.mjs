// Run by `npm install` (postinstall): fixes postgres.js 3.4.9's teardown of a connection whose
// socket died, which has no release with the fix (porsager/postgres#1154, #1208; PRs #1168, #1209,
// not merged). A connection torn down while a small write waits for its setImmediate keeps the
// cancelled timer's handle: once reconnected it never flushes again (its queries hang for ever),
// and a flush that runs after the socket went away throws from the timer, which kills the process.
// And a query given to the connection between its socket's error and close is never settled.
// All three happen when Postgres restarts under load (test/infra/postgres-outage.test.ts). Plain
// Node and idempotent; a version other than 3.4.9 is left alone.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const MARK = '/* operabase: write scheduler patched */';
const dir = path.resolve(process.argv[2] ?? 'node_modules/postgres');
const pkg = path.join(dir, 'package.json');
if (!existsSync(pkg)) process.exit(0);
const { version } = JSON.parse(readFileSync(pkg, 'utf8'));
if (version !== '3.4.9') {
  console.warn(`patch-postgres: postgres ${version} is not 3.4.9, left alone; check porsager/postgres#1208 before removing this script`);
  process.exit(0);
}

const edits = [
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

for (const file of ['src/connection.js', 'cjs/src/connection.js']) {
  const target = path.join(dir, file);
  let text = readFileSync(target, 'utf8');
  if (text.includes(MARK)) continue;
  for (const [from, to] of edits) {
    if (text.split(from).length !== 2) throw new Error(`patch-postgres: ${file} does not read as expected; the patch needs a review`);
    text = text.replace(from, to);
  }
  writeFileSync(target, text);
  console.log(`patch-postgres: patched ${file}`);
}
