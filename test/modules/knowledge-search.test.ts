import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { knowledgeDocuments } from '../../shared/schema/index.js';
import { openDatabase } from '../../server/infra/db.js';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { anonymous, createClinic, signIn, type TestClinic } from '../helpers/clinic.js';
import { until } from '../helpers/until.js';
import { FakeOpenAI } from '../fakes/openai.js';
import { ClinicData } from '../../server/infra/clinic-data.js';
import { KnowledgeSearch } from '../../server/modules/knowledge/search.js';

const DOCS = {
  convenios: 'Aceitamos os convênios Unimed e Bradesco Saúde. Consultas particulares também.',
  precos: 'Preço da consulta de cardiologia: R$ 300,00. Eletrocardiograma: R$ 120,00.',
  endereco: 'Rua das Flores, 100, Pinheiros, São Paulo. Estacionamento no local.',
  preparo: 'Jejum de oito horas antes do exame de sangue. Traga o pedido médico.',
};

let fake: FakeOpenAI;
let withAi: TestApp;
let textOnly: TestApp;

beforeAll(async () => {
  fake = await new FakeOpenAI().start();
  [withAi, textOnly] = await Promise.all([
    buildTestApp({ env: { OPENAI_API_KEY: fake.apiKey, OPENAI_BASE_URL: fake.baseUrl } }),
    // No provider: documents are stored for full text, search answers from full text alone.
    buildTestApp(),
  ]);
});

afterAll(async () => {
  await Promise.all([withAi?.close(), textOnly?.close()]);
  await fake?.stop();
});

/** A clinic with one base per entry of `bases`, each document ingested and ready. */
async function seed(app: TestApp, bases: Record<string, Record<string, string>>) {
  const clinic = await createClinic({ app });
  const ids: Record<string, string> = {};
  const docs: string[] = [];
  for (const [name, documents] of Object.entries(bases)) {
    ids[name] = (await clinic.admin.agent.post('/api/rag/knowledge-bases').send({ name })).body.id;
    for (const [title, text] of Object.entries(documents)) {
      const res = await clinic.admin.agent.post(`/api/rag/knowledge-bases/${ids[name]}/documents`).send({ title, text });
      docs.push(res.body.id);
    }
  }
  await until(async () => {
    await app.infra.events.flush();
    const lists = await Promise.all(Object.values(ids).map((id) => clinic.admin.agent.get(`/api/rag/knowledge-bases/${id}/documents`)));
    return lists.flatMap((l) => l.body.items as { status: string }[]).every((d) => d.status === 'ready') && lists.every((l) => l.body.items.length > 0);
  });
  return { clinic, ids, docs };
}

const fakeAi = () => {
  if (!withAi.infra.ai) throw new Error('the app has no provider');
  return withAi.infra.ai;
};
const search = (clinic: TestClinic, body: object) => clinic.receptionist.agent.post('/api/rag/search').send(body);
const titles = (res: { body: { hits: { document: { title: string } }[] } }) => res.body.hits.map((h) => h.document.title);

describe('hybrid search (vector + full text, reciprocal rank fusion)', () => {
  let clinic: TestClinic;
  let ids: Record<string, string>;
  beforeAll(async () => {
    ({ clinic, ids } = await seed(withAi, { geral: { convenios: DOCS.convenios, precos: DOCS.precos, endereco: DOCS.endereco }, exames: { preparo: DOCS.preparo } }));
  });

  it('ranks the passage that matches both lists first, accent-insensitive, with score, document, position and text', async () => {
    const res = await search(clinic, { query: 'preco da consulta de cardiologia' });
    expect(res.status).toBe(200);
    expect(res.body.mode).toBe('hybrid');
    expect(titles(res)[0]).toBe('precos');
    const [top] = res.body.hits;
    expect(top).toMatchObject({ position: 0, heading: null, text: DOCS.precos, document: { title: 'precos', knowledgeBaseId: ids.geral } });
    // Fused from both lists: above what a single list's first place gives (1/61).
    expect(top.score).toBeGreaterThan(1 / 61);
    const scores = res.body.hits.map((h: { score: number }) => h.score);
    expect(scores).toEqual([...scores].sort((a, b) => b - a));
  });

  it('finds by meaning what full text misses (a misspelt word), on the vector path', async () => {
    const res = await search(clinic, { query: 'unimedd' });
    expect(res.body.mode).toBe('hybrid');
    expect(titles(res)[0]).toBe('convenios');
  });

  it('walks the HNSW index above the exact-scan size and finds the same neighbours, within the scope', async () => {
    const indexed = new KnowledgeSearch(withAi.infra, withAi.modules.services.knowledge, async () => true, 0);
    const exact = withAi.modules.services.knowledgeSearch;
    const data = new ClinicData(clinic.id, withAi.infra.db);
    const [vector] = await fakeAi().embed(['preço da consulta de cardiologia']);
    const all = await indexed.nearest(data, vector as number[], undefined, 40);
    expect(all).toHaveLength(4);
    expect(all).toEqual(await exact.nearest(data, vector as number[], undefined, 40));
    const scoped = await indexed.nearest(data, vector as number[], [ids.exames as string], 40);
    expect(scoped).toEqual(await exact.nearest(data, vector as number[], [ids.exames as string], 40));
    expect(scoped).toHaveLength(1);
  });

  it('restricts to the given knowledge bases and to k hits', async () => {
    const scoped = await search(clinic, { query: 'jejum exame de sangue', knowledgeBaseIds: [ids.geral] });
    expect(titles(scoped)).not.toContain('preparo');
    const all = await search(clinic, { query: 'jejum exame de sangue', k: 1 });
    expect(titles(all)).toEqual(['preparo']);
  });

  it("never returns another clinic's passages, and 404s for its knowledge base ids", async () => {
    const other = await seed(withAi, { outra: { precos: 'Preço da consulta de cardiologia: R$ 999,00.' } });
    const res = await search(clinic, { query: 'preco consulta cardiologia', k: 50 });
    expect(res.body.hits.map((h: { text: string }) => h.text)).not.toContain('Preço da consulta de cardiologia: R$ 999,00.');
    expect((await search(clinic, { query: 'preco', knowledgeBaseIds: [other.ids.outra] })).status).toBe(404);
    expect((await search(clinic, { query: 'preco', knowledgeBaseIds: [randomUUID()] })).status).toBe(404);
  });

  it('falls back to full text when the provider fails for the query', async () => {
    fake.failures.push(...Array.from({ length: 4 }, () => ({ status: 400 as const, path: '/embeddings' })));
    const res = await search(clinic, { query: 'estacionamento' });
    expect(res.status).toBe(200);
    expect(res.body.mode).toBe('full_text');
    expect(titles(res)).toEqual(['endereco']);
    fake.failures.length = 0;
  });

  it('refuses bad queries with a 400 and no search', async () => {
    const calls = fake.requestsTo('/embeddings').length;
    for (const body of [{ query: 'a'.repeat(1001) }, { query: '   ' }, { query: 'preço', k: 51 }, { query: 'preço', k: 0 }, { query: 'preço', knowledgeBaseIds: [] }, { query: 'preço', knowledgeBaseIds: ['x'] }]) {
      const res = await search(clinic, body);
      expect(res.status, JSON.stringify(body).slice(0, 60)).toBe(400);
      expect(res.body.error.code).toBe('validation_failed');
    }
    expect(fake.requestsTo('/embeddings').length).toBe(calls);
    expect((await anonymous(withAi).post('/api/rag/search').send({ query: 'preço' })).status).toBe(401);
  });
});

describe('without a model provider', () => {
  it('ingests for full text (no vectors stored) and searches on full text alone', async () => {
    const calls = fake.requests.length;
    const { clinic, ids } = await seed(textOnly, { geral: DOCS });
    const docs = await clinic.admin.agent.get(`/api/rag/knowledge-bases/${ids.geral}/documents`);
    expect(docs.body.items.map((d: { embeddingModel: string | null }) => d.embeddingModel)).toEqual([null, null, null, null]);
    const res = await search(clinic, { query: 'Preço consulta cardiologia' });
    expect(res.body.mode).toBe('full_text');
    expect(titles(res)[0]).toBe('precos');
    expect((await search(clinic, { query: 'unimedd' })).body.hits).toEqual([]);
    expect(fake.requests.length).toBe(calls);
    // Readiness says why: the vector column is there (pgvector on both test databases), the provider is not.
    const ready = await anonymous(textOnly).get('/api/health/ready');
    expect(ready.body.knowledge).toEqual({ vector: true, embeddings: null });
    expect((await anonymous(withAi).get('/api/health/ready')).body.knowledge).toEqual({ vector: true, embeddings: { model: 'text-embedding-3-small', dimensions: 1536 } });
  });
});

describe('changing the embedding model', () => {
  it('re-embeds the documents stored with another model (the knowledge.reembed job), then searches with the new one', async () => {
    // A database of its own: the job is cluster-wide and would re-queue other tests' documents.
    const database = await openDatabase({});
    await database.migrate();
    const env = { OPENAI_API_KEY: fake.apiKey, OPENAI_BASE_URL: fake.baseUrl };
    const before = await buildTestApp({ database, env });
    const { clinic, ids, docs } = await seed(before, { geral: { convenios: DOCS.convenios } });
    await before.close();

    // On BullMQ the repeatable job also runs once at start: it leaves documents indexed in the last 10 minutes alone (a rolling deploy).
    const after = await buildTestApp({ database, env: { ...env, OPENAI_EMBEDDING_MODEL: 'text-embedding-3-large' } });
    try {
      // The same clinic, through the new instance.
      const agent = await signIn(after, clinic.admin.email);
      const list = () => agent.get(`/api/rag/knowledge-bases/${ids.geral}/documents`);
      const searchAfter = (query: string) => agent.post('/api/rag/search').send({ query });
      expect((await list()).body.items[0]).toMatchObject({ id: docs[0], embeddingModel: 'text-embedding-3-small' });
      // Vectors of another model are never compared with the new model's query.
      expect((await searchAfter('unimedd')).body.hits).toEqual([]);
      await after.infra.queue.add('knowledge.reembed', {});
      await after.infra.events.flush();
      expect((await list()).body.items[0]).toMatchObject({ status: 'ready', embeddingModel: 'text-embedding-3-small' });
      // Indexed an hour ago, as after a deploy: now the job takes it.
      await database.db.update(knowledgeDocuments).set({ indexedAt: new Date(Date.now() - 3600_000) });
      await after.infra.queue.add('knowledge.reembed', {});
      await until(async () => {
        await after.infra.events.flush();
        const doc = (await list()).body.items[0];
        return doc.status === 'ready' && doc.embeddingModel === 'text-embedding-3-large';
      });
      expect(fake.requestsTo('/embeddings').some((r) => r.body.model === 'text-embedding-3-large')).toBe(true);
      expect(titles(await searchAfter('unimedd'))).toEqual(['convenios']);
    } finally {
      await after.close();
      await database.close();
    }
  }, 60_000);
});
