/**
 * Auto-reply overhead (issue #12: p95 < 100 ms from the event to the send job, excluding the
 * model's latency): a patient's message committed with its `message.received` event -> the
 * `assistant-reply` subscriber -> the `assistant.reply` job (debounce 0) -> config, checks,
 * hybrid search over a small knowledge base, one chat call, the answer stored -> `message.sent`
 * -> the `inbox.send` job enqueued. The fake OpenAI server on 127.0.0.1 answers at once, and the
 * time inside the chat and embedding calls is subtracted (the provider's, not ours). Sequential messages, each
 * in a conversation of its own. Baseline of the same run: commit to a no-op subscriber of the same
 * event (the outbox relay alone).
 *
 *   npx tsx bench/assistant-reply.ts            # PGlite + memory queue (DATABASE_URL / REDIS_URL to use Postgres / BullMQ)
 *   npx tsx bench/assistant-reply.ts --n=300
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { eq, sql } from 'drizzle-orm';
import { clinics, contacts, conversations, knowledgeDocuments, messages, whatsappNumbers } from '../shared/schema/index.js';
import { loadConfig } from '../server/config.js';
import { ClinicData } from '../server/infra/clinic-data.js';
import { closeInfra, createInfra } from '../server/infra/index.js';
import { createLogger } from '../server/infra/logger.js';
import { createModules } from '../server/modules/index.js';
import type { TenantContext } from '../server/http/context.js';
import { FakeEvolution } from '../test/fakes/evolution.js';
import { FakeOpenAI } from '../test/fakes/openai.js';

const N = Number(process.argv.find((a) => a.startsWith('--n='))?.split('=')[1] ?? 200);
const WARMUP = 20;
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] ?? NaN;
const ms = (x: number) => x.toFixed(1);

const [openai, evolution] = await Promise.all([new FakeOpenAI().start(), new FakeEvolution().start()]);
const dataDir = mkdtempSync(path.join(os.tmpdir(), 'opb-bench-assistant-'));
const config = loadConfig({
  ...process.env,
  NODE_ENV: 'development',
  DATA_DIR: dataDir,
  OPENAI_API_KEY: openai.apiKey,
  OPENAI_BASE_URL: openai.baseUrl,
  EVOLUTION_API_URL: evolution.url,
  EVOLUTION_API_KEY: evolution.apiKey,
  WHATSAPP_SEND_RATE_PER_SECOND: '50',
});
const infra = await createInfra(config, createLogger({ level: 'silent' }));
const modules = createModules(infra);

// Timestamps: the send job enqueued (per message answered), the relay's baseline, the model's own time.
// Messages are sent one at a time, so the next send job is the answer's (no polling: PGlite has one connection).
let nextSendJob: ((at: number) => void) | undefined;
const add = infra.queue.add.bind(infra.queue);
infra.queue.add = (async (name, data, opts) => {
  if (name === 'inbox.send') nextSendJob?.(performance.now());
  return add(name, data, opts);
}) as typeof infra.queue.add;
const relayedAt = new Map<string, number>();
infra.events.subscribe({ name: 'bench-baseline', events: ['message.received'], handle: (e) => void relayedAt.set((e.payload as { id: string }).id, performance.now()) });
let modelMs = 0;
const chat = infra.ai!.client.chat.completions;
const create = chat.create.bind(chat);
chat.create = (async (...args: Parameters<typeof create>) => {
  const t = performance.now();
  try {
    return await create(...args);
  } finally {
    modelMs += performance.now() - t;
  }
}) as typeof chat.create;

// The query's embedding is the provider's time too.
const embed = infra.ai!.embed.bind(infra.ai);
infra.ai!.embed = async (inputs) => {
  const t = performance.now();
  try {
    return await embed(inputs);
  } finally {
    modelMs += performance.now() - t;
  }
};

await infra.queue.start(modules.jobs);
infra.events.start();

const [clinic] = await infra.db.insert(clinics).values({ name: 'Bench assistant' }).returning();
if (!clinic) throw new Error('seed failed');
const data = new ClinicData(clinic.id, infra.db);
const ctx: TenantContext = { clinicId: clinic.id, actor: { type: 'system', service: 'assistant' }, requestId: 'bench', ip: undefined, userAgent: undefined };
const instanceName = `bench-${randomUUID().slice(0, 8)}`;
const instanceToken = randomUUID();
const connection = await modules.services.integrations.connections.create(clinic.id, { provider: 'evolution', credentials: { instanceToken, webhookSecret: randomUUID() }, webhook: true, config: { instanceName } });
const [number] = await data.insert(whatsappNumbers, { connectionId: connection.id, instanceName, name: 'Recepção', state: 'open' }).returning();
await fetch(`${evolution.url}/instance/create`, { method: 'POST', headers: { apikey: evolution.apiKey, 'content-type': 'application/json' }, body: JSON.stringify({ instanceName, token: instanceToken, integration: 'WHATSAPP-BAILEYS' }) });
evolution.scan(instanceName);

const { knowledge } = modules.services;
const base = await knowledge.createBase(ctx, { name: 'Atendimento' });
for (const text of ['Consulta de cardiologia: R$ 300,00. Eletrocardiograma: R$ 120,00.', 'Rua das Flores, 100, Pinheiros. Aceitamos Unimed e Bradesco Saúde.']) {
  await knowledge.addDocument(ctx, base.id, { type: 'text', title: text.slice(0, 20), content: text });
}
for (;;) {
  const rows = await data.pick({ status: knowledgeDocuments.status }, knowledgeDocuments);
  if (rows.every((r) => r.status === 'ready')) break;
  await new Promise((r) => setTimeout(r, 10));
}
await modules.services.aiConfig.update(ctx, { enabled: true, numberIds: [number!.id], debounceSeconds: 0, knowledgeBaseIds: [base.id], dailyTokenBudget: 100_000_000 });

const overhead: number[] = [];
const relay: number[] = [];
for (let i = 0; i < N + WARMUP; i++) {
  const [contact] = await data.insert(contacts, { name: `Paciente ${i}`, phone: `+55119${String(70000000 + i)}` }).returning();
  const [conversation] = await data.insert(conversations, { numberId: number!.id, contactId: contact!.id }).returning();
  const modelBefore = modelMs;
  const sent = new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no send job for message ${i}`)), 30_000);
    nextSendJob = (at) => (clearTimeout(timer), resolve(at));
  });
  const inboundId = await data.transaction(async (scoped, tx) => {
    const [m] = await scoped.insert(messages, { conversationId: conversation!.id, numberId: number!.id, direction: 'inbound', sender: 'contact', type: 'text', text: 'Qual o preço da consulta de cardiologia?', status: 'delivery_ack', externalId: `BENCH${i}` }).returning();
    await scoped.update(conversations, { lastMessageId: m!.id, lastMessageAt: m!.sentAt, unreadCount: sql`${conversations.unreadCount} + 1` }, eq(conversations.id, conversation!.id));
    await infra.events.publish(tx, 'message.received', { id: m!.id, conversationId: conversation!.id, contactId: contact!.id, numberId: number!.id, externalId: `BENCH${i}` }, { clinicId: clinic.id });
    return m!.id;
  });
  const committed = performance.now();
  const sentAt = await sent;
  if (i < WARMUP) continue;
  overhead.push(sentAt - committed - (modelMs - modelBefore));
  relay.push(relayedAt.get(inboundId)! - committed);
}

console.log(`machine: ${os.cpus().length} x ${os.cpus()[0]?.model ?? 'cpu'}, node ${process.version}; database ${infra.database.kind}, queue ${infra.queue.kind}; ${N} replies after ${WARMUP} warm-up`);
console.log(`  relay alone (baseline): commit -> subscriber       p50 ${ms(pct(relay, 50))} ms, p95 ${ms(pct(relay, 95))} ms`);
console.log(`  auto-reply: commit -> inbox.send job, minus model  p50 ${ms(pct(overhead, 50))} ms, p95 ${ms(pct(overhead, 95))} ms, max ${ms(Math.max(...overhead))} ms`);
console.log(`  provider time (fake, at once: chat + query embedding) per reply: ${ms(modelMs / (N + WARMUP))} ms on average`);

await closeInfra(infra);
await Promise.all([openai.stop(), evolution.stop()]);
rmSync(dataDir, { recursive: true, force: true });
if (pct(overhead, 95) >= 100) {
  console.error('target missed: p95 < 100 ms');
  process.exit(1);
}
