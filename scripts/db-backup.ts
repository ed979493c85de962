// `npm run db:backup -- [file]`: backs up the configured database (DATABASE_URL and its Supabase
// aliases, else the embedded one in DATA_DIR). `npm run db:restore -- <file>` restores into an
// empty database or DATA_DIR. docs/deploy.md, "Backups and restore".
import { existsSync } from 'node:fs';
import { loadConfig } from '../server/config.js';
import { DataDirLockedError } from '../server/infra/data-dir-lock.js';
import { BackupError, backup, restore } from './lib/backup.js';

if (existsSync('.env')) process.loadEnvFile('.env');
const config = loadConfig();
const [mode, file] = process.argv.slice(2);
const target = { databaseUrl: config.databaseUrl, dataDir: config.dataDir };
const where = config.databaseUrl ? 'Postgres' : `the embedded database in ${config.dataDir}`;
const stamp = new Date().toISOString().replace(/[:.]/g, '-');
try {
  if (mode === 'backup') {
    const out = file ?? `operabase-${stamp}.${config.databaseUrl ? 'dump' : 'tar.gz'}`;
    await backup(target, out);
    console.log(`backup of ${where} written to ${out}`);
  } else if (mode === 'restore' && file) {
    await restore(target, file);
    console.log(`${file} restored into ${where}; start the server on it (it applies any newer migrations)`);
  } else {
    console.error('usage: npm run db:backup -- [file] | npm run db:restore -- <file>');
    process.exitCode = 2;
  }
} catch (err) {
  if (!(err instanceof BackupError) && !(err instanceof DataDirLockedError)) throw err;
  console.error(`${mode} failed: ${err.message}`);
  process.exitCode = 1;
}
