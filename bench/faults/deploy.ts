// A deploy under load, as Elastic Beanstalk's rolling deploy does it: the old build serves, the new
// build starts beside it and applies its migrations, both serve, the old one is taken out of the
// balancer and stopped (SIGTERM). Zero failed requests; the old code keeps working on the new schema.
import { mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { check, sleep } from '../../scripts/rehearsal/harness.js';
import { run } from '../../scripts/rehearsal/run.js';
import type { FaultSpec } from './lib/fault.js';
import { buildCurrent, REPO, type AppBuild } from './lib/stack.js';

const journalLength = (dir: string) => (JSON.parse(readFileSync(path.join(dir, 'migrations/meta/_journal.json'), 'utf8')) as { entries: unknown[] }).entries.length;

/** The commit before the last one that added a migration, exported and built with this checkout's node_modules. */
async function buildPrevious(workDir: string): Promise<AppBuild & { migrations: number; commit: string }> {
  const last = (await run('git', ['rev-list', '-1', 'HEAD', '--', 'migrations/meta/_journal.json'], { cwd: REPO })).stdout.trim();
  const commit = (await run('git', ['rev-parse', '--short', `${last}^1`], { cwd: REPO })).stdout.trim();
  const dir = path.join(workDir, `app-${commit}`);
  mkdirSync(dir, { recursive: true });
  await run('sh', ['-c', `git -C ${REPO} archive ${commit} | tar -x -C ${dir}`]);
  symlinkSync(path.join(REPO, 'node_modules'), path.join(dir, 'node_modules'));
  await run('node', ['scripts/build.mjs'], { cwd: dir });
  return { label: `the previous build (${commit})`, command: `node ${path.join(dir, 'dist/index.js')}`, migrations: journalLength(dir), commit };
}

const deployed = { newHealthyAt: 0, oldExit: undefined as number | null | undefined, oldMigrations: 0 };

export const deployFault: FaultSpec = {
  name: 'deploy',
  title: 'deploy: new build beside the old one, migrating, then the old one stopped',
  build: async (stack) => {
    const previous = await buildPrevious(stack.workDir);
    deployed.oldMigrations = previous.migrations;
    return previous;
  },
  recoveryMs: () => 30_000,
  inject: async ({ stack, driver, instances, h, short }) => {
    const old = instances[0];
    check(old, 'no old instance');
    const current = await buildCurrent();
    const fresh = await stack.launch('B', current);
    deployed.newHealthyAt = Date.now();
    driver.addTarget(fresh.url);
    h.log(`new build healthy on ${fresh.url}; both in the balancer`);
    const sideBySideMs = short ? 4_000 : 30_000;
    await sleep(sideBySideMs);
    // The balancer deregisters the old instance, then the platform sends SIGTERM.
    driver.markDead(old.url);
    await sleep(1000);
    deployed.oldExit = await old.terminate(30_000);
    return { detail: `old ${old.name} and new ${fresh.name} side by side for ${sideBySideMs / 1000} s after the migration, then the old one stopped (exit ${deployed.oldExit})` };
  },
  checks: async ({ h, stack, driver, instances }) => {
    await h.step('the new build migrated the schema; the old build served on it; the old one exited 0', async () => {
      const [row] = await stack.pg.query<{ n: number }>('select count(*)::int as n from drizzle.__drizzle_migrations');
      const expected = journalLength(REPO);
      check(row?.n === expected, `${row?.n} migrations recorded, this checkout has ${expected}`);
      check(deployed.oldMigrations < expected, `the previous build has ${deployed.oldMigrations} migrations, as many as this one: nothing was migrated`);
      const old = instances[0]?.url;
      const onNewSchema = driver.answers.filter((a) => a.target === old && a.at > deployed.newHealthyAt);
      check(onNewSchema.length > 0, 'the old build got no request after the new schema was in place');
      check(onNewSchema.every((a) => a.status >= 200 && a.status < 300), `the old build failed on the new schema: ${onNewSchema.filter((a) => a.status >= 300).map((a) => `${a.kind} ${a.status}`).slice(0, 3).join(', ')}`);
      check(deployed.oldExit === 0, `the old instance exited ${deployed.oldExit}`);
      return `${deployed.oldMigrations} -> ${row.n} migrations applied by the new build; ${onNewSchema.length} requests answered 2xx by the old build on the new schema; old exit 0`;
    });
  },
};
