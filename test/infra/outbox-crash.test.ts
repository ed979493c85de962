import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, inject, it } from 'vitest';
import type { DeliveredEvent } from '../../shared/api/domain-events.js';
import { openDatabase } from '../../server/infra/db.js';
import { createLogger } from '../../server/infra/logger.js';
import { Outbox } from '../../server/infra/outbox.js';
import { reportThenKill } from '../helpers/crash.js';

const child = path.join(path.dirname(fileURLToPath(import.meta.url)), 'outbox-crash-child.ts');
const url = inject('databaseUrl');
const dataDir = url ? undefined : mkdtempSync(path.join(os.tmpdir(), 'opb-outbox-crash-'));
afterAll(() => {
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

/** Runs the child until it reports its committed events, then SIGKILLs it. */
const publishThenKill = (env: Record<string, string>) =>
  reportThenKill<{ clinicId: string; ids: string[] }>(child, { ...(url ? { DATABASE_URL: url } : { DATA_DIR: dataDir as string }), ...env });

/** A new process's relay (this one) on the same database: what does it deliver? */
async function deliverAfterRestart(scope: string, count: number) {
  const database = await openDatabase({ url, dataDir });
  const received: DeliveredEvent<'contact.updated'>[] = [];
  const events = new Outbox(database, createLogger({ level: 'silent' }), { scope, pollMs: 50 });
  events.subscribe({ name: 'probe', events: ['contact.updated'], handle: (e) => void received.push(e) });
  events.start();
  try {
    const end = Date.now() + 20_000;
    while (received.length < count && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    await events.flush();
    return { received, stats: await events.stats() };
  } finally {
    await events.stop();
    await database.close();
  }
}

describe('outbox across a crash (SIGKILL)', () => {
  it('delivers after restart the events committed just before the kill', async () => {
    const scope = `crash${randomUUID().slice(0, 8)}:`;
    const { clinicId, ids } = await publishThenKill({ SCOPE: scope, MIGRATE: url ? '0' : '1' });
    const { received, stats } = await deliverAfterRestart(scope, ids.length);
    expect(received.map((e) => e.aggregateId)).toEqual(ids);
    expect(received.every((e) => e.clinicId === clinicId && e.attempt === 1)).toBe(true);
    expect(stats.pending).toBe(0);
  });

  it('delivers again, once the lease runs out, the events a killed relay was delivering', async () => {
    const scope = `crash${randomUUID().slice(0, 8)}:`;
    const { ids } = await publishThenKill({ SCOPE: scope, CLAIM: '1', MIGRATE: '0' });
    const { received, stats } = await deliverAfterRestart(scope, ids.length);
    expect(received.map((e) => e.aggregateId)).toEqual(ids);
    // The first attempt died with the process.
    expect(received.map((e) => e.attempt)).toEqual([2, 2]);
    expect(stats.pending).toBe(0);
  });
});
