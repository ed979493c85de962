import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, describe, expect, inject, it } from 'vitest';
import { eq } from 'drizzle-orm';
import type { DeliveredEvent } from '../../shared/api/domain-events.js';
import { clinics, outbox } from '../../shared/schema/index.js';
import { createLogger } from '../../server/infra/logger.js';
import { Outbox, type OutboxOptions, type Subscriber } from '../../server/infra/outbox.js';
import { openDatabase, type Database } from '../../server/infra/db.js';
import { buildTestApp, sharedDatabase, TEST_ORIGIN, type TestApp } from '../helpers/app.js';
import { anonymous, createClinic } from '../helpers/clinic.js';
import { createPatient } from '../helpers/patients.js';
import { listen, nextEvent, openSocket, sessionCookie } from '../helpers/server.js';
import { until } from '../helpers/until.js';

const log = createLogger({ level: 'silent' });
const running: Outbox[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((o) => o.stop()));
});

/** A relay of its own on the test database, with subscribers that only it serves. */
function relay(database: Database, subscribers: Subscriber[], opts: OutboxOptions = {}) {
  const o = new Outbox(database, log, { scope: `${randomUUID().slice(0, 8)}:`, backoffMs: 10, ...opts });
  for (const s of subscribers) o.subscribe(s);
  o.start();
  running.push(o);
  return o;
}

/** Records what it receives; `fail(event)` decides whether this attempt throws. */
function probe(name: string, fail: (e: DeliveredEvent<'contact.updated'>) => boolean = () => false) {
  const received: DeliveredEvent<'contact.updated'>[] = [];
  const attempts: number[] = [];
  const subscriber: Subscriber<'contact.updated'> = {
    name,
    events: ['contact.updated'],
    handle(e) {
      attempts.push(e.id);
      if (fail(e)) throw new Error('subscriber down');
      received.push(e);
    },
  };
  return { subscriber, received, attempts };
}

async function newClinicId(database: Database) {
  const [row] = await database.db.insert(clinics).values({ name: 'Eventos' }).returning({ id: clinics.id });
  return (row as { id: string }).id;
}

const contactEvent = (id: string, name = 'Ana') => ({ id, name, phone: null, status: 'active' });


describe('outbox', () => {
  it('delivers a committed event once, with who caused it, and nothing of a rolled-back transaction', async () => {
    const database = await sharedDatabase();
    const clinicId = await newClinicId(database);
    const p = probe('probe');
    const o = relay(database, [p.subscriber]);
    const kept = randomUUID();
    const dropped = randomUUID();
    await database.db.transaction((tx) =>
      o.publish(tx, 'contact.updated', contactEvent(kept), { clinicId, actor: { type: 'user', userId: kept }, requestId: 'req-1' }),
    );
    await expect(
      database.db.transaction(async (tx) => {
        await o.publish(tx, 'contact.updated', contactEvent(dropped), { clinicId });
        throw new Error('the write failed');
      }),
    ).rejects.toThrow('the write failed');
    await until(() => p.received.length > 0);
    await o.flush();
    expect(p.received).toHaveLength(1);
    expect(p.received[0]).toMatchObject({ name: 'contact.updated', clinicId, aggregateType: 'contact', aggregateId: kept, actor: `user:${kept}`, requestId: 'req-1', attempt: 1, payload: contactEvent(kept) });
    const rows = await database.db.select({ aggregateId: outbox.aggregateId }).from(outbox).where(eq(outbox.clinicId, clinicId));
    expect(rows.map((r) => r.aggregateId)).toEqual([kept]);
    expect(await o.stats()).toMatchObject({ pending: 0, dead: 0 });
  });

  it('retries a subscriber that fails three times until it succeeds, once, without holding back another', async () => {
    const database = await sharedDatabase();
    const clinicId = await newClinicId(database);
    let failures = 0;
    const flaky = probe('flaky', () => failures++ < 3);
    const steady = probe('steady');
    const o = relay(database, [flaky.subscriber, steady.subscriber], { backoffMs: 100 });
    const id = randomUUID();
    await database.db.transaction((tx) => o.publish(tx, 'contact.updated', contactEvent(id), { clinicId }));
    // The steady one has it long before the flaky one's retries (100, 200, 400 ms) are over.
    await until(() => steady.received.length === 1);
    expect(flaky.received).toHaveLength(0);
    await expect.poll(async () => (await o.stats()).failing).toBe(1);
    await until(() => flaky.received.length === 1);
    await o.flush();
    expect(flaky.attempts).toHaveLength(4);
    expect(flaky.received.map((e) => e.attempt)).toEqual([4]);
    expect(steady.received.map((e) => e.attempt)).toEqual([1]);
    expect(o.failures).toBe(3);
    expect(await o.stats()).toMatchObject({ pending: 0, failing: 0, dead: 0 });
  });

  it('keeps the order of one aggregate while its head is retried; other aggregates go on', async () => {
    const database = await sharedDatabase();
    const clinicId = await newClinicId(database);
    const [a, b] = [randomUUID(), randomUUID()];
    let firstOfA = true;
    const p = probe('ordered', (e) => {
      if (e.aggregateId === a && firstOfA) {
        firstOfA = false;
        return true;
      }
      return false;
    });
    const o = relay(database, [p.subscriber], { backoffMs: 200 });
    for (let i = 1; i <= 5; i++) {
      await database.db.transaction(async (tx) => {
        await o.publish(tx, 'contact.updated', contactEvent(a, `A${i}`), { clinicId });
        await o.publish(tx, 'contact.updated', contactEvent(b, `B${i}`), { clinicId });
      });
    }
    // B is not held back by A's failing head, and nothing of A overtook it.
    await until(() => p.received.filter((e) => e.aggregateId === b).length === 5);
    expect(p.received.filter((e) => e.aggregateId === a)).toEqual([]);
    await until(() => p.received.length === 10);
    expect(p.received.filter((e) => e.aggregateId === a).map((e) => e.payload.name)).toEqual(['A1', 'A2', 'A3', 'A4', 'A5']);
    expect(p.received.filter((e) => e.aggregateId === b).map((e) => e.payload.name)).toEqual(['B1', 'B2', 'B3', 'B4', 'B5']);
  });

  it('publishMany records several events in one statement, delivered in their order, to each subscriber of each', async () => {
    const database = await sharedDatabase();
    const clinicId = await newClinicId(database);
    const [a, b] = [randomUUID(), randomUUID()];
    const first = probe('many-1');
    const second = probe('many-2');
    const o = relay(database, [first.subscriber, second.subscriber]);
    const events = ['A1', 'A2', 'A3'].map((name) => ({ name: 'contact.updated' as const, payload: contactEvent(a, name) }));
    await database.db.transaction((tx) => o.publishMany(tx, [...events, { name: 'contact.updated', payload: contactEvent(b, 'B1') }, { name: 'contact.updated', payload: contactEvent(a, 'A4') }], { clinicId, requestId: 'req-many' }));
    await until(() => first.received.length === 5 && second.received.length === 5);
    for (const p of [first, second]) {
      expect(p.received.filter((e) => e.aggregateId === a).map((e) => e.payload.name)).toEqual(['A1', 'A2', 'A3', 'A4']);
      expect(p.received.filter((e) => e.aggregateId === b).map((e) => ({ name: e.payload.name, requestId: e.requestId }))).toEqual([{ name: 'B1', requestId: 'req-many' }]);
    }
    await o.flush();
    expect(first.received).toHaveLength(5);
  });

  it('delivers an aggregate\'s events one after the other at once, without waiting for the poll', async () => {
    const database = await sharedDatabase();
    const clinicId = await newClinicId(database);
    const a = randomUUID();
    const p = probe('chain');
    // A poll that never comes within the test: each next event must follow its head's delivery by itself.
    const o = relay(database, [p.subscriber], { pollMs: 600_000 });
    const events = ['A1', 'A2', 'A3', 'A4'].map((name) => ({ name: 'contact.updated' as const, payload: contactEvent(a, name) }));
    await database.db.transaction((tx) => o.publishMany(tx, events, { clinicId }));
    await until(() => p.received.length === 4, 3000);
    expect(p.received.map((e) => e.payload.name)).toEqual(['A1', 'A2', 'A3', 'A4']);
  });

  it('hands a claimed batch to handleBatch in one call; when it throws, each event goes to handle alone and only the failing one is retried', async () => {
    const database = await sharedDatabase();
    const clinicId = await newClinicId(database);
    const ids = [randomUUID(), randomUUID(), randomUUID()];
    const batches: string[][] = [];
    const alone: string[] = [];
    let breakBatch = false;
    let badAttempts = 0;
    const subscriber: Subscriber<'contact.updated'> = {
      name: 'batched',
      events: ['contact.updated'],
      handle(e) {
        alone.push(e.payload.name);
        if (e.payload.name === 'bad' && badAttempts++ < 2) throw new Error('this one fails');
      },
      async handleBatch(events) {
        if (breakBatch) throw new Error('batch failed');
        batches.push(events.map((e) => e.payload.name));
      },
    };
    // Published before the relay starts, so its first claim takes all three (heads of three aggregates).
    const o = new Outbox(database, log, { scope: `${randomUUID().slice(0, 8)}:`, backoffMs: 10 });
    o.subscribe(subscriber);
    await database.db.transaction((tx) => o.publishMany(tx, ids.map((id, i) => ({ name: 'contact.updated' as const, payload: contactEvent(id, `c${i}`) })), { clinicId }));
    o.start();
    running.push(o);
    await o.flush();
    expect(batches).toEqual([['c0', 'c1', 'c2']]);
    expect(alone).toEqual([]);
    breakBatch = true;
    await o.stop();
    await database.db.transaction((tx) => o.publishMany(tx, [contactEvent(ids[0]!, 'ok'), contactEvent(ids[1]!, 'bad')].map((payload) => ({ name: 'contact.updated' as const, payload })), { clinicId }));
    o.start();
    await until(() => alone.filter((n) => n === 'bad').length === 3);
    await o.flush();
    // 'ok' delivered once on its own after the batch failed; 'bad' failed twice, alone, then went through.
    expect(alone.filter((n) => n === 'ok')).toEqual(['ok']);
    expect(await o.stats()).toMatchObject({ pending: 0, dead: 0 });
  });

  it('marks a delivery dead after the last attempt and lets the aggregate move on', async () => {
    const database = await sharedDatabase();
    const clinicId = await newClinicId(database);
    const id = randomUUID();
    const p = probe('doomed', (e) => e.payload.name === 'poison');
    const o = relay(database, [p.subscriber], { maxAttempts: 2 });
    await database.db.transaction((tx) => o.publish(tx, 'contact.updated', contactEvent(id, 'poison'), { clinicId }));
    await database.db.transaction((tx) => o.publish(tx, 'contact.updated', contactEvent(id, 'fine'), { clinicId }));
    await until(() => p.received.length === 1);
    expect(p.received[0]?.payload.name).toBe('fine');
    expect(p.attempts).toHaveLength(3);
    await o.flush();
    expect(await o.stats()).toMatchObject({ pending: 0, dead: 1 });
  });

  it('gives up on a hung handler after its timeout and delivers the event again', async () => {
    const database = await sharedDatabase();
    const clinicId = await newClinicId(database);
    let hung = false;
    const p = probe('hangs-once');
    const hangsOnce: Subscriber<'contact.updated'> = {
      ...p.subscriber,
      handle: (e) => {
        if (!hung) {
          hung = true;
          return new Promise<void>(() => {});
        }
        return p.subscriber.handle(e);
      },
    };
    const o = relay(database, [hangsOnce], { timeoutMs: 100 });
    await database.db.transaction((tx) => o.publish(tx, 'contact.updated', contactEvent(randomUUID()), { clinicId }));
    await until(() => p.received.length === 1);
    expect(p.received[0]?.attempt).toBe(2);
  });

  it('prunes old events nobody waits for, and keeps the ones still owed', async () => {
    const database = await sharedDatabase();
    const clinicId = await newClinicId(database);
    const blocked = probe('blocked', () => true);
    const o = relay(database, [blocked.subscriber], { backoffMs: 60_000 });
    const [done, owed] = [randomUUID(), randomUUID()];
    // `done` has no subscriber here (no delivery row); `owed` waits for `blocked`.
    await database.db.transaction((tx) => o.publish(tx, 'contact.created', contactEvent(done), { clinicId }));
    await database.db.transaction((tx) => o.publish(tx, 'contact.updated', contactEvent(owed), { clinicId }));
    await until(() => blocked.attempts.length === 1);
    expect(await o.prune(0)).toBeGreaterThanOrEqual(1);
    const left = await database.db.select({ aggregateId: outbox.aggregateId }).from(outbox).where(eq(outbox.clinicId, clinicId));
    expect(left.map((r) => r.aggregateId)).toEqual([owed]);
  });
});

describe('events of the API', () => {
  let app: TestApp;
  afterAll(() => app?.close());

  it('reports lag and failures in /metrics and /api/health/ready', async () => {
    const stuck = probe('stuck', () => true);
    const own = await buildTestApp({ subscribers: [stuck.subscriber], outbox: { backoffMs: 60_000 } });
    try {
      const clinic = await createClinic({ app: own });
      await createPatient(clinic).then((c) => clinic.receptionist.agent.patch(`/api/contacts/${c.id}`).send({ name: 'Caio Reis' }));
      await until(() => own.infra.events.failures === 1);
      await new Promise((r) => setTimeout(r, 1100));
      const metrics = (await anonymous(own).get('/metrics')).text;
      expect(Number(/^outbox_lag_seconds (\S+)$/m.exec(metrics)?.[1])).toBeGreaterThanOrEqual(1);
      expect(metrics).toMatch(/^outbox_deliveries\{state="failing"\} 1$/m);
      expect(metrics).toMatch(/^outbox_delivery_failures_total 1$/m);
      const ready = await anonymous(own).get('/api/health/ready');
      expect(ready.status).toBe(200);
      expect(ready.body.outbox).toMatchObject({ pending: 1, failing: 1, dead: 0, failuresHere: 1 });
      expect(ready.body.outbox.lagSeconds).toBeGreaterThanOrEqual(1);
    } finally {
      await own.close();
    }
  });

  it('answers the request and reaches sockets while another subscriber fails three times', async () => {
    let failures = 0;
    const flaky = probe('flaky-crm', () => failures++ < 3);
    app = await buildTestApp({ subscribers: [flaky.subscriber] });
    const server = await listen(app);
    try {
      const clinic = await createClinic({ app });
      const contactId = (await createPatient(clinic, { name: 'Bia Souza' })).id;
      const socket = await openSocket(server.url, { origin: TEST_ORIGIN, cookie: await sessionCookie(server.url, clinic.receptionist.email) });
      const updated = nextEvent(socket, 'contact:updated');
      const res = await clinic.receptionist.agent.patch(`/api/contacts/${contactId}`).send({ name: 'Bia Lima' });
      expect(res.status).toBe(200);
      expect(await updated).toMatchObject({ id: contactId, name: 'Bia Lima' });
      await until(() => flaky.received.length === 1);
      expect(flaky.received[0]).toMatchObject({ name: 'contact.updated', clinicId: clinic.id, actor: `user:${clinic.receptionist.id}`, attempt: 4, payload: { id: contactId, name: 'Bia Lima' } });
      expect(flaky.received[0]?.requestId).toBe(res.headers['x-request-id']);
      socket.close();
    } finally {
      await server.close();
    }
  });
});

// Two instances, each with a pool of its own, relaying one table together (the EB environment runs 1-3).
describe.skipIf(!inject('databaseUrl'))('two instances on one Postgres', () => {
  const apps: TestApp[] = [];
  afterAll(async () => {
    await Promise.all(apps.map(async (a) => {
      await a.close();
      await a.infra.database.close();
    }));
  });

  it('deliver every event exactly once, in order per aggregate, both taking part', async () => {
    const deliveries: { instance: number; e: DeliveredEvent<'contact.updated'> }[] = [];
    const scope = `cluster${randomUUID().slice(0, 8)}:`;
    const instance = (n: number): Subscriber<'contact.updated'> => ({
      name: 'probe',
      events: ['contact.updated'],
      async handle(e) {
        await new Promise((r) => setImmediate(r));
        deliveries.push({ instance: n, e });
      },
    });
    for (const n of [0, 1]) {
      const database = await openDatabase({ url: inject('databaseUrl'), poolMax: 5 });
      apps.push(await buildTestApp({ database, outbox: { scope, batchSize: 20 }, subscribers: [instance(n)] }));
    }
    const [first, second] = apps as [TestApp, TestApp];
    const clinicId = await newClinicId(first.infra.database);
    const aggregates = Array.from({ length: 40 }, () => randomUUID());
    // 20 transactions of 20 events each, alternating between the instances, published concurrently.
    await Promise.all(
      Array.from({ length: 20 }, (_, t) => {
        const app = t % 2 === 0 ? first : second;
        return app.infra.db.transaction(async (tx) => {
          for (let i = 0; i < 20; i++) {
            const aggregate = aggregates[(t * 20 + i) % aggregates.length] as string;
            await app.infra.events.publish(tx, 'contact.updated', contactEvent(aggregate, `${t}-${i}`), { clinicId });
          }
        });
      }),
    );
    await until(() => deliveries.length >= 400, 30_000);
    await Promise.all(apps.map((a) => a.infra.events.flush()));
    const ids = deliveries.map((l) => l.e.id);
    expect(new Set(ids).size).toBe(400);
    expect(ids).toHaveLength(400);
    for (const aggregate of aggregates) {
      const seen = deliveries.filter((l) => l.e.aggregateId === aggregate).map((l) => l.e.id);
      expect(seen).toEqual([...seen].sort((x, y) => x - y));
    }
    expect(new Set(deliveries.map((l) => l.instance))).toEqual(new Set([0, 1]));
  });
});
