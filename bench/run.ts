// `npm run bench`: runs every benchmark script in bench/, one after another, each in its own
// process so none inherits another's heap or JIT state. A script is a bench/*.ts file that no
// other bench file imports (helpers live in bench/lib/ or are imported by their benchmark, like
// scheduling-seed.ts by scheduling.ts). `npm run bench -- auth-me records` runs only the scripts
// whose name matches; `npm run bench -- --list` prints them. Scripts marked as long (the clinic
// day, the soak) run only when named.
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';

const dir = path.dirname(new URL(import.meta.url).pathname);
const args = process.argv.slice(2);
const filters = args.filter((a) => !a.startsWith('--'));
/** Other flags go to each script (`npm run bench -- whatsapp-ingest --full`). */
const flags = args.filter((a) => a.startsWith('--') && a !== '--list');
const files = readdirSync(dir).filter((f) => f.endsWith('.ts') && f !== 'run.ts');
const imported = new Set(
  files.flatMap((f) => [...readFileSync(path.join(dir, f), 'utf8').matchAll(/from\s+['"]\.\/([\w.-]+)\.js['"]/g)].map((m) => `${m[1]}.ts`)),
);
/** Long runs (the clinic day, the soak) carry this line and run only when named. */
const ONLY_WHEN_NAMED = '// bench: only when named';
const onlyWhenNamed = (f: string) => readFileSync(path.join(dir, f), 'utf8').includes(ONLY_WHEN_NAMED);
const all = files.filter((f) => !imported.has(f)).sort();
const scripts = all.filter((f) => (filters.length === 0 ? !onlyWhenNamed(f) : filters.some((want) => f.includes(want))));

if (args.includes('--list')) {
  console.log(all.map((f) => (onlyWhenNamed(f) ? `${f} (only when named)` : f)).join('\n'));
  process.exit(0);
}
if (scripts.length === 0) {
  console.error(`no benchmark matches ${filters.join(', ')}`);
  process.exit(1);
}
const failed: string[] = [];
for (const script of scripts) {
  console.log(`\n=== bench/${script} ===`);
  const result = spawnSync(process.execPath, ['--import', 'tsx', path.join(dir, script), ...flags], { stdio: 'inherit' });
  if (result.status !== 0) failed.push(script);
}
if (failed.length > 0) {
  console.error(`\nfailed: ${failed.join(', ')}`);
  process.exit(1);
}
