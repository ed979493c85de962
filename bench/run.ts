// `npm run bench`: runs every benchmark script in bench/, one after another, each in its own
// process so none inherits another's heap or JIT state. A script is a bench/*.ts file that no
// other bench file imports (helpers live in bench/lib/ or are imported by their benchmark, like
// scheduling-seed.ts by scheduling.ts). `npm run bench -- auth-me records` runs only the scripts
// whose name matches; `npm run bench -- --list` prints them.
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';

const dir = path.dirname(new URL(import.meta.url).pathname);
const args = process.argv.slice(2);
const filters = args.filter((a) => !a.startsWith('--'));
const files = readdirSync(dir).filter((f) => f.endsWith('.ts') && f !== 'run.ts');
const imported = new Set(
  files.flatMap((f) => [...readFileSync(path.join(dir, f), 'utf8').matchAll(/from\s+['"]\.\/([\w.-]+)\.js['"]/g)].map((m) => `${m[1]}.ts`)),
);
const scripts = files
  .filter((f) => !imported.has(f))
  .filter((f) => filters.length === 0 || filters.some((want) => f.includes(want)))
  .sort();

if (args.includes('--list')) {
  console.log(scripts.join('\n'));
  process.exit(0);
}
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
