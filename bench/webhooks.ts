/**
 * Outbound webhook figures on real Postgres with the in-process queue (`npx tsx bench/webhooks.ts`;
 * BENCH_DATABASE_URL overrides postgres://postgres@127.0.0.1:5432/postgres). Creates and drops a
 * database of its own; the receiver is a node:http server on 127.0.0.1 answering 200 at once.
 *   0. Baseline, same run: the same signed POSTs (standardwebhooks signature, safe-fetch with its
 *      kept-alive connections, as the job sends) by a loop at the queue's concurrency, with no
 *      database: the sender's ceiling on this machine.
 *   1. Throughput: 5,000 deliveries queued at once; signed deliveries/s until every row is `delivered`
 *      (each one: load, claim, sign, POST, record, as the job runs in production).
 *   2. Lag: contact.created events published at 100/s for 10 s (one per transaction) with one
 *      subscription listening; time from the event's commit to the receiver holding the request.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { eq, sql } from 'drizzle-orm';
import postgres from 'postgres';
import { clinics, webhookDeliveries } from '../shared/schema/index.js';
import { loadConfig } from '../server/config.js';
import { closeInfra, createInfra } from '../server/infra/index.js';
import { createLogger } from '../server/infra/logger.js';
import { QUEUES } from '../server/infra/queue.js';
import { systemContext } from '../server/http/context.js';
import { safeFetch } from '../server/lib/safe-fetch.js';
import { createModules } from '../server/modules/index.js';
import { envelopeBody } from '../server/modules/outbound-webhooks/catalog.js';
import { newSecret, signedHeaders } from '../server/modules/outbound-webhooks/signing.js';

const BASE = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const name = `opb_bench_webhooks_${Date.now().toString(36)}`;
const admin = postgres(BASE, { max: 1, onnotice: () => {} });
await admin.unsafe(`create database ${name}`);
const url = new URL(BASE);
url.pathname = `/${name}`;

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
};
const round = (x: number) => Math.round(x * 10) / 10;
/** CPU of this process (sender and receiver; Postgres not included) per item, in microseconds. */
const cpuPer = (since: NodeJS.CpuUsage, n: number) => {
  const used = process.cpuUsage(since);
  return Math.round((used.user + used.system) / n);
};

// The receiver: when each request arrived, by the `type` and contact id in its body.
const arrivals = new Map<string, number>();
let received = 0;
const receiver = http.createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    received++;
    const body = JSON.parse(Buffer.concat(chunks).toString()) as { data?: { contactId?: string } };
    if (body.data?.contactId) arrivals.set(body.data.contactId, Date.now());
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
  });
});
await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
const target = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/webhook/bench`;
const concurrency = QUEUES.webhooks.concurrency;

try {
  const config = loadConfig({ NODE_ENV: 'development', DATABASE_URL: url.toString(), DATA_DIR: '/tmp/opb-bench', LOG_LEVEL: 'silent', OUTBOUND_ALLOW_HOSTS: '127.0.0.1' });
  const infra = await createInfra(config, createLogger({ level: 'silent' }));
  const modules = createModules(infra);
  await infra.queue.start(modules.jobs);
  infra.events.start();
  const [clinic] = await infra.db.insert(clinics).values({ name: 'Bench webhooks' }).returning({ id: clinics.id });
  const clinicId = (clinic as { id: string }).id;
  const ctx = systemContext(clinicId, 'webhooks', null);
  const { webhooks } = modules.services;
  const sub = await webhooks.subscriptions.create(ctx, { url: target, events: ['contact.created'] });
  const body = envelopeBody('contact.created', clinicId, new Date(), { contactId: '00000000-0000-4000-8000-000000000000', status: 'active' });

  // 0. Baseline: sign and POST only.
  {
    const N = 5_000;
    const secret = newSecret();
    // The configuration's list, as the job passes it (safe-fetch parses a list once).
    const allowHosts = config.outboundAllowHosts;
    let next = 0;
    const cpu = process.cpuUsage();
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < N) {
          next++;
          const headers = await signedHeaders(`msg_${next}`, body, new Date(), { secrets: [secret], authMode: 'standard', clinicId });
          await safeFetch(target, { method: 'POST', body, headers, anyStatus: true, maxBytes: 1024, timeoutMs: 10_000, allowHosts });
        }
      }),
    );
    console.log(`baseline: ${N} signed POSTs without the database, ${concurrency} at a time: ${Math.round(N / ((performance.now() - t0) / 1000))} /s, ${cpuPer(cpu, N)} us CPU each`);
  }

  // 1. Throughput through the job.
  {
    const N = 5_000;
    const rows = await infra.db
      .insert(webhookDeliveries)
      .values(Array.from({ length: N }, () => ({ clinicId, subscriptionId: sub.id, eventType: 'contact.created', body })))
      .returning({ id: webhookDeliveries.id });
    const cpu = process.cpuUsage();
    const t0 = performance.now();
    await Promise.all(rows.map((r) => webhooks.deliveries.enqueue(clinicId, r.id, 0)));
    for (;;) {
      const [left] = await infra.db.select({ n: sql<number>`count(*)::int` }).from(webhookDeliveries).where(eq(webhookDeliveries.status, 'pending'));
      if ((left?.n ?? 1) === 0) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const seconds = (performance.now() - t0) / 1000;
    const perDelivery = cpuPer(cpu, N);
    const [failed] = await infra.db.select({ n: sql<number>`count(*)::int` }).from(webhookDeliveries).where(eq(webhookDeliveries.status, 'failed'));
    console.log(`throughput: ${N} deliveries in ${round(seconds)} s = ${Math.round(N / seconds)} signed deliveries/s, ${perDelivery} us CPU each (queue concurrency ${concurrency}; failed: ${failed?.n ?? 0})`);
  }

  // 2. Outbox-to-delivery lag at 100 events/s.
  {
    const RATE = 100;
    const SECONDS = 10;
    const committed = new Map<string, number>();
    const publishing: Promise<void>[] = [];
    const t0 = Date.now();
    // Each event at its time, whether or not the previous commit is done (writers do not queue behind each other).
    for (let i = 0; i < RATE * SECONDS; i++) {
      const due = t0 + (i * 1000) / RATE;
      if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
      const contactId = crypto.randomUUID();
      publishing.push(
        infra.db
          .transaction(async (tx) => {
            await infra.events.publish(tx, 'contact.created', { id: contactId, name: 'Paciente', phone: null, status: 'active' }, ctx);
          })
          .then(() => void committed.set(contactId, Date.now())),
      );
    }
    await Promise.all(publishing);
    const rate = Math.round((RATE * SECONDS) / ((Date.now() - t0) / 1000));
    const deadline = Date.now() + 30_000;
    while (arrivals.size < committed.size + 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const lags = [...committed].map(([id, at]) => (arrivals.get(id) ?? Infinity) - at);
    console.log(
      `lag: ${committed.size} events at ${RATE}/s (published at ${rate}/s): commit to receiver p50 ${pct(lags, 50)} ms, p99 ${pct(lags, 99)} ms, max ${Math.max(...lags)} ms; missing ${lags.filter((l) => !Number.isFinite(l)).length}`,
    );
  }
  console.log(`receiver saw ${received} requests`);
  await closeInfra(infra);
} finally {
  receiver.closeAllConnections();
  receiver.close();
  await admin.unsafe(`drop database if exists ${name} with (force)`);
  await admin.end();
}
