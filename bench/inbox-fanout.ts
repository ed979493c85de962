/**
 * `message:new` fan-out of the WhatsApp issue: 1,000 sockets of one clinic connected to one
 * process; a patient's message is stored with its events (the way ingestion stores it) and the
 * time from commit to arrival is taken at every socket: target p99 < 100 ms. The baseline, in the
 * same run, is a bare `emitToClinic` of `test:ping` to the same sockets (no database, no outbox).
 * The clients run in a child process (bench/lib/fanout-clients.ts), timed on the shared epoch clock. Run: `npx tsx bench/inbox-fanout.ts` (PGlite) or with DATABASE_URL set;
 * `--sockets N` and `--messages N` change the size.
 */
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { eq, sql } from 'drizzle-orm';
import { loadConfig } from '../server/config.js';
import { createApp } from '../server/app.js';
import { listeningPort, startServer } from '../server/http-server.js';
import { ClinicData } from '../server/infra/clinic-data.js';
import { closeInfra, createInfra } from '../server/infra/index.js';
import { createLogger } from '../server/infra/logger.js';
import { createModules } from '../server/modules/index.js';
import { hashPassword } from '../server/modules/auth/passwords.js';
import { clinics, contacts, conversations, memberships, messages, users, whatsappNumbers } from '../shared/schema/index.js';

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const SOCKETS = arg('sockets', 1000);
const MESSAGES = arg('messages', 30);
const ORIGIN = 'http://bench.local';
const dataDir = mkdtempSync(path.join(os.tmpdir(), 'opb-bench-'));
const config = loadConfig({ ...process.env, NODE_ENV: 'development', DATA_DIR: dataDir, CORS_ORIGINS: ORIGIN });
const infra = await createInfra(config, createLogger({ level: 'silent' }));
const modules = createModules(infra);
infra.events.start();
const app = createApp({ infra, modules, rateLimits: { login: 1000, register: 1000, passwordReset: 1000, public: 1000 } });
const server = await startServer(infra, app, { port: 0, host: '127.0.0.1' });
const base = `http://127.0.0.1:${listeningPort(server)}`;

// One clinic, one receptionist (every socket signs in with the same session), one conversation.
const db = infra.db;
const tag = Date.now().toString(36);
const [clinic] = await db.insert(clinics).values({ name: `Bench ${tag}` }).returning();
const email = `bench-${tag}@example.com`;
const [user] = await db.insert(users).values({ name: 'Recepção Bench', email, passwordHash: await hashPassword('bench-password-1') }).returning();
if (!clinic || !user) throw new Error('seed failed');
await db.insert(memberships).values({ clinicId: clinic.id, userId: user.id, role: 'receptionist' });
const data = new ClinicData(clinic.id, db);
const connection = await modules.services.integrations.connections.create(clinic.id, { provider: 'evolution', label: 'Bench', credentials: { instanceToken: 'x' } });
const [number] = await data.insert(whatsappNumbers, { connectionId: connection.id, instanceName: `bench-${tag}`, state: 'open' }).returning();
const [contact] = await data.insert(contacts, { name: 'Paciente Bench', phone: '+5511987650000', status: 'active' }).returning();
if (!number || !contact) throw new Error('seed failed');
const [conversation] = await data.insert(conversations, { numberId: number.id, contactId: contact.id }).returning();
if (!conversation) throw new Error('seed failed');

const login = await fetch(`${base}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json', origin: ORIGIN }, body: JSON.stringify({ email, password: 'bench-password-1' }) });
const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
if (login.status !== 200 || !cookie) throw new Error(`login failed: ${login.status}`);

// The clients live in a child process: this one only stores, relays and emits.
const clients = fork(fileURLToPath(new URL('./lib/fanout-clients.ts', import.meta.url)), [], {
  execArgv: ['--import', 'tsx'],
  env: { ...process.env, URL: base, SOCKETS: String(SOCKETS), COOKIE: cookie, ORIGIN },
});
const replies: ((m: { arrivals?: number[]; ready?: number }) => void)[] = [];
clients.on('message', (m: { arrivals?: number[]; ready?: number }) => replies.shift()?.(m));
const reply = () => new Promise<{ arrivals?: number[]; ready?: number }>((resolve) => replies.push(resolve));
const ready = await reply();
const now = () => performance.timeOrigin + performance.now();

/** Runs `fire` once per round and collects, per socket, the ms from `fire` to the arrival of the event. */
async function fanOut(rounds: number, fire: (round: number) => Promise<void>): Promise<number[]> {
  const latencies: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const arrived = reply();
    const t0 = now();
    await fire(round);
    const { arrivals = [] } = await arrived;
    latencies.push(...arrivals.map((t) => t - t0));
  }
  return latencies;
}

const stats = (name: string, samples: number[]) => {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  console.log(`${name.padEnd(46)} n=${sorted.length}  p50 ${at(0.5).toFixed(1)} ms  p95 ${at(0.95).toFixed(1)} ms  p99 ${at(0.99).toFixed(1)} ms`);
  return at(0.99);
};

console.log(`database: ${infra.database.kind}; ${ready.ready} sockets of one clinic, ${MESSAGES} messages`);
await fanOut(3, async () => infra.realtime.emitToClinic(clinic.id, 'test:ping', { at: new Date().toISOString(), by: 'bench' })); // warm-up
const baseline = stats('baseline: bare emitToClinic (test:ping)', await fanOut(MESSAGES, async () => infra.realtime.emitToClinic(clinic.id, 'test:ping', { at: '', by: 'bench' })));
const p99 = stats('message:new from commit to every socket', await fanOut(MESSAGES, (round) => storeInbound(`Mensagem ${round} do paciente`)));
console.log(`p99 / baseline p99: ${(p99 / baseline).toFixed(1)}x (target: message:new p99 < 100 ms) ${p99 < 100 ? 'target met' : 'TARGET MISSED'}`);

/** What ingestion does for a patient's message: the row, the conversation's preview, the events, in one transaction. */
async function storeInbound(text: string) {
  if (!conversation || !number || !contact) return;
  await data.transaction(async (scoped, tx) => {
    const [row] = await scoped.insert(messages, { conversationId: conversation.id, numberId: number.id, externalId: `BENCH${text}`, direction: 'inbound', sender: 'contact', type: 'text', text, status: 'delivery_ack' }).returning();
    if (!row) throw new Error('insert failed');
    await scoped.update(conversations, { lastMessageId: row.id, lastMessageAt: row.sentAt, unreadCount: sql`${conversations.unreadCount} + 1` }, eq(conversations.id, conversation.id));
    await infra.events.publish(tx, 'message.received', { id: row.id, conversationId: conversation.id, contactId: contact.id, numberId: number.id, externalId: row.externalId ?? '' }, { clinicId: clinic?.id ?? '' });
  });
}

clients.send('close');
await infra.realtime.close();
server.closeAllConnections();
await new Promise<void>((resolve) => server.close(() => resolve()));
await closeInfra(infra);
rmSync(dataDir, { recursive: true, force: true });
