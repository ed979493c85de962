/**
 * The two figures of the clinical issue, measured end to end over HTTP on one process:
 *  - GET /api/contacts/:id/medical-records for a patient with 500 signed records (audit write
 *    included), warm: target p95 < 25 ms;
 *  - GET /api/contacts/:id/medical-records/verify over the 500-record chain: target < 200 ms.
 * Run: `npx tsx bench/records.ts` (embedded PGlite in a temp dir) or with DATABASE_URL (and
 * REDIS_URL) set to measure against Postgres.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../server/config.js';
import { createApp } from '../server/app.js';
import { closeInfra, createInfra } from '../server/infra/index.js';
import { createLogger } from '../server/infra/logger.js';
import { createModules } from '../server/modules/index.js';
import { hashPassword } from '../server/modules/auth/passwords.js';
import type { TenantContext } from '../server/http/context.js';
import { clinics, contacts, memberships, users } from '../shared/schema/index.js';
import { signedInTimer } from './lib/timed-get.js';

const RECORDS = 500;
const ORIGIN = 'http://bench.local';
const dataDir = mkdtempSync(path.join(os.tmpdir(), 'opb-bench-'));
const config = loadConfig({ ...process.env, NODE_ENV: 'development', DATA_DIR: dataDir, CORS_ORIGINS: ORIGIN });
const log = createLogger({ level: 'silent' });
const infra = await createInfra(config, log);
const modules = createModules(infra);
infra.events.start();
const { app } = createApp({ infra, modules, rateLimits: { login: 1000, register: 1000, passwordReset: 1000, public: 1000 } });
const server = createServer(app);
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const address = server.address();
const base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;

// A clinic, a professional and a patient with RECORDS signed records (through the service, so the chain is real).
const db = infra.db;
const tag = Date.now().toString(36);
const [clinic] = await db.insert(clinics).values({ name: `Bench ${tag}` }).returning();
const email = `bench-${tag}@example.com`;
const [user] = await db.insert(users).values({ name: 'Dra. Bench', email, passwordHash: await hashPassword('bench-password-1') }).returning();
if (!clinic || !user) throw new Error('seed failed');
await db.insert(memberships).values({ clinicId: clinic.id, userId: user.id, role: 'professional', isProfessional: true });
const [patient] = await db.insert(contacts).values({ clinicId: clinic.id, name: 'Paciente Bench', status: 'active' }).returning();
if (!patient) throw new Error('seed failed');
const ctx: TenantContext = { clinicId: clinic.id, actor: { type: 'user', userId: user.id, role: 'professional', isProfessional: true }, requestId: 'bench', ip: '127.0.0.1', userAgent: 'bench' };
const seedStart = performance.now();
for (let i = 0; i < RECORDS; i++) {
  const record = await modules.services.records.create(ctx, {
    contactId: patient.id,
    type: 'evolution',
    content: `Evolução ${i}: paciente estável, sem queixas novas. Mantida a conduta.`,
    chiefComplaint: 'Retorno',
    plan: 'Reavaliar em 30 dias',
    prescriptions: ['Losartana 50 mg 1x/dia'],
    vitalSigns: { systolic: 120 + (i % 10), diastolic: 80, heartRate: 70 },
  });
  if (record) await modules.services.records.sign(ctx, record.id);
}
const seedSeconds = (performance.now() - seedStart) / 1000;

const { cookie, measure } = await signedInTimer(base, ORIGIN, email, 'bench-password-1');

console.log(`database: ${infra.database.kind}; seeded ${RECORDS} signed records in ${seedSeconds.toFixed(1)} s`);
// The host is shared and noisy: a cheap authenticated route in the same run gives the scale.
await measure('baseline GET /api/clinic (session + 1 select)', '/api/clinic', 50, 300);
const list = `/api/contacts/${patient.id}/medical-records`;
await measure('list, default page (50), audited', list, 50, 300);
await measure('list, limit=200, audited', `${list}?limit=200`, 20, 100);
await measure(`verify chain of ${RECORDS}`, `${list}/verify`, 5, 30);
const verified = (await (await fetch(`${base}${list}/verify`, { headers: { cookie } })).json()) as { valid: boolean; checked: number };
console.log(`verify result: valid=${verified.valid} checked=${verified.checked}`);

await new Promise<void>((resolve) => server.close(() => resolve()));
await closeInfra(infra);
rmSync(dataDir, { recursive: true, force: true });
