import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import request from 'supertest';
import { eq, inArray, sql } from 'drizzle-orm';
import { contacts, idempotencyKeys } from '../../shared/schema/index.js';
import { IdempotencyStore } from '../../server/http/idempotency.js';
import { databaseUnreachable } from '../../server/lib/pg-errors.js';
import { openDatabase, type Database } from '../../server/infra/db.js';
import { buildTestApp, sharedDatabase, type TestApp } from '../helpers/app.js';
import { createClinic, type TestClinic } from '../helpers/clinic.js';
import { canRun } from '../helpers/skip.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { until } from '../helpers/until.js';

const databaseUrl = inject('databaseUrl');

interface Answer {
  status: number;
  name: string;
  code?: string;
  retryAfter?: string;
}

/**
 * The app's pool goes through a proxy that cuts every connection and refuses new ones, as a
 * Postgres restart does; the shared server is untouched. Embedded PGlite lives in the process: no
 * outage to simulate there.
 */
describe.runIf(canRun('when Postgres restarts', databaseUrl, 'needs Postgres: set TEST_DATABASE_URL'))('when Postgres restarts', () => {
  let proxy: TcpProxy;
  let database: Database;
  let app: TestApp;
  let clinic: TestClinic;
  let seq = 0;

  beforeAll(async () => {
    const proxied = await TcpProxy.in(databaseUrl as string);
    proxy = proxied.proxy;
    database = await openDatabase({ url: proxied.url, poolMax: 4 });
    app = await buildTestApp({ database });
    clinic = await createClinic({ app });
  });
  afterAll(async () => {
    await proxy?.resume();
    await app?.close();
    await database?.close();
    await proxy?.close();
  });

  const write = async (): Promise<Answer> => {
    const name = `Paciente pg ${process.pid}-${++seq}`;
    const res = await clinic.receptionist.agent.post('/api/contacts').send({ name, status: 'active' });
    return { status: res.status, name, code: res.body?.error?.code, retryAfter: res.headers['retry-after'] };
  };

  it('answers 503 with Retry-After during the gap, loses no acknowledged write, and recovers without a restart', async () => {
    expect((await write()).status).toBe(201);
    const answers: Answer[] = [];
    let writing = true;
    // Writes in flight while the connections are cut: some die mid-query, mid-transaction.
    const writers = Array.from({ length: 3 }, async () => {
      while (writing) answers.push(await write());
    });
    await until(() => answers.length >= 6);
    await proxy.drop();

    const ready = await request(app.app).get('/api/health/ready');
    expect(ready.status).toBe(503);
    expect(ready.body.checks.database.ok).toBe(false);
    const during = await write();
    expect(during).toMatchObject({ status: 503, code: 'database_unavailable', retryAfter: '5' });
    const t0 = Date.now();
    await write();
    // Refused at once: nothing waits for a connection that cannot come.
    expect(Date.now() - t0).toBeLessThan(2000);

    await proxy.resume();
    await until(async () => (await write()).status === 201, 15_000, 100);
    writing = false;
    await Promise.all(writers);
    expect((await request(app.app).get('/api/health/ready')).status).toBe(200);

    expect(answers.filter((a) => a.status !== 201 && a.status !== 503), JSON.stringify(answers)).toEqual([]);
    expect(answers.filter((a) => a.status === 503).every((a) => a.code === 'database_unavailable' && a.retryAfter === '5')).toBe(true);
    // Every write that answered 201 is in the database (read through a pool of its own, not the proxy).
    const acknowledged = answers.filter((a) => a.status === 201).map((a) => a.name);
    expect(acknowledged.length).toBeGreaterThan(0);
    const stored = await (await sharedDatabase()).db.select({ name: contacts.name }).from(contacts).where(inArray(contacts.name, acknowledged));
    expect(stored.map((r) => r.name).sort()).toEqual([...acknowledged].sort());
  }, 60_000);

  it('an Idempotency-Key whose attempt died with the database is freed once it is back: the retry runs, no 409', async () => {
    const store = new IdempotencyStore(database.db, { waitMs: 100 });
    const scope = { clinicId: clinic.id, route: 'POST /test', key: `pg-outage-${process.pid}-${++seq}`, request: {} };
    const failed = await store
      .run(scope, async () => {
        await proxy.drop();
        await database.db.execute(sql`select 1`);
        return { status: 201, body: { ran: 'first' } };
      })
      .catch((err: unknown) => err);
    expect(databaseUnreachable(failed)).toBe(true);
    await proxy.resume();
    // The key is freed in the background as soon as the database answers again.
    const keyRows = () => sharedDatabase().then(({ db }) => db.select({ id: idempotencyKeys.id }).from(idempotencyKeys).where(eq(idempotencyKeys.key, scope.key)));
    await until(async () => (await keyRows()).length === 0, 15_000, 100);
    expect(await store.run(scope, async () => ({ status: 201, body: { ran: 'retry' } }))).toEqual({ status: 201, body: { ran: 'retry' }, replayed: false });
  }, 30_000);
});
