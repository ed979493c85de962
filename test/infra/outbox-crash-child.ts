// Spawned by outbox-crash.test.ts: records events in committed transactions, then waits to be
// SIGKILLed. With CLAIM=1 its relay has already claimed them (a delivery that never finishes).
import { clinics } from '../../shared/schema/index.js';
import { openDatabase } from '../../server/infra/db.js';
import { createLogger } from '../../server/infra/logger.js';
import { Outbox } from '../../server/infra/outbox.js';

const database = await openDatabase({ url: process.env.DATABASE_URL || undefined, dataDir: process.env.DATA_DIR });
if (process.env.MIGRATE === '1') await database.migrate();
const events = new Outbox(database, createLogger({ level: 'silent' }), { scope: process.env.SCOPE, leaseMs: 500, timeoutMs: 60_000, pollMs: 50 });
const claimed = new Set<number>();
events.subscribe({
  name: 'probe',
  events: ['contact.updated'],
  handle: (e) => {
    claimed.add(e.id);
    return new Promise<void>(() => {});
  },
});
if (process.env.CLAIM === '1') events.start();
const [clinic] = await database.db.insert(clinics).values({ name: 'Antes do SIGKILL' }).returning({ id: clinics.id });
const clinicId = (clinic as { id: string }).id;
const ids = ['a', 'b'].map((n) => `${n}-${process.pid}`);
// One transaction: with CLAIM=1 the relay claims both in one batch and hangs on them.
await database.db.transaction(async (tx) => {
  for (const id of ids) await events.publish(tx, 'contact.updated', { id, name: 'Ana', phone: null, status: 'active' }, { clinicId });
});
if (process.env.CLAIM === '1') while (claimed.size < ids.length) await new Promise((r) => setTimeout(r, 10));
process.stdout.write(`${JSON.stringify({ clinicId, ids })}\n`);
await new Promise(() => {});
