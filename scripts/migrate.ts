// Applies pending migrations (the server also does this at boot, under the same advisory lock).
import { loadConfig } from '../server/config.js';
import { openDatabase } from '../server/infra/db.js';

const config = loadConfig();
const database = await openDatabase({ url: config.databaseUrl, dataDir: config.dataDir, pooler: config.databaseIsPooler });
await database.migrate();
await database.close();
console.log(`migrations applied (${database.kind})`);
