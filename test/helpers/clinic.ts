import { randomUUID } from 'node:crypto';
import request from 'supertest';
import type TestAgent from 'supertest/lib/agent.js';
import { clinics, memberships, users } from '../../shared/schema/index.js';
import { hashPassword } from '../../server/modules/auth/passwords.js';
import type { Role } from '../../server/lib/permissions.js';
import { TEST_ORIGIN, getTestApp, type TestApp } from './app.js';

export const PASSWORD = 'senha-de-teste-123';
let passwordHash: Promise<string> | undefined;

export type Agent = TestAgent;

export interface Member {
  id: string;
  email: string;
  name: string;
  role: Role;
  isProfessional: boolean;
  /** Signed in, sends the allowed Origin on every request. */
  agent: Agent;
}

export interface TestClinic {
  id: string;
  name: string;
  /** Admin who is not a professional: runs the clinic, no clinical data. */
  admin: Member;
  /** Professional (sees patients and clinical data). */
  professional: Member;
  receptionist: Member;
  /** Admin who is also a professional (the doctor who owns the clinic). */
  doctorAdmin: Member;
  app: TestApp;
}

/** A signed-in agent for an existing user. */
export async function signIn(app: TestApp, email: string, password = PASSWORD): Promise<Agent> {
  const agent = request.agent(app.app).set('Origin', TEST_ORIGIN);
  const res = await agent.post('/api/auth/login').send({ email, password });
  if (res.status !== 200) throw new Error(`login failed for ${email}: ${res.status} ${JSON.stringify(res.body)}`);
  return agent;
}

/** A member of the clinic with this role, signed in. */
export async function addMember(app: TestApp, clinicId: string, role: Role, isProfessional: boolean, label: string, tag = randomUUID().slice(0, 8)): Promise<Member> {
  passwordHash ??= hashPassword(PASSWORD);
  const passwordHashValue = await passwordHash;
  const email = `${label}-${tag}@example.com`;
  const name = `${label} ${tag}`;
  const [user] = await app.infra.db.insert(users).values({ name, email, passwordHash: passwordHashValue }).returning();
  if (!user) throw new Error('no user');
  await app.infra.db.insert(memberships).values({ clinicId, userId: user.id, role, isProfessional });
  return { id: user.id, email, name, role, isProfessional, agent: await signIn(app, email) };
}

/** A fresh clinic with one member of each role, each signed in. No two tests share one. */
export async function createClinic(opts: { app?: TestApp; timezone?: string } = {}): Promise<TestClinic> {
  const app = opts.app ?? (await getTestApp());
  const tag = randomUUID().slice(0, 8);
  const [clinic] = await app.infra.db
    .insert(clinics)
    .values({ name: `Clínica ${tag}`, timezone: opts.timezone ?? 'America/Sao_Paulo' })
    .returning();
  if (!clinic) throw new Error('no clinic');
  const [admin, professional, receptionist, doctorAdmin] = await Promise.all([
    addMember(app, clinic.id, 'admin', false, 'admin', tag),
    addMember(app, clinic.id, 'professional', true, 'professional', tag),
    addMember(app, clinic.id, 'receptionist', false, 'receptionist', tag),
    addMember(app, clinic.id, 'admin', true, 'doctor', tag),
  ]);
  return { id: clinic.id, name: clinic.name, admin, professional, receptionist, doctorAdmin, app };
}

/** An unauthenticated client that sends the allowed Origin. */
export const anonymous = (app: TestApp) => request.agent(app.app).set('Origin', TEST_ORIGIN);
