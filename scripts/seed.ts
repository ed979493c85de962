// Creates a demo clinic with an admin, a professional and a receptionist, and prints their logins.
// Embedded mode allows one process per DATA_DIR: while `npm start` holds it, the seed goes through
// the running server's API (register, invite, accept) instead of opening the database itself.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { loadConfig } from '../server/config.js';
import { openDatabase } from '../server/infra/db.js';
import { dataDirHolder } from '../server/infra/data-dir-lock.js';
import { clinics, memberships, users } from '../shared/schema/index.js';
import { hashPassword } from '../server/modules/auth/passwords.js';

if (existsSync('.env')) process.loadEnvFile('.env');
const config = loadConfig();
const suffix = randomBytes(3).toString('hex');
const password = `demo-${randomBytes(4).toString('hex')}`;
const clinicName = `Clínica Demonstração ${suffix}`;
const people = [
  { role: 'admin', isProfessional: false, name: 'Administração Demo', email: `admin.${suffix}@demo.operabase.com.br` },
  { role: 'professional', isProfessional: true, name: 'Dra. Helena Souza', email: `helena.${suffix}@demo.operabase.com.br` },
  { role: 'receptionist', isProfessional: false, name: 'Recepção Demo', email: `recepcao.${suffix}@demo.operabase.com.br` },
] as const;

async function seedDatabase(): Promise<string> {
  const database = await openDatabase({ url: config.databaseUrl, dataDir: config.dataDir, prepare: config.databasePrepare });
  try {
    await database.migrate();
    const db = database.db;
    const passwordHash = await hashPassword(password);
    const [clinic] = await db.insert(clinics).values({ name: clinicName, phone: '+5511987654321' }).returning();
    if (!clinic) throw new Error('clinic not created');
    for (const p of people) {
      const [user] = await db.insert(users).values({ name: p.name, email: p.email, passwordHash }).returning();
      if (!user) throw new Error('user not created');
      await db.insert(memberships).values({ clinicId: clinic.id, userId: user.id, role: p.role, isProfessional: p.isProfessional });
    }
    return database.kind;
  } finally {
    await database.close();
  }
}

async function seedThroughServer(pid: number): Promise<string> {
  const host = config.host && config.host !== '0.0.0.0' && config.host !== '::' ? config.host : '127.0.0.1';
  const base = `http://${host.includes(':') ? `[${host}]` : host}:${config.port}`;
  console.log(`DATA_DIR ${config.dataDir} is held by the running server (pid ${pid}): seeding through ${base}.`);
  const call = async (path: string, body: unknown, cookie?: string) => {
    // The server's own origin: cookie-authenticated writes must name an allowed one.
    const res = await fetch(`${base}${path}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Origin: base, ...(cookie ? { Cookie: cookie } : {}) },
      body: JSON.stringify(body),
    }).catch((err: Error) => {
      throw new Error(`cannot reach the server at ${base} (${err.cause instanceof Error ? err.cause.message : err.message}); set PORT/HOST as the server has them`);
    });
    const json = (await res.json().catch(() => ({}))) as Record<string, unknown> & { error?: { message?: string } };
    if (!res.ok) throw new Error(`POST ${path} answered ${res.status}: ${json.error?.message ?? JSON.stringify(json)}`);
    return { json, cookie: res.headers.getSetCookie()[0]?.split(';')[0] };
  };
  const [admin, ...others] = people;
  const registered = await call('/api/auth/register', { clinicName, name: admin.name, email: admin.email, password });
  if (!registered.cookie) throw new Error('the server did not start a session after registration');
  for (const p of others) {
    const invited = await call('/api/team/invitations', { email: p.email, name: p.name, role: p.role, isProfessional: p.isProfessional }, registered.cookie);
    await call(`/api/public/invitations/${encodeURIComponent(String(invited.json.token))}/accept`, { name: p.name, password });
  }
  return 'through the running server';
}

const holder = config.databaseUrl ? undefined : dataDirHolder(config.dataDir);
try {
  const how = holder ? await seedThroughServer(holder) : await seedDatabase();
  console.log(`\nDemo clinic "${clinicName}" (${how})\n`);
  for (const p of people) console.log(`  ${p.role.padEnd(13)} ${p.email.padEnd(42)} ${password}`);
  console.log('\nSign in with POST /api/auth/login {"email","password"} (README: quick start with curl).\n');
} catch (err) {
  console.error(`Seed failed: ${(err as Error).message}`);
  process.exitCode = 1;
}
