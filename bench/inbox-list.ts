/**
 * The inbox list of the WhatsApp issue: a clinic with 10,000 conversations and 1,000,000 messages,
 * GET /api/conversations over HTTP on one process, warm: target p95 < 30 ms for the first page and
 * for a filtered page. Seeded with set-based SQL (generate_series), not a million inserts.
 * Run: `DATABASE_URL=postgres://... npx tsx bench/inbox-list.ts` (add `--full` for the million
 * messages; the default seeds 100,000 to stay short). Without DATABASE_URL it runs on PGlite. The
 * seeded clinic is left behind (audit rows are append-only): use a throwaway database.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'drizzle-orm';
import { loadConfig } from '../server/config.js';
import { createApp } from '../server/app.js';
import { closeInfra, createInfra } from '../server/infra/index.js';
import { createLogger } from '../server/infra/logger.js';
import { createModules } from '../server/modules/index.js';
import { hashPassword } from '../server/modules/auth/passwords.js';
import { clinics, memberships, users } from '../shared/schema/index.js';
import { signedInTimer } from './lib/timed-get.js';

const CONVERSATIONS = 10_000;
const MESSAGES = process.argv.includes('--full') ? 1_000_000 : 100_000;
const ORIGIN = 'http://bench.local';
const dataDir = mkdtempSync(path.join(os.tmpdir(), 'opb-bench-'));
const config = loadConfig({ ...process.env, NODE_ENV: 'development', DATA_DIR: dataDir, CORS_ORIGINS: ORIGIN });
const log = createLogger({ level: 'silent' });
const infra = await createInfra(config, log);
const modules = createModules(infra);
const { app } = createApp({ infra, modules, rateLimits: { login: 1000, register: 1000, passwordReset: 1000, public: 1000 } });
const server = createServer(app);
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const address = server.address();
const base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;

const db = infra.db;
const tag = Date.now().toString(36);
const [clinic] = await db.insert(clinics).values({ name: `Bench ${tag}` }).returning();
const email = `bench-${tag}@example.com`;
const [user] = await db.insert(users).values({ name: 'Recepção Bench', email, passwordHash: await hashPassword('bench-password-1') }).returning();
if (!clinic || !user) throw new Error('seed failed');
await db.insert(memberships).values({ clinicId: clinic.id, userId: user.id, role: 'receptionist' });

const seedStart = performance.now();
const c = clinic.id;
const connection = await modules.services.integrations.connections.create(c, { provider: 'evolution', label: 'Bench', credentials: { instanceToken: 'x' } });
await db.execute(sql`insert into whatsapp_numbers (clinic_id, connection_id, instance_name, name, state) values (${c}, ${connection.id}, ${`bench-${tag}`}, 'Recepção', 'open')`);
await db.execute(sql`insert into contacts (clinic_id, name, phone, status, search_text)
  select ${c}, 'Paciente ' || i, '+55119' || lpad(i::text, 8, '0'), 'active', 'paciente ' || i || ' 55119' || lpad(i::text, 8, '0')
  from generate_series(1, ${CONVERSATIONS}) i`);
// Statuses and assignees spread like a working inbox: most open, some pending or resolved, a third assigned.
await db.execute(sql`insert into conversations (clinic_id, number_id, contact_id, status, assignee_id, unread_count)
  select ${c}, n.id, ct.id,
    (array['open','open','open','pending','resolved'])[1 + (row_number() over () % 5)]::conversation_status,
    case when row_number() over () % 3 = 0 then ${user.id}::uuid end,
    (row_number() over () % 4)::int
  from contacts ct, whatsapp_numbers n where ct.clinic_id = ${c} and n.clinic_id = ${c}`);
// Messages spread over conversations and the last 90 days, a small vocabulary of clinic phrases.
await db.execute(sql`insert into messages (clinic_id, conversation_id, number_id, external_id, direction, sender, type, text, status, sent_at)
  select ${c}, cv.id, cv.number_id, 'BENCH' || g, case when g % 2 = 0 then 'inbound' else 'outbound' end::message_direction,
    case when g % 2 = 0 then 'contact' else 'user' end::message_sender, 'text',
    (array['Bom dia, gostaria de marcar uma consulta','Qual o valor da consulta?','Vocês aceitam convênio?','Confirmado, obrigado','Preciso remarcar meu horário','Segue o exame'])[1 + g % 6] || ' #' || g,
    'delivery_ack', now() - (g || ' seconds')::interval * (7776000.0 / ${MESSAGES})
  from generate_series(1, ${MESSAGES}) g
  join (select id, number_id, row_number() over (order by id) - 1 as k from conversations where clinic_id = ${c}) cv on cv.k = g % ${CONVERSATIONS}`);
await db.execute(sql`update conversations cv set last_message_id = m.id, last_message_at = m.sent_at
  from (select distinct on (conversation_id) conversation_id, id, sent_at from messages where clinic_id = ${c} order by conversation_id, sent_at desc, id desc) m
  where cv.id = m.conversation_id`);
await db.execute(sql`analyze contacts; analyze conversations; analyze messages`);
const seedSeconds = (performance.now() - seedStart) / 1000;

const { cookie, measure } = await signedInTimer(base, ORIGIN, email, 'bench-password-1');

const first = (await (await fetch(`${base}/api/conversations`, { headers: { cookie } })).json()) as { nextCursor: string };
console.log(`database: ${infra.database.kind}; ${CONVERSATIONS} conversations, ${MESSAGES} messages seeded in ${seedSeconds.toFixed(1)} s`);
// The host is shared and noisy: a cheap authenticated route in the same run gives the scale.
const baseline = await measure('baseline GET /api/clinic (session + 1 select)', '/api/clinic', 50, 300);
const results = {
  first: await measure('first page (50)', '/api/conversations', 50, 300),
  filtered: await measure('filtered: status=open&unread=true', '/api/conversations?status=open&unread=true', 50, 300),
  assignee: await measure('filtered: assigneeId=<member>', `/api/conversations?assigneeId=${user.id}`, 50, 300),
  second: await measure('second page (cursor)', `/api/conversations?cursor=${first.nextCursor}`, 50, 300),
  search: await measure('search: contact name', '/api/conversations?search=paciente%209999', 10, 100),
  text: await measure('search: message text', '/api/conversations?search=remarcar', 5, 30),
};
console.log(`p95 / baseline p95: first ${(results.first / baseline).toFixed(1)}x, filtered ${(results.filtered / baseline).toFixed(1)}x (targets: first and filtered p95 < 30 ms)`);
const pass = results.first < 30 && results.filtered < 30;
console.log(pass ? 'targets met' : 'TARGET MISSED');

await new Promise<void>((resolve) => server.close(() => resolve()));
// The clinic stays (audit rows are append-only): point DATABASE_URL at a throwaway database.
await closeInfra(infra);
rmSync(dataDir, { recursive: true, force: true });
