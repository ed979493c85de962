// Applies pending migrations (the server also does this at boot, under the same advisory lock).
import { existsSync } from 'node:fs';
import { loadConfig } from '../server/config.js';
import { databaseStartupProblem, openDatabase } from '../server/infra/db.js';

if (existsSync('.env')) process.loadEnvFile('.env');
const config = loadConfig();
try {
  const database = await openDatabase({ url: config.databaseUrl, dataDir: config.dataDir, prepare: config.databasePrepare });
  await database.migrate();
  await database.close();
  console.log(`migrations applied (${database.kind})`);
} catch (err) {
  const problem = databaseStartupProblem(err, config.databaseUrl);
  if (!problem) throw err;
  console.error(`Migration failed: ${problem}`);
  process.exitCode = 1;
}
