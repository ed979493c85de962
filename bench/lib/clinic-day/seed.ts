// A day's worth of clinics for the load: staff accounts (the simulated users), professionals with
// a month of agenda around today, patients, a WhatsApp number each linked on the fake Evolution
// (through the API, as an admin links it), conversations started by patients' messages, a
// knowledge base indexed with the fake OpenAI's embeddings, and one professional per clinic with
// a Google Calendar push channel on the fake Google. Bulk rows go in by SQL (one password hash
// for every account); whatever the app encrypts or derives goes through the app.
import { randomUUID } from 'node:crypto';
import { pino } from 'pino';
import postgres from 'postgres';
import { loadConfig } from '../../../server/config.js';
import { closeInfra, createInfra } from '../../../server/infra/index.js';
import { createLogger } from '../../../server/infra/logger.js';
import { createModules } from '../../../server/modules/index.js';
import { googleOAuthClient } from '../../../server/modules/integrations/google-oauth.js';
import { hashPassword } from '../../../server/modules/auth/passwords.js';
import { googleCalendarSyncs } from '../../../shared/schema/index.js';
import { BENCH_PASSWORD, patients } from '../../scheduling-seed.js';
import { LoadStats } from './stats.js';
import { UserHttp } from './http.js';
import { ORIGIN, type Stack } from './stack.js';

export { BENCH_PASSWORD };

export type Role = 'admin' | 'professional' | 'receptionist';

export interface SeededUser {
  email: string;
  role: Role;
  clinic: SeededClinic;
}

export interface SeededClinic {
  index: number;
  id: string;
  professionalIds: string[];
  /** A sample of patient ids to book for. */
  contactIds: string[];
  /** Patients' WhatsApp ids (`55119...@s.whatsapp.net`), the senders of inbound messages. */
  patientJids: string[];
  numberId: string;
  instanceName: string;
  knowledgeBaseId: string;
  /** The fake Google calendar of one professional, and its push channel. */
  calendarId: string;
  channelId: string;
}

export interface Seeded {
  clinics: SeededClinic[];
  users: SeededUser[];
}

const PATIENTS_PER_CLINIC = 2_000;
const SENDERS_PER_CLINIC = 200;
const KNOWLEDGE_TEXT = [
  'A clínica atende de segunda a sexta, das 8h às 18h, e aos sábados das 8h às 12h. Estacionamento conveniado na rua de trás.',
  'Para a primeira consulta traga documento com foto, carteirinha do convênio e exames recentes. Chegue 15 minutos antes.',
  'Aceitamos os convênios Unimed, Bradesco Saúde, SulAmérica e Amil. Consultas particulares podem ser pagas em até 3 vezes no cartão.',
  'Cancelamentos devem ser feitos com 24 horas de antecedência pelo WhatsApp ou telefone. Faltas sem aviso podem ser cobradas.',
].join('\n\n');

const roleOf = (i: number, professionals: number): Role => (i === 0 ? 'admin' : i <= professionals ? 'professional' : 'receptionist');

/** `users` accounts spread over clinics of `usersPerClinic` (1 admin, a quarter professionals, the rest reception). */
export async function seedClinics(stack: Stack, opts: { users: number; usersPerClinic?: number; log?: (line: string) => void }): Promise<Seeded> {
  const log = opts.log ?? (() => {});
  const perClinic = opts.usersPerClinic ?? 20;
  const clinicCount = Math.max(1, Math.ceil(opts.users / perClinic));
  const professionals = Math.max(1, Math.floor(perClinic / 4));
  const hash = await hashPassword(BENCH_PASSWORD);
  const sql = postgres(stack.databaseUrl, { max: 4, onnotice: () => {} });
  const run = Date.now().toString(36);
  const clinics: SeededClinic[] = [];
  const users: SeededUser[] = [];
  try {
    for (let c = 0; c < clinicCount; c++) {
      const [clinic] = await sql`insert into clinics (name, timezone) values (${`Clínica Carga ${c + 1}`}, 'America/Sao_Paulo') returning id`;
      const clinicId = clinic!.id as string;
      const count = Math.min(perClinic, opts.users - c * perClinic);
      const accounts = Array.from({ length: Math.max(count, 1 + professionals) }, (_, i) => ({ email: `u${i}-c${c}-${run}@carga.local`, role: roleOf(i, professionals), name: `${roleOf(i, professionals) === 'professional' ? 'Dra.' : 'Equipe'} ${i} C${c}` }));
      const ids = await sql`insert into users (name, email, password_hash) select * from unnest(${accounts.map((a) => a.name)}::text[], ${accounts.map((a) => a.email)}::text[], ${accounts.map(() => hash)}::text[]) returning id, email`;
      const idOf = new Map(ids.map((r) => [r.email as string, r.id as string]));
      await sql`insert into clinic_memberships (clinic_id, user_id, role, is_professional)
        select ${clinicId}, * from unnest(${accounts.map((a) => idOf.get(a.email) as string)}::uuid[], ${accounts.map((a) => a.role)}::text[]::member_role[], ${accounts.map((a) => String(a.role === 'professional'))}::text[]::bool[])`;
      const professionalIds = accounts.filter((a) => a.role === 'professional').map((a) => idOf.get(a.email) as string);
      const phoneBase = c * 10_000;
      await patients(sql, clinicId, PATIENTS_PER_CLINIC, phoneBase);
      // Four weeks of agenda around today: 8 a day per professional, 08:00-16:00 in São Paulo.
      await sql.unsafe(
        `with c as (select array_agg(id order by id) ids from contacts where clinic_id = $1),
              p as (select id, ord from unnest($2::uuid[]) with ordinality as t(id, ord))
         insert into appointments (clinic_id, contact_id, professional_id, starts_at, ends_at, status)
         select $1, c.ids[1 + ((k * 31 + p.ord * 17) % ${PATIENTS_PER_CLINIC})::int], p.id,
                date_trunc('day', now()) - interval '14 days' + (k / 8) * interval '1 day' + interval '11 hours' + (k % 8) * interval '1 hour',
                date_trunc('day', now()) - interval '14 days' + (k / 8) * interval '1 day' + interval '11 hours' + (k % 8) * interval '1 hour' + interval '50 minutes',
                (array['scheduled','confirmed','completed','cancelled'])[1 + (k % 4)]::appointment_status
         from generate_series(0, 28 * 8 - 1) k cross join p cross join c`,
        [clinicId, professionalIds],
      );
      const sample = await sql`select id from contacts where clinic_id = ${clinicId} order by random() limit 200`;
      const patientJids = Array.from({ length: SENDERS_PER_CLINIC }, (_, i) => `55119${String(phoneBase + 1 + i).padStart(8, '0')}@s.whatsapp.net`);
      const seeded = { index: c, id: clinicId, professionalIds, contactIds: sample.map((r) => r.id as string), patientJids, numberId: '', instanceName: '', knowledgeBaseId: '', calendarId: '', channelId: '' };
      clinics.push(seeded);
      for (const a of accounts.slice(0, count)) users.push({ email: a.email, role: a.role, clinic: seeded });
    }
    await sql`analyze`;
  } finally {
    await sql.end();
  }
  log(`seeded ${clinicCount} clinics, ${users.length} staff accounts, ${clinicCount * PATIENTS_PER_CLINIC} patients`);
  stack.evolution.autoWebhooks = true;
  await Promise.all(clinics.map((clinic) => linkThroughApi(stack, clinic, users.find((u) => u.clinic === clinic && u.role === 'admin')?.email ?? '')));
  await stack.evolution.settle();
  await linkCalendars(stack, clinics);
  log(`linked ${clinics.length} WhatsApp numbers, knowledge bases and Google calendars`);
  return { clinics, users };
}

/** As the clinic's admin: a number linked on the fake gateway, and a knowledge base with a document. */
async function linkThroughApi(stack: Stack, clinic: SeededClinic, adminEmail: string) {
  const http = new UserHttp(stack.url, ORIGIN, new LoadStats());
  const must = async (what: string, answer: Promise<{ status: number; body: unknown }>) => {
    const a = await answer;
    if (a.status >= 300) throw new Error(`seed ${what}: ${a.status} ${JSON.stringify(a.body)}`);
    return a.body as { id: string; instanceName?: string };
  };
  try {
    await must('login', http.call('login', 'POST', '/api/auth/login', { email: adminEmail, password: BENCH_PASSWORD }));
    const number = await must('number', http.call('number', 'POST', '/api/whatsapp/numbers', { name: 'Recepção' }));
    clinic.numberId = number.id;
    clinic.instanceName = number.instanceName ?? '';
    // The phone scans the QR: the fake emits connection.update (open) to the app's webhook.
    stack.evolution.scan(clinic.instanceName, { phone: `55119${String(90_000_000 + clinic.index).padStart(8, '0')}` });
    const base = await must('knowledge base', http.call('kb', 'POST', '/api/rag/knowledge-bases', { name: 'Perguntas frequentes' }));
    clinic.knowledgeBaseId = base.id;
    await must('document', http.call('doc', 'POST', `/api/rag/knowledge-bases/${base.id}/documents`, { title: 'Funcionamento da clínica', text: KNOWLEDGE_TEXT }));
  } finally {
    http.close();
  }
}

/** One professional per clinic links Google (consent on the fake, the code exchanged), first sync, push channel. */
async function linkCalendars(stack: Stack, clinics: SeededClinic[]) {
  const config = loadConfig({ ...stack.env, NODE_ENV: 'development', REDIS_URL: '', DATA_DIR: `${stack.workDir}/seed`, LOG_LEVEL: 'warn' });
  const infra = await createInfra(config, createLogger({ level: 'warn', destination: pino.destination({ dest: '/dev/null', sync: false }) }));
  try {
    const { integrations, googleCalendar } = createModules(infra).services;
    const oauth = googleOAuthClient(config);
    for (const clinic of clinics) {
      const professionalId = clinic.professionalIds[0] as string;
      const calendarId = `dra-${clinic.index}-${randomUUID().slice(0, 6)}@gmail.com`;
      stack.google.addCalendar(calendarId, { primary: true });
      const consent = stack.google.consent(`${stack.google.url}/o/oauth2/v2/auth?redirect_uri=${encodeURIComponent(config.google.redirectUri ?? '')}&state=s`);
      const { tokens } = await oauth.getToken(consent.code);
      const connection = await integrations.connections.create(clinic.id, { provider: 'google_calendar', ownerUserId: professionalId, credentials: { refreshToken: tokens.refresh_token as string } });
      await integrations.connections.setStatus(clinic.id, connection.id, 'active');
      const [row] = await infra.db
        .insert(googleCalendarSyncs)
        .values({ clinicId: clinic.id, connectionId: connection.id, professionalId, calendarId, target: true, busy: true, timeZone: 'America/Sao_Paulo' })
        .returning();
      if (!row) throw new Error('no calendar sync row');
      const client = await googleCalendar.access.calendar(clinic.id, connection.id);
      await googleCalendar.sync.syncCalendar(clinic.id, row, client);
      await googleCalendar.sync.watch(clinic.id, row, client);
      clinic.calendarId = calendarId;
      clinic.channelId = stack.google.activeChannels(calendarId)[0]?.id ?? '';
      if (!clinic.channelId) throw new Error(`no push channel for ${calendarId}`);
    }
  } finally {
    await closeInfra(infra);
  }
}
