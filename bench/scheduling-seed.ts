import type { Sql } from 'postgres';
import { hashPassword } from '../server/modules/auth/passwords.js';

export const BENCH_PASSWORD = 'senha-de-benchmark-123';
export const WEEK = { from: '2026-07-06T00:00:00-03:00', to: '2026-07-13T00:00:00-03:00' };

const FIRST = ['Maria', 'João', 'Ana', 'José', 'Antônio', 'Francisca', 'Luís', 'Márcia', 'Conceição', 'Sérgio', 'Léa', 'Cláudio', 'Patrícia', 'Tânia', 'Rafael', 'Bruna', 'Thiago', 'Débora', 'Caio', 'Íris'];
const LAST = ['Silva', 'Santos', 'Oliveira', 'Souza', 'Araújo', 'Pereira', 'Lima', 'Gonçalves', 'Conceição', 'Ribeiro', 'Almeida', 'Fernandes', 'Simões', 'Assunção', 'Magalhães', 'Brandão', 'Guimarães', 'Lopes', 'Barbosa', 'Mendonça'];
const arr = (xs: string[]) => `array[${xs.map((x) => `'${x}'`).join(',')}]`;

export interface Seeded {
  clinicId: string;
  searchClinicId: string;
  professionalIds: string[];
  adminEmail: string;
  searchAdminEmail: string;
}

async function clinicWithAdmin(sql: Sql, name: string, email: string, hash: string) {
  const [clinic] = await sql`insert into clinics (name, timezone) values (${name}, 'America/Sao_Paulo') returning id`;
  const [admin] = await sql`insert into users (name, email, password_hash) values (${`Admin ${name}`}, ${email}, ${hash}) returning id`;
  await sql`insert into clinic_memberships (clinic_id, user_id, role) values (${clinic!.id}, ${admin!.id}, 'admin')`;
  return clinic!.id as string;
}

/** Patients with Portuguese names (accents included), distinct phones, and the search column the app writes. */
export async function patients(sql: Sql, clinicId: string, count: number, phoneBase: number) {
  await sql.unsafe(
    `insert into contacts (clinic_id, name, phone, status, search_text, created_at)
     select $1, n, '+55119' || lpad((${phoneBase} + i)::text, 8, '0'), 'active',
            lower(unaccent(n || ' 55119' || lpad((${phoneBase} + i)::text, 8, '0'))), now() - i * interval '1 minute'
     from (select i, (${arr(FIRST)})[1 + i % 20] || ' ' || (${arr(LAST)})[1 + (i / 20) % 20] || ' ' || (${arr(LAST)})[1 + (i * 7 / 3) % 20] as n
           from generate_series(1, ${count}) i) s`,
    [clinicId],
  );
}

/** 20,000 appointments for 10 professionals (8 a day each, from January 2026), 5,000 patients; 50,000 patients in a second clinic. */
export async function seed(sql: Sql): Promise<Seeded> {
  const hash = await hashPassword(BENCH_PASSWORD);
  const run = Date.now().toString(36);
  const adminEmail = `admin-${run}@bench.local`;
  const searchAdminEmail = `search-${run}@bench.local`;
  const clinicId = await clinicWithAdmin(sql, 'Clínica Benchmark', adminEmail, hash);
  const searchClinicId = await clinicWithAdmin(sql, 'Clínica Busca', searchAdminEmail, hash);
  const professionalIds: string[] = [];
  for (let p = 0; p < 10; p++) {
    const [user] = await sql`insert into users (name, email, password_hash) values (${`Dra. ${p}`}, ${`prof${p}-${run}@bench.local`}, ${hash}) returning id`;
    await sql`insert into clinic_memberships (clinic_id, user_id, role, is_professional) values (${clinicId}, ${user!.id}, 'professional', true)`;
    professionalIds.push(user!.id as string);
  }
  await patients(sql, clinicId, 5_000, 0);
  await patients(sql, searchClinicId, 50_000, 100_000);
  await sql.unsafe(
    `with c as (select array_agg(id order by id) ids from contacts where clinic_id = $1),
          p as (select id, ord from unnest($2::uuid[]) with ordinality as t(id, ord))
     insert into appointments (clinic_id, contact_id, professional_id, starts_at, ends_at, status)
     select $1, c.ids[1 + ((k * 31 + p.ord * 17) % 5000)::int], p.id,
            timestamptz '2026-01-05 11:00:00+00' + (k / 8) * interval '1 day' + (k % 8) * interval '1 hour',
            timestamptz '2026-01-05 11:00:00+00' + (k / 8) * interval '1 day' + (k % 8) * interval '1 hour' + interval '50 minutes',
            (array['scheduled','confirmed','completed','cancelled'])[1 + (k % 4)]::appointment_status
     from generate_series(0, 1999) k cross join p cross join c`,
    [clinicId, professionalIds],
  );
  await sql`analyze`;
  return { clinicId, searchClinicId, professionalIds, adminEmail, searchAdminEmail };
}

/** Signs the seeded member in on a server of the run and returns its session cookie. */
export async function login(port: number, email: string): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: 'http://bench.local' },
    body: JSON.stringify({ email, password: BENCH_PASSWORD }),
  });
  if (res.status !== 200) throw new Error(`login ${res.status}`);
  return (res.headers.get('set-cookie') ?? '').split(';')[0] as string;
}
