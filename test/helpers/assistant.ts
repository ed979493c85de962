import { and, desc, eq } from 'drizzle-orm';
import { expect } from 'vitest';
import { z } from 'zod';
import { conversations, messages } from '../../shared/schema/index.js';
import { ClinicData } from '../../server/infra/clinic-data.js';
import type { AssistantTool, ToolScope } from '../../server/modules/assistant/tool.js';
import type { FakeEvolution } from '../fakes/evolution.js';
import type { FakeOpenAI, LoggedRequest } from '../fakes/openai.js';
import type { TestApp } from './app.js';
import { createClinic, type TestClinic } from './clinic.js';
import { linkNumber, seedNumber, type SeededNumber } from './inbox.js';
import { until } from './until.js';

/** Tools for the auto-reply's tests: `handoff` as the real one answers, and one that records the scope it was given. */
export function testTools() {
  const scopes: ToolScope[] = [];
  const tools: AssistantTool[] = [
    {
      name: 'handoff',
      description: 'Hand the conversation to a person of the clinic',
      schema: z.strictObject({ reason: z.string() }),
      run: async (args) => ({ ok: true, data: { handedOff: true }, handoff: { reason: (args as { reason: string }).reason } }),
    },
    {
      name: 'my_appointments',
      description: "The patient's own upcoming appointments",
      schema: z.strictObject({}),
      run: async (_args, scope) => {
        scopes.push(scope);
        return { ok: true, data: { appointments: [] } };
      },
    },
  ];
  return { tools, scopes };
}

/** A clinic whose number is linked on the fake gateway, with the assistant switched on for it (debounce 0 unless told). */
export async function assistantClinic(app: TestApp, evolution: FakeEvolution, config: Record<string, unknown> = {}): Promise<{ clinic: TestClinic; number: SeededNumber }> {
  const clinic = await createClinic({ app });
  const number = await seedNumber(clinic);
  await linkNumber(evolution, number);
  await configure(clinic, { enabled: true, numberIds: [number.id], debounceSeconds: 0, ...config });
  return { clinic, number };
}

export async function configure(clinic: TestClinic, patch: Record<string, unknown>) {
  const res = await clinic.admin.agent.put('/api/ai/config').send(patch);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
}

/** The assistant's messages in a conversation, newest first. */
export const aiMessages = (clinic: TestClinic, conversationId: string) =>
  new ClinicData(clinic.id, clinic.app.infra.db).select(messages, eq(messages.conversationId, conversationId), eq(messages.sender, 'ai')).orderBy(desc(messages.sentAt));

/** Waits for the assistant's message answering `inboundId` and returns it. */
export async function replyTo(clinic: TestClinic, inboundId: string) {
  const data = new ClinicData(clinic.id, clinic.app.infra.db);
  let row: typeof messages.$inferSelect | undefined;
  await until(async () => {
    [row] = await data.select(messages, and(eq(messages.automationKey, `ai-reply:${inboundId}`)));
    return Boolean(row);
  });
  return row as typeof messages.$inferSelect;
}

export async function conversationRow(clinic: TestClinic, id: string) {
  const [row] = await new ClinicData(clinic.id, clinic.app.infra.db).select(conversations, eq(conversations.id, id));
  if (!row) throw new Error('no conversation');
  return row;
}

/** How many times the assistant skipped for `reason` in this app (`assistant_skips_total`). */
export async function skips(app: TestApp, reason: string): Promise<number> {
  const { values } = await app.modules.services.assistant.reply.metrics.skips.get();
  return values.find((v) => v.labels.reason === reason)?.value ?? 0;
}

/** Waits until the assistant skipped once more for `reason` than `before`. */
export async function skipped(app: TestApp, reason: string, before: number) {
  await until(async () => {
    await app.infra.events.flush();
    return (await skips(app, reason)) > before;
  });
}

export const chatRequests = (fake: FakeOpenAI): LoggedRequest[] => fake.requestsTo('/chat/completions');
