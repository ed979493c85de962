import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { and, eq } from 'drizzle-orm';
import { auditLog, messages } from '../../../shared/schema/index.js';
import { systemContext } from '../../../server/http/context.js';
import { FakeEvolution } from '../../fakes/evolution.js';
import { buildTestApp, type TestApp } from '../../helpers/app.js';
import { createClinic, type TestClinic } from '../../helpers/clinic.js';
import { linkNumber, messageRow, seedConversation, seedNumber, type SeededNumber } from '../../helpers/inbox.js';
import { until } from '../../helpers/until.js';

let fake: FakeEvolution;
let app: TestApp;
let clinic: TestClinic;
let other: TestClinic;
let number: SeededNumber;

beforeAll(async () => {
  fake = await new FakeEvolution().start();
  app = await buildTestApp({ env: { EVOLUTION_API_URL: fake.url, EVOLUTION_API_KEY: fake.apiKey, WHATSAPP_SEND_RATE_PER_SECOND: '50' } });
  clinic = await createClinic({ app });
  other = await createClinic({ app });
  number = await seedNumber(clinic);
  await linkNumber(fake, number);
});
afterAll(async () => {
  await app.close();
  await fake.stop();
});

describe('messages a feature sends on its own', () => {
  it('are stored once per key and sent once, however often the job asks', async () => {
    const c = await seedConversation(clinic, number);
    const ctx = systemContext(clinic.id, 'reminders', null);
    const send = () => app.modules.services.inbox.messages.sendAutomated(ctx, c.id, { sender: 'system', text: 'Lembrete: sua consulta é amanhã às 10h.', key: `test:${c.id}` });
    const [first, second] = await Promise.all([send(), send()]);
    expect([first.created, second.created].sort()).toEqual([false, true]);
    expect(second.message.id).toBe(first.message.id);
    expect(first.message).toMatchObject({ direction: 'outbound', sender: 'system', status: 'pending' });
    await until(async () => (await messageRow(clinic, first.message.id)).status === 'server_ack');
    expect(await send()).toMatchObject({ created: false, message: { id: first.message.id } });
    expect(fake.sentCount(number.instanceName)).toBe(1);
    const rows = await app.infra.db.select().from(messages).where(and(eq(messages.conversationId, c.id), eq(messages.direction, 'outbound')));
    expect(rows).toHaveLength(1);
  });

  it('never reach a conversation of another clinic', async () => {
    const c = await seedConversation(clinic, number);
    await expect(app.modules.services.inbox.messages.sendAutomated(systemContext(other.id, 'assistant', null), c.id, { sender: 'ai', text: 'Olá', key: `x:${c.id}` })).rejects.toMatchObject({ status: 404 });
  });

  it('are audited as the feature that acted', async () => {
    await app.modules.services.audit.record(systemContext(clinic.id, 'assistant', null), { action: 'test.system_actor', entityType: 'clinic', entityId: clinic.id });
    const [row] = await app.infra.db.select().from(auditLog).where(and(eq(auditLog.clinicId, clinic.id), eq(auditLog.action, 'test.system_actor')));
    expect(row).toMatchObject({ actorType: 'system', actorId: null, actorRole: 'assistant' });
  });
});
