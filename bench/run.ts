// `npm run bench`: runs every benchmark script in bench/ (all bench/*.ts but this one; helpers
// live in bench/lib/), one after another, each in its own process so none inherits another's
// heap or JIT state. `npm run bench -- auth-me records` runs only the scripts whose name matches.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';

const dir = path.dirname(new URL(import.meta.url).pathname);
const filters = process.argv.slice(2);
const scripts = readdirSync(dir)
  .filter((f) => f.endsWith('.ts') && f !== 'run.ts')
  .filter((f) => filters.length === 0 || filters.some((want) => f.includes(want)))
  .sort();

if (scripts.length === 0) {
  console.error(`no benchmark matches ${filters.join(', ')}`);
  process.exit(1);
}
const failed: string[] = [];
for (const script of scripts) {
  console.log(`\n=== bench/${script} ===`);
  const result = spawnSync(process.execPath, ['--import', 'tsx', path.join(dir, script)], { stdio: 'inherit' });
  if (result.status !== 0) failed.push(script);
}
if (failed.length > 0) {
  console.error(`\nfailed: ${failed.join(', ')}`);
  process.exit(1);
}
