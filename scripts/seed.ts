// Creates a demo clinic with an admin, a professional and a receptionist, and prints their logins.
import { randomBytes } from 'node:crypto';
import { loadConfig } from '../server/config.js';
import { openDatabase } from '../server/infra/db.js';
import { clinics, memberships, users } from '../shared/schema/index.js';
import { hashPassword } from '../server/modules/auth/passwords.js';

const config = loadConfig();
const database = await openDatabase({ url: config.databaseUrl, dataDir: config.dataDir, pooler: config.databaseIsPooler });
await database.migrate();
const db = database.db;
const suffix = randomBytes(3).toString('hex');
const password = `demo-${randomBytes(4).toString('hex')}`;
const passwordHash = await hashPassword(password);

const [clinic] = await db.insert(clinics).values({ name: `Clínica Demonstração ${suffix}`, phone: '+5511987654321' }).returning();
if (!clinic) throw new Error('clinic not created');
const people = [
  { role: 'admin', isProfessional: false, name: 'Administração Demo', email: `admin.${suffix}@demo.operabase.com.br` },
  { role: 'professional', isProfessional: true, name: 'Dra. Helena Souza', email: `helena.${suffix}@demo.operabase.com.br` },
  { role: 'receptionist', isProfessional: false, name: 'Recepção Demo', email: `recepcao.${suffix}@demo.operabase.com.br` },
] as const;
for (const p of people) {
  const [user] = await db.insert(users).values({ name: p.name, email: p.email, passwordHash }).returning();
  if (!user) throw new Error('user not created');
  await db.insert(memberships).values({ clinicId: clinic.id, userId: user.id, role: p.role, isProfessional: p.isProfessional });
}
await database.close();

console.log(`\nDemo clinic "${clinic.name}" (${database.kind})\n`);
for (const p of people) console.log(`  ${p.role.padEnd(13)} ${p.email.padEnd(42)} ${password}`);
console.log('\nSign in with POST /api/auth/login {"email","password"}.\n');
