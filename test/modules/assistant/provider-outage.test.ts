import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { HANDOFF_TEXTS } from '../../../server/modules/assistant/safety.js';
import { FakeEvolution } from '../../fakes/evolution.js';
import { FakeOpenAI } from '../../fakes/openai.js';
import { buildTestApp, type TestApp } from '../../helpers/app.js';
import { assistantClinic, chatRequests, conversationRow, replyTo, testTools } from '../../helpers/assistant.js';
import type { TestClinic } from '../../helpers/clinic.js';
import { receive, seedConversation, type SeededNumber } from '../../helpers/inbox.js';
import { until } from '../../helpers/until.js';

const COOLDOWN_MS = 60_000;
let evolution: FakeEvolution;
let openai: FakeOpenAI;
let app: TestApp;
let clinic: TestClinic;
let number: SeededNumber;

beforeAll(async () => {
  [evolution, openai] = await Promise.all([new FakeEvolution().start(), new FakeOpenAI().start()]);
  app = await buildTestApp({
    env: {
      EVOLUTION_API_URL: evolution.url,
      EVOLUTION_API_KEY: evolution.apiKey,
      WHATSAPP_SEND_RATE_PER_SECOND: '50',
      OPENAI_API_KEY: openai.apiKey,
      OPENAI_BASE_URL: openai.baseUrl,
      OPENAI_REPLY_TIMEOUT_MS: '500',
      OPENAI_CIRCUIT_FAILURES: '2',
      OPENAI_CIRCUIT_COOLDOWN_MS: String(COOLDOWN_MS),
    },
    assistantTools: testTools().tools,
  });
  ({ clinic, number } = await assistantClinic(app, evolution));
});
afterAll(async () => {
  await app?.close();
  await Promise.all([evolution?.stop(), openai?.stop()]);
});

/** A new patient writes; resolves with the assistant's message to them and their conversation. */
async function patientWrites(text = `Pergunta ${randomUUID().slice(0, 6)} sobre horários`) {
  const c = await seedConversation(clinic, number, { texts: [] });
  const inbound = await receive(clinic, c, text);
  return { c, message: await replyTo(clinic, inbound.id) };
}

describe('when the model provider refuses (429) or fails (500) for a while', () => {
  it('hands every conversation to a person, and stops calling it after two failed calls until the cool-down ends', async () => {
    // The provider answers nothing but errors for the whole test.
    for (let i = 0; i < 200; i++) openai.failures.push({ status: i % 2 ? 500 : 429, retryAfter: 0, path: '/chat/completions' });
    const before = chatRequests(openai).length;
    for (let i = 0; i < 6; i++) {
      const { c, message } = await patientWrites();
      expect(message).toMatchObject({ text: HANDOFF_TEXTS.unavailable, meta: { handoff: 'model_error' } });
      // The handoff follows the message to the patient.
      await until(async () => (await conversationRow(clinic, c.id)).status === 'pending');
    }
    // Two messages' calls (each the first try and the SDK's retry), then none: six messages, four requests.
    expect(chatRequests(openai).length - before).toBe(4);

    // The cool-down ends (the clock moved a minute on); one call tries again, the provider is back, the assistant answers.
    openai.failures.length = 0;
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      vi.setSystemTime(Date.now() + COOLDOWN_MS + 1000);
      const { message } = await patientWrites('Qual o endereço da clínica?');
      expect(message.meta).not.toHaveProperty('handoff');
      expect(message.text).toContain('endereço');
    } finally {
      vi.useRealTimers();
    }
  });

  it('a model that does not answer in time is a failure too: the patient is handed over, nothing hangs', async () => {
    openai.delayMs = 2000;
    try {
      const t0 = Date.now();
      const { message } = await patientWrites();
      expect(message).toMatchObject({ text: HANDOFF_TEXTS.unavailable, meta: { handoff: 'model_error' } });
      // Two tries of 500 ms each, not the SDK's default of ten minutes.
      expect(Date.now() - t0).toBeLessThan(1800 + 1500);
    } finally {
      openai.delayMs = 0;
    }
  });
});
