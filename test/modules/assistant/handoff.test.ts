import { randomUUID } from 'node:crypto';
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventPayload } from '../../../shared/api/events.js';
import { aiUsageDaily, conversations } from '../../../shared/schema/index.js';
import { ClinicData } from '../../../server/infra/clinic-data.js';
import { HANDOFF_TEXTS } from '../../../server/modules/assistant/safety.js';
import { FakeEvolution } from '../../fakes/evolution.js';
import { FakeOpenAI } from '../../fakes/openai.js';
import { buildTestApp, TEST_ORIGIN, type TestApp } from '../../helpers/app.js';
import { aiMessages, assistantClinic, chatRequests, configure, conversationRow, replyTo, skipped, skips, testTools } from '../../helpers/assistant.js';
import type { TestClinic } from '../../helpers/clinic.js';
import { insertMessage, receive, seedConversation, type SeededConversation, type SeededNumber } from '../../helpers/inbox.js';
import { listen, openSocket, sessionCookie, type ClientSocket, type RunningServer } from '../../helpers/server.js';
import { until } from '../../helpers/until.js';

const PAUSE_MINUTES = 90;
let evolution: FakeEvolution;
let openai: FakeOpenAI;
let app: TestApp;
let running: RunningServer;
let clinic: TestClinic;
let number: SeededNumber;
let receptionist: ClientSocket;
const { tools } = testTools();

beforeAll(async () => {
  [evolution, openai] = await Promise.all([new FakeEvolution().start(), new FakeOpenAI().start()]);
  app = await buildTestApp({
    env: { EVOLUTION_API_URL: evolution.url, EVOLUTION_API_KEY: evolution.apiKey, WHATSAPP_SEND_RATE_PER_SECOND: '50', OPENAI_API_KEY: openai.apiKey, OPENAI_BASE_URL: openai.baseUrl },
    assistantTools: tools,
  });
  running = await listen(app);
  ({ clinic, number } = await assistantClinic(app, evolution, { pauseAfterHumanMinutes: PAUSE_MINUTES }));
  receptionist = await openSocket(running.url, { origin: TEST_ORIGIN, cookie: await sessionCookie(running.url, clinic.receptionist.email) });
});
afterAll(async () => {
  receptionist?.close();
  await running?.close();
  await Promise.all([evolution?.stop(), openai?.stop()]);
});

/** The first `assistant:handoff` of a conversation on the receptionist's socket. */
function handoffEvent(conversationId: string, ms = 20_000) {
  return new Promise<EventPayload<'assistant:handoff'>>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no assistant:handoff in time')), ms);
    const listener = (payload: EventPayload<'assistant:handoff'>) => {
      if (payload.conversationId !== conversationId) return;
      clearTimeout(timer);
      receptionist.off('assistant:handoff', listener);
      resolve(payload);
    };
    receptionist.on('assistant:handoff', listener);
  });
}

/** A new patient writes `text`; resolves with the conversation, the handoff event and the assistant's message. */
async function handedOff(text: string) {
  const c = await seedConversation(clinic, number, { texts: [] });
  const event = handoffEvent(c.id);
  const inbound = await receive(clinic, c, text);
  const message = await replyTo(clinic, inbound.id);
  return { c, event: await event, message };
}

/** Handed to a person: pending, the AI paused for the configured time, staff told with the reason. */
async function expectHandedOff(c: SeededConversation, event: EventPayload<'assistant:handoff'>, reason: string) {
  const row = await conversationRow(clinic, c.id);
  expect(row.status).toBe('pending');
  expect(row.aiPausedUntil!.getTime()).toBeGreaterThan(Date.now() + (PAUSE_MINUTES - 5) * 60_000);
  expect(event).toMatchObject({ conversationId: c.id, contactId: c.contact.id, numberId: number.id, reason, aiPausedUntil: row.aiPausedUntil!.toISOString() });
}

describe('handoff to a person', () => {
  it('on a handoff keyword, whatever its accents and case, without asking the model', async () => {
    const calls = chatRequests(openai).length;
    const { c, event, message } = await handedOff('Quero FALAR COM ALGUEM, por favor');
    expect(message).toMatchObject({ sender: 'ai', text: HANDOFF_TEXTS.asked, meta: { handoff: 'keyword' } });
    await expectHandedOff(c, event, 'keyword');
    expect(chatRequests(openai).length).toBe(calls);
    // Paused: the next message gets no answer.
    const before = await skips(app, 'paused');
    await receive(clinic, c, 'Alô?');
    await skipped(app, 'paused', before);
    expect(await aiMessages(clinic, c.id)).toHaveLength(1);
  });

  it('when the model calls the handoff tool', async () => {
    openai.chatReplies.push({ toolCalls: [{ name: 'handoff', arguments: { reason: 'pergunta sobre reembolso' } }] });
    const { c, event, message } = await handedOff('Como peço reembolso do convênio?');
    expect(message).toMatchObject({ sender: 'ai', text: HANDOFF_TEXTS.asked, meta: { handoff: 'tool', toolCalls: [{ name: 'handoff', args: { reason: 'pergunta sobre reembolso' }, ok: true }] } });
    await expectHandedOff(c, event, 'tool');
  });

  it('on an emergency: SAMU 192 at once, before the model and even outside the hours', async () => {
    await configure(clinic, { hours: {} });
    try {
      const calls = chatRequests(openai).length;
      const { c, event, message } = await handedOff('Estou com uma dor no peito muito forte e falta de ar');
      expect(message.text).toBe(HANDOFF_TEXTS.medical);
      expect(message.text).toContain('SAMU (192)');
      expect(message.meta).toMatchObject({ handoff: 'emergency', emergency: 'medical' });
      await expectHandedOff(c, event, 'emergency');
      expect(chatRequests(openai).length).toBe(calls);
    } finally {
      await configure(clinic, { hours: null });
    }
  });

  it('on suicidal thoughts: CVV 188 and SAMU 192', async () => {
    const { c, event, message } = await handedOff('ando pensando em suicídio, não quero mais viver');
    expect(message.text).toBe(HANDOFF_TEXTS.mental);
    expect(message.text).toContain('CVV pelo 188');
    expect(message.text).toContain('SAMU (192)');
    await expectHandedOff(c, event, 'emergency');
  });

  for (const status of [429, 500] as const) {
    it(`when the model keeps failing (${status}) after the SDK's retry, with one failed call in the ledger and no tokens`, async () => {
      const calls = chatRequests(openai).length;
      // The first try and the SDK's one retry.
      for (let i = 0; i < 2; i++) openai.failures.push({ status, retryAfter: 0, path: '/chat/completions' });
      const usageBefore = await usage();
      const { c, event, message } = await handedOff(`Pergunta ${randomUUID().slice(0, 6)} sobre horários`);
      expect(message).toMatchObject({ text: HANDOFF_TEXTS.unavailable, meta: { handoff: 'model_error' } });
      await expectHandedOff(c, event, 'model_error');
      expect(chatRequests(openai).length - calls).toBe(2);
      const after = await usage();
      expect({ calls: after.calls - usageBefore.calls, errors: after.errors - usageBefore.errors, tokens: after.tokens - usageBefore.tokens }).toEqual({ calls: 1, errors: 1, tokens: 0 });
    });
  }

  it('when the daily budget is spent, without calling the model', async () => {
    const calls = chatRequests(openai).length;
    const { remaining } = (await clinic.admin.agent.get('/api/ai/usage')).body.today as { remaining: number };
    await app.modules.services.aiUsage.record(clinic.id, { feature: 'auto_reply', model: 'gpt-4o-mini', inputTokens: remaining, outputTokens: 0 });
    try {
      const { c, event, message } = await handedOff('Qual o valor da consulta?');
      expect(message).toMatchObject({ text: HANDOFF_TEXTS.unavailable, meta: { handoff: 'budget' } });
      await expectHandedOff(c, event, 'budget');
      expect(chatRequests(openai).length).toBe(calls);
    } finally {
      await configure(clinic, { dailyTokenBudget: 100_000_000 });
    }
  });
});

async function usage() {
  const [row] = await new ClinicData(clinic.id, app.infra.db).select(aiUsageDaily, and(eq(aiUsageDaily.feature, 'auto_reply')));
  return { calls: row?.calls ?? 0, errors: row?.errors ?? 0, tokens: (row?.inputTokens ?? 0) + (row?.outputTokens ?? 0) };
}

describe('pauses after a person replies', () => {
  const pausedUntil = async (id: string) => (await conversationRow(clinic, id)).aiPausedUntil;

  it('a reply from the app pauses the assistant for the configured time', async () => {
    const c = await seedConversation(clinic, number);
    const res = await clinic.receptionist.agent.post(`/api/conversations/${c.id}/messages`).set('Idempotency-Key', randomUUID()).send({ text: 'Oi, aqui é a recepção!' });
    expect(res.status).toBe(201);
    await until(async () => Boolean(await pausedUntil(c.id)));
    expect((await pausedUntil(c.id))!.getTime()).toBeGreaterThan(Date.now() + (PAUSE_MINUTES - 5) * 60_000);
    const before = await skips(app, 'paused');
    await receive(clinic, c, 'Obrigado!');
    await skipped(app, 'paused', before);
  });

  it("a reply typed on the clinic's phone (fromMe) pauses it too", async () => {
    const c = await seedConversation(clinic, number, { texts: [] });
    await new ClinicData(clinic.id, app.infra.db).transaction((_d, tx) => insertMessage(clinic, tx, c.id, number.id, { direction: 'outbound', text: 'Bom dia! Em que posso ajudar?' }));
    await until(async () => Boolean(await pausedUntil(c.id)));
    expect((await pausedUntil(c.id))!.getTime()).toBeGreaterThan(Date.now() + (PAUSE_MINUTES - 5) * 60_000);
  });

  it('an expired pause is cleared by the periodic job (published to the inbox) and the assistant answers again', async () => {
    const job = app.modules.jobs.find((j) => j.name === 'assistant.expire_pauses');
    expect(job).toMatchObject({ queue: 'maintenance', everyMs: 60_000 });
    const c = await seedConversation(clinic, number, { texts: [] });
    await new ClinicData(clinic.id, app.infra.db).update(conversations, { aiPausedUntil: new Date(Date.now() - 1000) }, eq(conversations.id, c.id));
    const updated = new Promise<EventPayload<'conversation:updated'>>((resolve) => {
      const listener = (p: EventPayload<'conversation:updated'>) => p.id === c.id && (receptionist.off('conversation:updated', listener), resolve(p));
      receptionist.on('conversation:updated', listener);
    });
    expect(await app.modules.services.assistant.conversations.expirePauses()).toBeGreaterThanOrEqual(1);
    expect(await pausedUntil(c.id)).toBeNull();
    expect(await updated).toMatchObject({ id: c.id });
    const inbound = await receive(clinic, c, 'Vocês atendem Unimed?');
    expect((await replyTo(clinic, inbound.id)).text).toBe('Recebido: Vocês atendem Unimed?');
  });
});
