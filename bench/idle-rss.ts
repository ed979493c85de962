// Idle resident memory of the server as `npm start` runs it (embedded: tsx, PGlite, in-memory
// stores) and as production runs it (`node dist/index.js` after `npm run build`, Postgres + Redis).
//
//   npx tsx bench/idle-rss.ts      (BENCH_DATABASE_URL, BENCH_REDIS_URL, BENCH_IDLE_SECONDS)
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import postgres from 'postgres';
import { machine, rssMiB, startChild } from './lib/process.js';

const ADMIN_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const IDLE_MS = Number(process.env.BENCH_IDLE_SECONDS ?? 10) * 1000;
const run = `${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;

async function idle(name: string, command: string, args: string[], env: Record<string, string>) {
  const started = Date.now();
  const child = await startChild(command, args, env, '/api/health');
  const bootMs = Date.now() - started;
  try {
    await new Promise((r) => setTimeout(r, IDLE_MS));
    const pid = child.process.pid as number;
    console.log(`| ${name} | ${rssMiB(pid).toFixed(0)} MiB | ${(bootMs / 1000).toFixed(1)} s |`);
  } finally {
    await child.stop();
  }
}

async function main() {
  console.log(`idle-rss: ${machine()}; RSS of the process tree after ${IDLE_MS / 1000} s idle\n`);
  console.log('| mode | idle RSS | boot to first /api/health |');
  console.log('|---|---|---|');
  const dataDir = `/tmp/opb-rss-${run}`;
  try {
    // `npm start` is `tsx server/index.ts`: tsx's launcher plus the server process.
    await idle('embedded (`npm start`: tsx, fresh PGlite)', 'node_modules/.bin/tsx', ['server/index.ts'], { DATA_DIR: dataDir, NODE_ENV: 'development' });
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }

  execFileSync(process.execPath, ['scripts/build.mjs'], { stdio: 'ignore' });
  const admin = postgres(ADMIN_URL, { max: 1, onnotice: () => {} });
  const dbName = `opb_rss_${run}`;
  await admin.unsafe(`create database ${dbName}`);
  try {
    await idle('production (`node dist/index.js`, Postgres + Redis)', process.execPath, ['dist/index.js'], {
      NODE_ENV: 'production',
      DATABASE_URL: Object.assign(new URL(ADMIN_URL), { pathname: `/${dbName}` }).toString(),
      REDIS_URL,
      REDIS_PREFIX: `opbrss:${run}:`,
      SESSION_SECRET: randomBytes(24).toString('hex'),
      ENCRYPTION_KEY: randomBytes(24).toString('hex'),
      DATA_DIR: `/tmp/opb-rss-${run}-prod`,
      FILE_STORAGE: 'local',
    });
  } finally {
    await admin.unsafe(`drop database if exists ${dbName} with (force)`);
    await admin.end();
  }
}

await main();
