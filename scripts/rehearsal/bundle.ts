// Step 1: the bundle exactly as the deploy workflow builds it, installed the way EB installs it.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { check } from './harness.js';
import { cleanEnv, run } from './run.js';

export interface InstalledBundle {
  dir: string;
  zip: string;
  webCommand: string;
  appVersion: string;
  entries: string[];
}

/** Only what runs may ship; everything else in the repository stays out. */
const ALLOWED_TOP_LEVEL = new Set(['dist', 'package.json', 'package-lock.json', 'migrations', 'Procfile', '.platform', '.ebextensions']);
/** The one script that runs on the instance: `npm ci`'s postinstall patches the Postgres driver and drizzle with it. */
const INSTALL_SCRIPT = 'scripts/patch-dependencies.mjs';
/** Dev tools that must be neither shipped nor needed at run time. */
const DEV_ONLY = ['tsx', 'drizzle-kit', 'vitest', 'esbuild', 'typescript', 'eslint', 'socket.io-client', 'supertest'];

export async function buildAndInstall(repo: string, workDir: string): Promise<InstalledBundle> {
  const zip = path.join(workDir, 'bundle.zip');
  await run('bash', [path.join(repo, 'scripts/eb-bundle.sh'), zip], { cwd: repo });

  const listing = await run('unzip', ['-Z1', zip]);
  const entries = listing.stdout.split('\n').filter(Boolean);
  const outside = [...new Set(entries.filter((e) => e !== INSTALL_SCRIPT && e !== 'scripts/').map((e) => e.split('/')[0] as string))].filter((top) => !ALLOWED_TOP_LEVEL.has(top));
  check(outside.length === 0, `the zip holds files that do not run: ${outside.join(', ')}`);
  check(entries.includes('dist/index.js') && entries.includes('dist/migrate.js'), 'the zip lacks dist/index.js or dist/migrate.js');
  check(!entries.some((e) => e.startsWith('node_modules/') || e.endsWith('.ts')), 'the zip holds node_modules or TypeScript sources');

  const dir = path.join(workDir, 'app');
  await run('unzip', ['-q', zip, '-d', dir]);
  // What EB's Node.js platform does with a package-lock.json and no node_modules.
  await run('npm', ['ci', '--omit=dev', '--prefer-offline', '--no-audit', '--no-fund'], { cwd: dir, env: cleanEnv({ NODE_ENV: 'production' }) });
  const present = DEV_ONLY.filter((name) => existsSync(path.join(dir, 'node_modules', name)));
  check(present.length === 0, `dev dependencies were installed: ${present.join(', ')}`);
  const patched = { 'postgres/src/connection.js': 'write scheduler patched', 'postgres/cjs/src/connection.js': 'write scheduler patched', 'drizzle-orm/utils.js': 'planned row mapping', 'drizzle-orm/utils.cjs': 'planned row mapping' };
  const unpatched = Object.entries(patched).filter(([file, mark]) => !readFileSync(path.join(dir, 'node_modules', file), 'utf8').includes(`operabase: ${mark}`));
  check(unpatched.length === 0, `npm ci did not patch the dependencies (${INSTALL_SCRIPT}): ${unpatched.map(([file]) => file).join(', ')}`);

  const procfile = readFileSync(path.join(dir, 'Procfile'), 'utf8');
  const web = /^web:\s*(.+)$/m.exec(procfile)?.[1]?.trim();
  check(web, 'Procfile has no web: process');
  check(!/\b(npm|tsx|esbuild)\b.*\b(build|run)\b/.test(web), `the web process builds on the instance: ${web}`);
  const versionConfig = readFileSync(path.join(dir, '.ebextensions/00-app-version.config'), 'utf8');
  const appVersion = /APP_VERSION:\s*"([^"]+)"/.exec(versionConfig)?.[1];
  check(appVersion, 'the bundle carries no APP_VERSION');
  return { dir, zip, webCommand: web, appVersion, entries };
}
