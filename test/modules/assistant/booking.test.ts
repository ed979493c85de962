import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appointments, auditLog } from '../../../shared/schema/index.js';
import { FakeEvolution } from '../../fakes/evolution.js';
import { FakeOpenAI } from '../../fakes/openai.js';
import { buildTestApp, type TestApp } from '../../helpers/app.js';
import { assistantClinic, chatRequests, replyTo } from '../../helpers/assistant.js';
import { receive, seedConversation } from '../../helpers/inbox.js';
import { createPatient } from '../../helpers/patients.js';

// The real tools (no `assistantTools` override): the model's calls reach the scheduling services.
let evolution: FakeEvolution;
let openai: FakeOpenAI;
let app: TestApp;

beforeAll(async () => {
  [evolution, openai] = await Promise.all([new FakeEvolution().start(), new FakeOpenAI().start()]);
  app = await buildTestApp({
    env: { EVOLUTION_API_URL: evolution.url, EVOLUTION_API_KEY: evolution.apiKey, WHATSAPP_SEND_RATE_PER_SECOND: '50', OPENAI_API_KEY: openai.apiKey, OPENAI_BASE_URL: openai.baseUrl },
  });
});
afterAll(async () => {
  await app?.close();
  await Promise.all([evolution?.stop(), openai?.stop()]);
});

// Monday 2030-03-11, a working day in São Paulo (no daylight saving time).
const SLOT = '2030-03-11T10:00:00-03:00';

type ChatMessage = { role: string; content: string | null; tool_call_id?: string };
const toolAnswers = (body: Record<string, unknown>) => (body.messages as ChatMessage[]).filter((m) => m.role === 'tool').map((m) => JSON.parse(m.content ?? '{}'));

describe('the assistant books through its tools', () => {
  it("books the conversation's own patient through scheduling, audited as the assistant, and says so on WhatsApp", async () => {
    const { clinic, number } = await assistantClinic(app, evolution);
    const c = await seedConversation(clinic, number, { texts: [] });
    openai.chatReplies.push(
      { toolCalls: [{ name: 'find_free_slots', arguments: { professionalId: clinic.professional.id, from: '2030-03-11', to: '2030-03-11' } }] },
      { toolCalls: [{ name: 'book_appointment', arguments: { professionalId: clinic.professional.id, startsAt: SLOT, appointmentType: 'first_visit' } }] },
      { content: 'Pronto! Sua consulta ficou para segunda-feira, 11/03, às 10:00.' },
    );
    const calls = chatRequests(openai).length;
    const inbound = await receive(clinic, c, 'Quero marcar uma consulta na segunda às 10h');
    const answer = await replyTo(clinic, inbound.id);
    expect(answer.text).toBe('Pronto! Sua consulta ficou para segunda-feira, 11/03, às 10:00.');

    const booked = await app.infra.db.select().from(appointments).where(eq(appointments.clinicId, clinic.id));
    expect(booked).toHaveLength(1);
    expect(booked[0]).toMatchObject({ contactId: c.contact.id, professionalId: clinic.professional.id });
    expect(booked[0]!.startsAt.toISOString()).toBe(new Date(SLOT).toISOString());
    const [audit] = await app.infra.db.select().from(auditLog).where(and(eq(auditLog.clinicId, clinic.id), eq(auditLog.entityId, booked[0]!.id)));
    expect(audit).toMatchObject({ actorType: 'system', actorRole: 'assistant' });

    const requests = chatRequests(openai).slice(calls);
    expect(requests).toHaveLength(3);
    // The slot search answered that professional's free times that Monday; the booking answered the appointment.
    const offered = (toolAnswers(requests[1]!.body).at(-1) as { data: { slots: { professionalId: string; startsAt: string }[] } }).data.slots;
    expect(offered.length).toBeGreaterThan(0);
    expect(offered.every((s) => s.professionalId === clinic.professional.id && s.startsAt.startsWith('2030-03-11T'))).toBe(true);
    expect(toolAnswers(requests[2]!.body).at(-1)).toMatchObject({ ok: true });
    expect(answer.meta).toMatchObject({ toolCalls: [{ name: 'find_free_slots', ok: true }, { name: 'book_appointment', ok: true }] });
  });

  it('tells the model the slot was taken when a member booked it first, and books nothing', async () => {
    const { clinic, number } = await assistantClinic(app, evolution);
    const other = await createPatient(clinic);
    const taken = await clinic.receptionist.agent.post('/api/appointments').send({ contactId: other.id, professionalId: clinic.professional.id, startsAt: SLOT, durationMinutes: 30 });
    expect(taken.status).toBe(201);
    const c = await seedConversation(clinic, number, { texts: [] });
    openai.chatReplies.push(
      { toolCalls: [{ name: 'book_appointment', arguments: { professionalId: clinic.professional.id, startsAt: SLOT, appointmentType: 'first_visit' } }] },
      { content: 'Esse horário acabou de ser ocupado. Posso oferecer outro?' },
    );
    const calls = chatRequests(openai).length;
    const inbound = await receive(clinic, c, 'Segunda às 10h, por favor');
    await replyTo(clinic, inbound.id);
    const requests = chatRequests(openai).slice(calls);
    expect(toolAnswers(requests[1]!.body).at(-1)).toMatchObject({ ok: false, error: 'slot_taken' });
    const rows = await app.infra.db.select().from(appointments).where(eq(appointments.clinicId, clinic.id));
    expect(rows.map((r) => r.contactId)).toEqual([other.id]);
  });
});
