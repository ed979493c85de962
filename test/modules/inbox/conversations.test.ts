import { beforeAll, describe, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import { conversations, memberships } from '../../../shared/schema/index.js';
import { getTestApp, type TestApp } from '../../helpers/app.js';
import { anonymous, createClinic, type TestClinic } from '../../helpers/clinic.js';
import { receive, seedConversation, seedNumber, type SeededConversation, type SeededNumber } from '../../helpers/inbox.js';
import { createPatient } from '../../helpers/patients.js';

let app: TestApp;
let clinic: TestClinic;
let shared: SeededNumber;
let privateLine: SeededNumber;

beforeAll(async () => {
  app = await getTestApp();
  clinic = await createClinic({ app });
  shared = await seedNumber(clinic);
  privateLine = await seedNumber(clinic, { professionalId: clinic.professional.id, name: 'Consultório' });
});

const ids = (body: { items: { id: string }[] }) => body.items.map((c) => c.id);

describe('GET /conversations', () => {
  let older: SeededConversation;
  let newer: SeededConversation;
  let mine: SeededConversation;
  let fresh: TestClinic;

  beforeAll(async () => {
    // A clinic of its own: the list is the whole inbox.
    fresh = await createClinic({ app });
    const number = await seedNumber(fresh);
    const maria = await createPatient(fresh, { name: 'Maria Aparecida Souza' });
    older = await seedConversation(fresh, number, { contact: maria, texts: ['Bom dia', 'Preciso remarcar o retorno'], at: new Date(Date.now() - 3600_000) });
    newer = await seedConversation(fresh, number, { texts: ['Vocês aceitam convênio Unimed?'], at: new Date(Date.now() - 60_000) });
    mine = await seedConversation(fresh, number, { texts: ['Obrigado, doutora'], at: new Date(Date.now() - 1800_000), assigneeId: fresh.receptionist.id, status: 'pending' });
  });

  it('lists newest activity first with the preview, unread count, contact and number', async () => {
    const res = await fresh.receptionist.agent.get('/api/conversations');
    expect(res.status).toBe(200);
    expect(ids(res.body)).toEqual([newer.id, mine.id, older.id]);
    const first = res.body.items[2];
    expect(first).toMatchObject({
      unreadCount: 2,
      status: 'open',
      lastMessage: { direction: 'inbound', type: 'text', preview: 'Preciso remarcar o retorno' },
      contact: { id: older.contact.id, name: 'Maria Aparecida Souza', phone: older.contact.phone },
      number: { id: older.numberId, state: 'open', professionalId: null },
    });
    expect(res.body.nextCursor).toBeNull();
  });

  it('pages with a cursor on (last message, id), without gaps or repeats', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res = await fresh.admin.agent.get('/api/conversations').query({ limit: 1, ...(cursor ? { cursor } : {}) });
      expect(res.status).toBe(200);
      seen.push(...ids(res.body));
      cursor = res.body.nextCursor;
    } while (cursor);
    expect(seen).toEqual([newer.id, mine.id, older.id]);
  });

  it('filters by status, assignee, number and unread', async () => {
    const get = async (query: Record<string, string>) => ids((await fresh.admin.agent.get('/api/conversations').query(query)).body);
    expect(await get({ status: 'pending' })).toEqual([mine.id]);
    expect(await get({ assigneeId: fresh.receptionist.id })).toEqual([mine.id]);
    expect(await get({ assigneeId: 'none' })).toEqual([newer.id, older.id]);
    expect(await get({ numberId: newer.numberId })).toHaveLength(3);
    expect(await get({ numberId: shared.id })).toEqual([]);
    await fresh.admin.agent.post(`/api/conversations/${newer.id}/read`).expect(200);
    expect(await get({ unread: 'true' })).toEqual([mine.id, older.id]);
    expect(await get({ unread: 'false' })).toEqual([newer.id]);
  });

  it('searches by contact name (accents and case aside), phone, or message text', async () => {
    const search = async (q: string) => ids((await fresh.admin.agent.get('/api/conversations').query({ search: q })).body);
    expect(await search('maria aparecida')).toEqual([older.id]);
    expect(await search(older.contact.phone ?? '')).toEqual([older.id]);
    expect(await search('UNIMED')).toEqual([newer.id]);
    expect(await search('remarcar')).toEqual([older.id]);
    expect(await search('ninguém escreveu isto')).toEqual([]);
    // Message text too, without accents or case: "convenio" finds "convênio", "VOCES" finds "Vocês".
    expect(await search('convenio')).toEqual([newer.id]);
    expect(await search('VOCES aceitam')).toEqual([newer.id]);
    expect(await search('precisó')).toEqual([older.id]);
  });

  it('moves a conversation to the top when the patient writes again', async () => {
    await receive(fresh, older, 'Pode ser na sexta?');
    const res = await fresh.admin.agent.get('/api/conversations');
    expect(ids(res.body)[0]).toBe(older.id);
    expect(res.body.items[0].lastMessage.preview).toBe('Pode ser na sexta?');
  });

  it('refuses a malformed cursor or filter with 400', async () => {
    expect((await fresh.admin.agent.get('/api/conversations').query({ cursor: 'bogus' })).status).toBe(400);
    expect((await fresh.admin.agent.get('/api/conversations').query({ status: 'archived' })).status).toBe(400);
  });
});

describe('a conversation without messages', () => {
  it('is listed by when it was created, with no last message, and pages with the others', async () => {
    const own = await createClinic({ app });
    const number = await seedNumber(own);
    const before = await seedConversation(own, number, { texts: ['Oi'], at: new Date(Date.now() - 3600_000) });
    // A reminder's conversation, made before anything was sent.
    const empty = await seedConversation(own, number, { texts: [] });
    const res = await own.admin.agent.get('/api/conversations');
    expect(ids(res.body)).toEqual([empty.id, before.id]);
    expect(res.body.items[0]).toMatchObject({ lastMessage: null, lastMessageAt: null, unreadCount: 0 });
    const first = await own.admin.agent.get('/api/conversations').query({ limit: 1 });
    expect(ids(first.body)).toEqual([empty.id]);
    const second = await own.admin.agent.get('/api/conversations').query({ limit: 1, cursor: first.body.nextCursor });
    expect(ids(second.body)).toEqual([before.id]);
    // Its first message moves it by that message's time.
    await receive(own, empty, 'Recebi o lembrete');
    expect(ids((await own.admin.agent.get('/api/conversations')).body)).toEqual([empty.id, before.id]);
  });
});

describe('private numbers', () => {
  let privateConversation: SeededConversation;

  beforeAll(async () => {
    privateConversation = await seedConversation(clinic, privateLine, { texts: ['Doutora, posso falar sobre a sessão?'] });
  });

  it('are visible to their professional and to admins only', async () => {
    for (const member of [clinic.professional, clinic.admin, clinic.doctorAdmin]) {
      const res = await member.agent.get(`/api/conversations/${privateConversation.id}`);
      expect(res.status, member.role).toBe(200);
      expect(ids((await member.agent.get('/api/conversations')).body)).toContain(privateConversation.id);
    }
  });

  it('answer 404 to other members and to API keys, on every route, and stay out of their lists', async () => {
    const key = await clinic.admin.agent.post('/api/api-keys').send({ name: 'n8n', scopes: ['conversations:read', 'conversations:write'] });
    const other = await createClinicMember();
    const callers = [clinic.receptionist.agent, other, anonymous(app).set('Authorization', `Bearer ${key.body.key}`)];
    const base = `/api/conversations/${privateConversation.id}`;
    for (const agent of callers) {
      expect((await agent.get(base)).status).toBe(404);
      expect((await agent.get(`${base}/messages`)).status).toBe(404);
      expect((await agent.patch(base).send({ status: 'resolved' })).status).toBe(404);
      expect((await agent.post(`${base}/read`)).status).toBe(404);
      expect((await agent.post(`${base}/typing`).send({})).status).toBe(404);
      expect((await agent.post(`${base}/messages`).set('Idempotency-Key', crypto.randomUUID()).send({ text: 'Olá' })).status).toBe(404);
      expect(ids((await agent.get('/api/conversations')).body)).not.toContain(privateConversation.id);
    }
    const [row] = await app.infra.db.select().from(conversations).where(eq(conversations.id, privateConversation.id));
    expect(row).toMatchObject({ status: 'open', unreadCount: 1 });
  });

  /** A second professional of the same clinic: not the number's owner. */
  async function createClinicMember() {
    const otherClinic = await createClinic({ app });
    await app.infra.db.insert(memberships).values({ clinicId: clinic.id, userId: otherClinic.professional.id, role: 'professional', isProfessional: true });
    const res = await otherClinic.professional.agent.post('/api/auth/switch-clinic').send({ clinicId: clinic.id });
    expect(res.status).toBe(200);
    return otherClinic.professional.agent;
  }
});

describe('PATCH /conversations/:id', () => {
  let c: SeededConversation;
  beforeAll(async () => {
    c = await seedConversation(clinic, shared);
  });

  it('assigns to an active member, resolves, and switches the assistant', async () => {
    const res = await clinic.receptionist.agent.patch(`/api/conversations/${c.id}`).send({ assigneeId: clinic.professional.id, status: 'resolved', aiEnabled: false });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ assigneeId: clinic.professional.id, status: 'resolved', aiEnabled: false, snoozedUntil: null });
    expect((await clinic.receptionist.agent.patch(`/api/conversations/${c.id}`).send({ assigneeId: null })).body.assigneeId).toBeNull();
  });

  it('refuses an assignee who is not an active member, or who cannot see a private conversation', async () => {
    const outsider = await createClinic({ app });
    const bad = await clinic.admin.agent.patch(`/api/conversations/${c.id}`).send({ assigneeId: outsider.admin.id });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('invalid_assignee');
    await app.infra.db.update(memberships).set({ active: false }).where(eq(memberships.userId, clinic.receptionist.id));
    try {
      expect((await clinic.admin.agent.patch(`/api/conversations/${c.id}`).send({ assigneeId: clinic.receptionist.id })).status).toBe(400);
    } finally {
      await app.infra.db.update(memberships).set({ active: true }).where(eq(memberships.userId, clinic.receptionist.id));
    }
    const privateOne = await seedConversation(clinic, privateLine);
    const hidden = await clinic.admin.agent.patch(`/api/conversations/${privateOne.id}`).send({ assigneeId: clinic.receptionist.id });
    expect(hidden.status).toBe(400);
    expect((await clinic.admin.agent.patch(`/api/conversations/${privateOne.id}`).send({ assigneeId: clinic.doctorAdmin.id })).status).toBe(200);
  });

  it('snoozes only until a future time, and any other status clears it', async () => {
    const past = await clinic.admin.agent.patch(`/api/conversations/${c.id}`).send({ status: 'snoozed', snoozedUntil: new Date(Date.now() - 1000).toISOString() });
    expect(past.status).toBe(400);
    expect(past.body.error.code).toBe('snooze_requires_future_time');
    expect((await clinic.admin.agent.patch(`/api/conversations/${c.id}`).send({ status: 'snoozed' })).status).toBe(400);
    const until = new Date(Date.now() + 3600_000).toISOString();
    const ok = await clinic.admin.agent.patch(`/api/conversations/${c.id}`).send({ status: 'snoozed', snoozedUntil: until });
    expect(ok.body).toMatchObject({ status: 'snoozed', snoozedUntil: until });
    const reopened = await clinic.admin.agent.patch(`/api/conversations/${c.id}`).send({ status: 'open' });
    expect(reopened.body).toMatchObject({ status: 'open', snoozedUntil: null });
  });

  it('the wake-up job reopens snoozed conversations whose time came, once, in every clinic', async () => {
    const due = await seedConversation(clinic, shared);
    const later = await seedConversation(clinic, shared);
    const until = new Date(Date.now() + 60_000).toISOString();
    await clinic.admin.agent.patch(`/api/conversations/${due.id}`).send({ status: 'snoozed', snoozedUntil: until }).expect(200);
    await clinic.admin.agent.patch(`/api/conversations/${later.id}`).send({ status: 'snoozed', snoozedUntil: new Date(Date.now() + 7200_000).toISOString() }).expect(200);
    const job = app.modules.jobs.find((j) => j.name === 'inbox.wake_snoozed');
    expect(job?.everyMs).toBeGreaterThan(0);
    // Time passes: the first one is due.
    await app.infra.db.update(conversations).set({ snoozedUntil: new Date(Date.now() - 1000) }).where(eq(conversations.id, due.id));
    const wake = () => app.modules.services.inbox.conversations.wakeSnoozed();
    expect(await wake()).toBeGreaterThanOrEqual(1);
    expect((await clinic.admin.agent.get(`/api/conversations/${due.id}`)).body).toMatchObject({ status: 'open', snoozedUntil: null });
    expect((await clinic.admin.agent.get(`/api/conversations/${later.id}`)).body.status).toBe('snoozed');
    const [again] = await app.infra.db.select().from(conversations).where(eq(conversations.id, due.id));
    await wake();
    const [after] = await app.infra.db.select().from(conversations).where(eq(conversations.id, due.id));
    expect(after?.updatedAt).toEqual(again?.updatedAt);
  });

  it('refuses an empty patch or unknown fields with 400 and changes nothing', async () => {
    const before = (await clinic.admin.agent.get(`/api/conversations/${c.id}`)).body;
    expect((await clinic.admin.agent.patch(`/api/conversations/${c.id}`).send({})).status).toBe(400);
    expect((await clinic.admin.agent.patch(`/api/conversations/${c.id}`).send({ status: 'open', unreadCount: 0 })).status).toBe(400);
    expect((await clinic.admin.agent.get(`/api/conversations/${c.id}`)).body).toEqual(before);
  });
});

describe('GET /conversations/:id/messages', () => {
  it('pages newest first with the before cursor', async () => {
    const texts = Array.from({ length: 5 }, (_, i) => `mensagem ${i + 1}`);
    const c = await seedConversation(clinic, shared, { texts });
    const seen: string[] = [];
    let before: string | null = null;
    do {
      const res = await clinic.receptionist.agent.get(`/api/conversations/${c.id}/messages`).query({ limit: 2, ...(before ? { before } : {}) });
      expect(res.status).toBe(200);
      seen.push(...res.body.items.map((m: { text: string }) => m.text));
      before = res.body.nextCursor;
    } while (before);
    expect(seen).toEqual([...texts].reverse());
  });
});
