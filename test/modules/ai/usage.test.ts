import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import request from 'supertest';
import { eq } from 'drizzle-orm';
import { aiUsageDaily } from '../../../shared/schema/index.js';
import { addDays, zonedDate } from '../../../server/lib/zoned-time.js';
import { buildTestApp, getTestApp, type TestApp } from '../../helpers/app.js';
import { createClinic, type TestClinic } from '../../helpers/clinic.js';

beforeAll(() => getTestApp());

const usage = (clinic: TestClinic) => clinic.app.modules.services.aiUsage;

describe('usage ledger', () => {
  it('adds calls and tokens per feature and model into one row per local day, also when calls race', async () => {
    const clinic = await createClinic();
    await Promise.all(
      Array.from({ length: 20 }, (_, i) => usage(clinic).record(clinic.id, { feature: 'auto_reply', model: 'gpt-4o-mini', inputTokens: 100, outputTokens: 10, error: i % 5 === 0 })),
    );
    await usage(clinic).record(clinic.id, { feature: 'embedding', model: 'text-embedding-3-small', inputTokens: 5_000, outputTokens: 0 });
    await usage(clinic).record(clinic.id, { feature: 'professional_assistant', model: 'gpt-4o-mini', inputTokens: -3, outputTokens: Number.NaN });

    const res = await clinic.admin.agent.get('/api/ai/usage');
    expect(res.status).toBe(200);
    const today = zonedDate(new Date(), 'America/Sao_Paulo');
    expect(res.body).toMatchObject({ to: today, from: addDays(today, -29), timezone: 'America/Sao_Paulo' });
    expect(res.body.totals).toEqual({ inputTokens: 7_000, outputTokens: 200, calls: 22, errors: 4 });
    expect(res.body.days).toEqual([{ date: today, inputTokens: 7_000, outputTokens: 200, calls: 22, errors: 4 }]);
    // In the order of the feature list (AI_FEATURES).
    expect(res.body.byFeature).toEqual([
      { feature: 'auto_reply', model: 'gpt-4o-mini', inputTokens: 2_000, outputTokens: 200, calls: 20, errors: 4 },
      { feature: 'professional_assistant', model: 'gpt-4o-mini', inputTokens: 0, outputTokens: 0, calls: 1, errors: 0 },
      { feature: 'embedding', model: 'text-embedding-3-small', inputTokens: 5_000, outputTokens: 0, calls: 1, errors: 0 },
    ]);
    // Embeddings do not count against the budget.
    expect(res.body.today).toMatchObject({ date: today, used: 2_200 });
    expect(res.body.today.remaining).toBe(res.body.today.budget - 2_200);
  });

  it("counts the day in the clinic's zone", async () => {
    const clinic = await createClinic({ timezone: 'Pacific/Kiritimati' });
    await usage(clinic).record(clinic.id, { feature: 'auto_reply', model: 'm', inputTokens: 1, outputTokens: 1 });
    const [row] = await clinic.app.infra.db.select().from(aiUsageDaily).where(eq(aiUsageDaily.clinicId, clinic.id));
    expect(row?.day).toBe(zonedDate(new Date(), 'Pacific/Kiritimati'));
  });

  it('reports what remains of the daily budget, never below zero', async () => {
    const clinic = await createClinic();
    expect((await clinic.admin.agent.put('/api/ai/config').send({ dailyTokenBudget: 1_000 })).status).toBe(200);
    expect(await usage(clinic).remainingBudget(clinic.id)).toBe(1_000);
    await usage(clinic).record(clinic.id, { feature: 'auto_reply', model: 'm', inputTokens: 600, outputTokens: 300 });
    await usage(clinic).record(clinic.id, { feature: 'embedding', model: 'e', inputTokens: 10_000, outputTokens: 0 });
    expect(await usage(clinic).remainingBudget(clinic.id)).toBe(100);
    await usage(clinic).record(clinic.id, { feature: 'professional_assistant', model: 'm', inputTokens: 150, outputTokens: 0 });
    expect(await usage(clinic).remainingBudget(clinic.id)).toBe(0);
    expect((await clinic.admin.agent.get('/api/ai/usage')).body.today).toMatchObject({ budget: 1_000, used: 1_050, remaining: 0 });
    // Raising the budget gives room again the same day.
    await clinic.admin.agent.put('/api/ai/config').send({ dailyTokenBudget: 2_000 });
    expect(await usage(clinic).remainingBudget(clinic.id)).toBe(950);
  });

  it('keeps clinics apart', async () => {
    const [a, b] = await Promise.all([createClinic(), createClinic()]);
    await usage(a).record(a.id, { feature: 'auto_reply', model: 'm', inputTokens: 10, outputTokens: 5 });
    expect((await b.admin.agent.get('/api/ai/usage')).body.totals).toEqual({ inputTokens: 0, outputTokens: 0, calls: 0, errors: 0 });
  });

  it('takes a date range and refuses a bad one with a 400', async () => {
    const clinic = await createClinic();
    await usage(clinic).record(clinic.id, { feature: 'auto_reply', model: 'm', inputTokens: 10, outputTokens: 5 });
    const today = zonedDate(new Date(), 'America/Sao_Paulo');
    const past = await clinic.admin.agent.get('/api/ai/usage').query({ from: '2026-01-01', to: '2026-01-31' });
    expect(past.body).toMatchObject({ from: '2026-01-01', to: '2026-01-31', days: [] });
    expect((await clinic.admin.agent.get('/api/ai/usage').query({ from: today })).body.totals.calls).toBe(1);
    for (const query of [{ from: '2026-02-01', to: '2026-01-01' }, { from: '2024-01-01', to: '2026-01-01' }, { from: '01/02/2026' }, { to: '2026-02-30' }]) {
      const res = await clinic.admin.agent.get('/api/ai/usage').query(query);
      expect(res.status, JSON.stringify(query)).toBe(400);
    }
    expect((await clinic.receptionist.agent.get('/api/ai/usage')).status).toBe(403);
  });
});

describe('/metrics', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await buildTestApp({ env: { METRICS_TOKEN: 'segredo' } });
  });
  afterAll(() => app.close());

  it('counts tokens and calls by feature and model, without clinic ids', async () => {
    const clinic = await createClinic({ app });
    const service = app.modules.services.aiUsage;
    await service.record(clinic.id, { feature: 'auto_reply', model: 'gpt-test', inputTokens: 120, outputTokens: 30 });
    await service.record(clinic.id, { feature: 'auto_reply', model: 'gpt-test', inputTokens: 0, outputTokens: 0, error: true });
    const text = (await request(app.app).get('/metrics').set('Authorization', 'Bearer segredo')).text;
    expect(text).toContain('ai_tokens_total{feature="auto_reply",model="gpt-test",direction="input"} 120');
    expect(text).toContain('ai_tokens_total{feature="auto_reply",model="gpt-test",direction="output"} 30');
    expect(text).toContain('ai_calls_total{feature="auto_reply",model="gpt-test",outcome="ok"} 1');
    expect(text).toContain('ai_calls_total{feature="auto_reply",model="gpt-test",outcome="error"} 1');
    expect(text).not.toContain(clinic.id);
  });
});
