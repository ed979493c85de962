// Fails when the drizzle schema has changes that no committed migration holds.
import { cpSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';

// drizzle-kit wants a path relative to the project.
const dir = path.relative(process.cwd(), mkdtempSync('.drift-check-'));
try {
  cpSync('migrations', dir, { recursive: true });
  const before = readdirSync(dir).filter((f) => f.endsWith('.sql')).length;
  const out = execFileSync('npx', ['drizzle-kit', 'generate', '--dialect', 'postgresql', '--schema', './shared/schema/index.ts', '--out', dir, '--name', 'drift'], {
    stdio: ['ignore', 'pipe', 'inherit'],
    encoding: 'utf8',
  });
  if (!/No schema changes|migration file/.test(out)) {
    console.error(out);
    throw new Error('drizzle-kit generate failed');
  }
  const after = readdirSync(dir).filter((f) => f.endsWith('.sql'));
  if (after.length !== before) {
    const added = after.filter((f) => f.includes('drift'));
    console.error(`Schema and migrations drift: run "npm run db:generate" and commit the result (${added.join(', ')}).`);
    process.exitCode = 1;
  } else {
    console.log('migrations match the schema');
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
