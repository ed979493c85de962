import { createHash, randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { and, eq, sql } from 'drizzle-orm';
import { appointments, idempotencyKeys } from '../../shared/schema/index.js';
import { IdempotencyStore, pruneIdempotencyKeys } from '../../server/http/idempotency.js';
import { buildTestApp, getTestApp, type TestApp } from '../helpers/app.js';
import { createClinic, signIn, type TestClinic } from '../helpers/clinic.js';
import { createPatient } from '../helpers/scheduling.js';

let app: TestApp;
beforeAll(async () => {
  app = await getTestApp();
});

const at = (hhmm: string) => `2030-03-18T${hhmm}:00-03:00`;

function book(clinic: TestClinic, key: string | undefined, body: Record<string, unknown>, agent = clinic.receptionist.agent) {
  const req = agent.post('/api/appointments');
  if (key !== undefined) void req.set('Idempotency-Key', key);
  return req.send({ professionalId: clinic.professional.id, startsAt: at('10:00'), durationMinutes: 30, ...body });
}

const rowsOf = (clinic: TestClinic) => app.infra.db.select({ id: appointments.id }).from(appointments).where(eq(appointments.clinicId, clinic.id));

describe('Idempotency-Key on an idempotent route (POST /appointments)', () => {
  it('20 racing retries with one key give one booking and the same answer to all', async () => {
    const clinic = await createClinic({ app });
    const contactId = await createPatient(clinic);
    const key = randomUUID();
    const results = await Promise.all(Array.from({ length: 20 }, () => book(clinic, key, { contactId })));
    expect(results.map((r) => r.status)).toEqual(Array(20).fill(201));
    const first = results[0]?.body as { id: string };
    for (const r of results) expect(r.body).toEqual(first);
    expect(results.filter((r) => r.headers['idempotent-replayed'] === 'true')).toHaveLength(19);
    expect(await rowsOf(clinic)).toEqual([{ id: first.id }]);
  });

  it('replays from the database: another instance with its own (empty) cache gives the first answer', async () => {
    const clinic = await createClinic({ app });
    const contactId = await createPatient(clinic);
    const first = await book(clinic, 'once', { contactId });
    expect(first.status).toBe(201);
    const other = await buildTestApp();
    try {
      const agent = await signIn(other, clinic.receptionist.email);
      const retry = await book(clinic, 'once', { contactId }, agent);
      expect(retry.status).toBe(201);
      expect(retry.body).toEqual(first.body);
    } finally {
      await other.close();
    }
    expect(await rowsOf(clinic)).toHaveLength(1);
  });

  it('refuses the same key with a different body (422) and changes nothing', async () => {
    const clinic = await createClinic({ app });
    const contactId = await createPatient(clinic);
    expect((await book(clinic, 'k1', { contactId })).status).toBe(201);
    const reused = await book(clinic, 'k1', { contactId, startsAt: at('11:00') });
    expect(reused.status).toBe(422);
    expect(reused.body.error.code).toBe('idempotency_key_reused');
    expect(await rowsOf(clinic)).toHaveLength(1);
  });

  it('keys are per clinic, and a request without a key is never deduplicated', async () => {
    const [a, b] = await Promise.all([createClinic({ app }), createClinic({ app })]);
    const [pa, pb] = await Promise.all([createPatient(a), createPatient(b)]);
    const ra = await book(a, 'shared', { contactId: pa });
    const rb = await book(b, 'shared', { contactId: pb });
    expect([ra.status, rb.status]).toEqual([201, 201]);
    expect(rb.body.id).not.toBe(ra.body.id);
    expect((await book(a, undefined, { contactId: pa, startsAt: at('14:00') })).status).toBe(201);
    expect((await book(a, undefined, { contactId: pa, startsAt: at('14:00') })).status).toBe(409);
  });

  it('a failed attempt frees the key: the retry runs again once the cause is gone', async () => {
    const clinic = await createClinic({ app });
    const contactId = await createPatient(clinic);
    const blocker = await book(clinic, undefined, { contactId });
    const failed = await book(clinic, 'after-conflict', { contactId });
    expect(failed.status).toBe(409);
    expect(failed.body.error.code).toBe('appointment_conflict');
    await clinic.receptionist.agent.post(`/api/appointments/${blocker.body.id}/status`).send({ status: 'cancelled', reason: 'Remarcado' });
    const retry = await book(clinic, 'after-conflict', { contactId });
    expect(retry.status).toBe(201);
    expect(retry.headers['idempotent-replayed']).toBeUndefined();
  });

  it('refuses an empty or oversized key with 400', async () => {
    const clinic = await createClinic({ app });
    const contactId = await createPatient(clinic);
    for (const key of ['', 'k'.repeat(201)]) {
      const res = await book(clinic, key, { contactId });
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('invalid_idempotency_key');
    }
    expect(await rowsOf(clinic)).toHaveLength(0);
  });
});

describe('IdempotencyStore', () => {
  let store: IdempotencyStore;
  let clinicId: string;
  beforeAll(async () => {
    store = new IdempotencyStore(app.infra.db, { waitMs: 100 });
    clinicId = (await createClinic({ app })).id;
  });

  it('a retry that outwaits a running first attempt gets 409 idempotency_in_progress, then the answer', async () => {
    const scope = { clinicId, route: 'POST /test', key: randomUUID(), request: { body: { n: 1 } } };
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let runs = 0;
    const first = store.run(scope, async () => {
      runs++;
      await gate;
      return { status: 201, body: { done: true } };
    });
    // Once the first attempt holds the key:
    while (runs === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    await expect(store.run(scope, async () => ({ status: 500, body: (runs++, null) }))).rejects.toMatchObject({ status: 409, code: 'idempotency_in_progress' });
    release();
    expect(await first).toEqual({ status: 201, body: { done: true }, replayed: false });
    expect(await store.run(scope, async () => ({ status: 500, body: (runs++, null) }))).toEqual({ status: 201, body: { done: true }, replayed: true });
    expect(runs).toBe(1);
  });

  it('a claim left in progress by an attempt that died is taken over once stale, by one retry', async () => {
    const scope = { clinicId, route: 'POST /test', key: randomUUID(), request: { body: { n: 2 } } };
    // What a SIGKILL between the claim and the answer leaves: the key held, nobody working on it.
    await app.infra.db.insert(idempotencyKeys).values({ clinicId, route: scope.route, key: scope.key, fingerprint: createHash('sha256').update(JSON.stringify(scope.request)).digest('hex') });
    let runs = 0;
    const retry = () => store.run(scope, async () => ({ status: 201, body: { run: ++runs } }));
    await expect(retry()).rejects.toMatchObject({ status: 409, code: 'idempotency_in_progress' });
    expect(runs).toBe(0);
    await app.infra.db
      .update(idempotencyKeys)
      .set({ createdAt: sql`now() - interval '6 minutes'` })
      .where(and(eq(idempotencyKeys.clinicId, clinicId), eq(idempotencyKeys.key, scope.key)));
    const answers = await Promise.all([retry(), retry(), retry()]);
    expect(runs).toBe(1);
    expect(answers.map((a) => a.body)).toEqual([{ run: 1 }, { run: 1 }, { run: 1 }]);
    expect(answers.filter((a) => !a.replayed)).toHaveLength(1);
  });

  // What Postgres going away mid-statement looks like to the store: the statement's work may be done.
  const down = () => Object.assign(new Error('database unreachable'), { code: 'DATABASE_DOWN' });

  it('a claim whose commit was not acknowledged (Postgres went away) is freed: the retry runs', async () => {
    const scope = { clinicId, route: 'POST /test', key: randomUUID(), request: { body: { n: 3 } } };
    const db = app.infra.db;
    // The first claim is stored, then its answer is lost.
    const flaky = new Proxy(db, {
      get(target, prop, receiver) {
        if (prop !== 'insert') return Reflect.get(target, prop, receiver);
        return (table: typeof idempotencyKeys) => ({
          values: (v: never) => ({
            onConflictDoNothing: () => ({
              returning: (f: never) => target.insert(table).values(v).onConflictDoNothing().returning(f).then(() => Promise.reject(down())),
            }),
          }),
        });
      },
    });
    let runs = 0;
    const handler = async () => ({ status: 201, body: { run: ++runs } });
    await expect(new IdempotencyStore(flaky, { waitMs: 100 }).run(scope, handler)).rejects.toMatchObject({ code: 'DATABASE_DOWN' });
    expect(await store.run(scope, handler)).toEqual({ status: 201, body: { run: 1 }, replayed: false });
  });

  it('an answer the database could not store at once is stored when it returns: a retry replays it, never runs it again', async () => {
    const scope = { clinicId, route: 'POST /test', key: randomUUID(), request: { body: { n: 4 } } };
    const db = app.infra.db;
    let failing = true;
    setTimeout(() => (failing = false), 700);
    const flaky = new Proxy(db, {
      get(target, prop, receiver) {
        if (prop !== 'update' || !failing) return Reflect.get(target, prop, receiver);
        return () => ({ set: () => ({ where: () => Promise.reject(down()) }) });
      },
    });
    let runs = 0;
    const handler = async () => ({ status: 201, body: { run: ++runs } });
    expect(await new IdempotencyStore(flaky, { waitMs: 100 }).run(scope, handler)).toEqual({ status: 201, body: { run: 1 }, replayed: false });
    const patient = new IdempotencyStore(db, { waitMs: 5000 });
    expect(await patient.run(scope, handler)).toEqual({ status: 201, body: { run: 1 }, replayed: true });
    expect(runs).toBe(1);
  });

  it('prune deletes keys older than 24 hours only', async () => {
    const old = randomUUID();
    const recent = randomUUID();
    for (const key of [old, recent]) await store.run({ clinicId, route: 'POST /test', key, request: {} }, async () => ({ status: 200, body: {} }));
    await app.infra.db
      .update(idempotencyKeys)
      .set({ createdAt: sql`now() - interval '25 hours'` })
      .where(and(eq(idempotencyKeys.clinicId, clinicId), eq(idempotencyKeys.key, old)));
    expect(await pruneIdempotencyKeys(app.infra.systemDb)).toBeGreaterThanOrEqual(1);
    const left = await app.infra.db.select({ key: idempotencyKeys.key }).from(idempotencyKeys).where(eq(idempotencyKeys.clinicId, clinicId));
    expect(left.map((r) => r.key)).toContain(recent);
    expect(left.map((r) => r.key)).not.toContain(old);
  });
});
