import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { knowledgeChunks } from '../../shared/schema/index.js';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { createClinic, type TestClinic } from '../helpers/clinic.js';
import { until } from '../helpers/until.js';
import { collect, listen, openSocket, sessionCookie, type RunningServer } from '../helpers/server.js';
import { FakeOpenAI } from '../fakes/openai.js';
import { buildDocx, buildPdf } from '../fixtures/knowledge/documents.js';

const DOCX = 'application/vnd.openxmlformats-officedocument.wordprocessingml.document';

let fake: FakeOpenAI;
let app: TestApp;
let clinic: TestClinic;
let site: Server;
let siteUrl: string;
let running: RunningServer;

beforeAll(async () => {
  fake = await new FakeOpenAI().start();
  // An intranet wiki on loopback, opened to the app by OUTBOUND_ALLOW_HOSTS as an operator would.
  site = createServer((req, res) => {
    if (req.url === '/precos') return res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end('<html><head><title>x</title><script>var segredo=1</script></head><body><h1>Tabela de preços</h1><p>Consulta de dermatologia: R$ 350,00.</p></body></html>');
    if (req.url === '/vai-para-metadados') return res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/' }).end();
    if (req.url === '/enorme') return res.writeHead(200, { 'content-type': 'text/plain' }).end('a'.repeat(6 * 1024 * 1024));
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', resolve));
  siteUrl = `http://127.0.0.1:${(site.address() as AddressInfo).port}`;
  app = await buildTestApp({ env: { OPENAI_API_KEY: fake.apiKey, OPENAI_BASE_URL: fake.baseUrl, OUTBOUND_ALLOW_HOSTS: '127.0.0.1' } });
  clinic = await createClinic({ app });
  running = await listen(app);
});

afterAll(async () => {
  // Closes the app too.
  await running?.close();
  await fake?.stop();
  site?.closeAllConnections();
  await new Promise((r) => site?.close(r));
});

async function createBase(c: TestClinic, name = 'Informações da clínica') {
  const res = await c.admin.agent.post('/api/rag/knowledge-bases').send({ name });
  expect(res.status).toBe(201);
  return res.body.id as string;
}

/** Waits for the document to leave queued/processing and returns it as listed. */
async function settled(c: TestClinic, baseId: string, docId: string) {
  let doc: Record<string, unknown> | undefined;
  await until(async () => {
    await app.infra.events.flush();
    const res = await c.receptionist.agent.get(`/api/rag/knowledge-bases/${baseId}/documents`);
    doc = (res.body.items as Record<string, unknown>[]).find((d) => d.id === docId);
    return doc?.status === 'ready' || doc?.status === 'failed';
  });
  return doc as Record<string, unknown>;
}

const chunksOf = (docId: string) => app.infra.db.select().from(knowledgeChunks).where(eq(knowledgeChunks.documentId, docId));

describe('knowledge documents of each type', () => {
  it('ingests Markdown into chunks that keep their heading path, embedded with the configured model', async () => {
    const baseId = await createBase(clinic);
    const body = `# Preparo para exames\n\n## Colonoscopia\n\n${'Dieta líquida sem resíduos na véspera do exame. '.repeat(80)}\n\n## Ultrassom\n\nJejum de 8 horas.`;
    const res = await clinic.admin.agent.post(`/api/rag/knowledge-bases/${baseId}/documents`).send({ title: 'Preparo', markdown: body });
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ status: 'queued', sourceType: 'markdown', chunkCount: 0 });
    const doc = await settled(clinic, baseId, res.body.id);
    expect(doc).toMatchObject({ status: 'ready', embeddingModel: 'text-embedding-3-small', embeddingDimensions: 1536, failureReason: null });
    const chunks = await chunksOf(res.body.id);
    expect(doc.chunkCount).toBe(chunks.length);
    expect(chunks.length).toBeGreaterThan(2);
    expect(new Set(chunks.map((c) => c.heading))).toEqual(new Set(['Preparo para exames > Colonoscopia', 'Preparo para exames > Ultrassom']));
    // ~500 tokens each (2,000 characters at most), and the SDK's default base64 request was answered.
    expect(Math.max(...chunks.map((c) => c.text.length))).toBeLessThanOrEqual(2000);
    const embedCalls = fake.requestsTo('/embeddings');
    expect(embedCalls.at(-1)?.body).toMatchObject({ model: 'text-embedding-3-small', encoding_format: 'base64', dimensions: 1536 });
  });

  it('ingests plain text, a text PDF (with its page count) and a DOCX (headings kept)', async () => {
    const baseId = await createBase(clinic, 'Arquivos');
    const text = await clinic.admin.agent.post(`/api/rag/knowledge-bases/${baseId}/documents`).send({ title: 'Endereço', text: 'Rua das Flores, 100, São Paulo. Estacionamento conveniado.' });
    const pdf = await clinic.admin.agent
      .post(`/api/rag/knowledge-bases/${baseId}/documents`)
      .field('title', 'Convênios')
      .attach('file', buildPdf([['Convenios aceitos: Unimed, Bradesco Saude.'], ['Particular: pagamento em cartao ou Pix.']]), { filename: 'convenios.pdf', contentType: 'application/pdf' });
    const docx = await clinic.admin.agent
      .post(`/api/rag/knowledge-bases/${baseId}/documents`)
      .attach('file', await buildDocx(['# Horários', 'Segunda a sexta, das 8h às 18h.', '# Contato', 'Telefone (11) 3333-4444.']), { filename: 'horarios.docx', contentType: DOCX });
    const md = await clinic.admin.agent.post(`/api/rag/knowledge-bases/${baseId}/documents`).attach('file', Buffer.from('# Política\n\nCancelamentos com 24 h de antecedência.'), { filename: 'politica.md', contentType: 'text/plain' });
    for (const r of [text, pdf, docx, md]) expect(r.status, JSON.stringify(r.body)).toBe(202);
    expect(docx.body).toMatchObject({ sourceType: 'docx', title: 'horarios', filename: 'horarios.docx' });
    expect(md.body.sourceType).toBe('markdown');

    expect(await settled(clinic, baseId, text.body.id)).toMatchObject({ status: 'ready', chunkCount: 1 });
    expect(await settled(clinic, baseId, pdf.body.id)).toMatchObject({ status: 'ready', pages: 2, sourceType: 'pdf' });
    expect((await chunksOf(pdf.body.id)).map((c) => c.text).join(' ')).toContain('Unimed');
    expect(await settled(clinic, baseId, docx.body.id)).toMatchObject({ status: 'ready' });
    expect((await chunksOf(docx.body.id)).map((c) => [c.heading, c.text])).toEqual([
      ['Horários', 'Segunda a sexta, das 8h às 18h.'],
      ['Contato', 'Telefone (11) 3333-4444.'],
    ]);
    // Each document is ingested by its own job: the last one may finish after the others.
    expect(await settled(clinic, baseId, md.body.id)).toMatchObject({ status: 'ready' });
    expect((await chunksOf(md.body.id))[0]?.heading).toBe('Política');
  });

  it('fetches a URL on an allowed intranet host, as text without scripts', async () => {
    const baseId = await createBase(clinic, 'Site');
    const res = await clinic.admin.agent.post(`/api/rag/knowledge-bases/${baseId}/documents`).send({ title: 'Preços', url: `${siteUrl}/precos` });
    expect(res.status).toBe(202);
    expect(await settled(clinic, baseId, res.body.id)).toMatchObject({ status: 'ready', sourceType: 'url', sourceUrl: `${siteUrl}/precos` });
    const [chunk] = await chunksOf(res.body.id);
    expect(chunk).toMatchObject({ heading: 'Tabela de preços', text: 'Consulta de dermatologia: R$ 350,00.' });
  });
});

describe('documents that cannot be ingested end failed with a reason and no chunks', () => {
  it('an image-only PDF, an unreadable file, a redirect to the metadata address, a page over the size limit', async () => {
    const baseId = await createBase(clinic, 'Falhas');
    const scanned = await clinic.admin.agent.post(`/api/rag/knowledge-bases/${baseId}/documents`).attach('file', buildPdf([null, null]), { filename: 'digitalizado.pdf', contentType: 'application/pdf' });
    const broken = await clinic.admin.agent.post(`/api/rag/knowledge-bases/${baseId}/documents`).attach('file', Buffer.from('não é um pdf'), { filename: 'quebrado.pdf', contentType: 'application/pdf' });
    const redirect = await clinic.admin.agent.post(`/api/rag/knowledge-bases/${baseId}/documents`).send({ title: 'Redireciona', url: `${siteUrl}/vai-para-metadados` });
    const huge = await clinic.admin.agent.post(`/api/rag/knowledge-bases/${baseId}/documents`).send({ title: 'Enorme', url: `${siteUrl}/enorme` });
    const missing = await clinic.admin.agent.post(`/api/rag/knowledge-bases/${baseId}/documents`).send({ title: 'Fora do ar', url: `${siteUrl}/nao-existe` });
    const expected: [typeof scanned, string][] = [
      [scanned, 'pdf_without_text'],
      [broken, 'unreadable_file'],
      [redirect, 'url_blocked_address'],
      [huge, 'url_too_large'],
      [missing, 'url_bad_status'],
    ];
    for (const [res, reason] of expected) {
      expect(res.status).toBe(202);
      const doc = await settled(clinic, baseId, res.body.id);
      expect(doc, reason).toMatchObject({ status: 'failed', failureReason: reason, chunkCount: 0 });
      expect(doc.failureMessage).toMatch(/[a-zà-ú]{4,}/i);
      expect(await chunksOf(res.body.id)).toEqual([]);
    }
  });

  it('refuses empty and oversized input with a 4xx before storing anything', async () => {
    const baseId = await createBase(clinic, 'Entradas');
    const url = `/api/rag/knowledge-bases/${baseId}/documents`;
    expect((await clinic.admin.agent.post(url).send({ title: 'Vazio', text: '   ' })).status).toBe(400);
    expect((await clinic.admin.agent.post(url).send({ title: 'Dois', text: 'a', url: 'https://example.com' })).body.error.code).toBe('validation_failed');
    expect((await clinic.admin.agent.post(url).send({ title: 'Grande', text: 'x'.repeat(500_001) })).status).toBe(400);
    expect((await clinic.admin.agent.post(url).attach('file', Buffer.alloc(0), { filename: 'vazio.txt', contentType: 'text/plain' })).body.error.code).toBe('empty_document');
    const big = await clinic.admin.agent.post(url).attach('file', Buffer.alloc(10 * 1024 * 1024 + 1, 'a'), { filename: 'grande.txt', contentType: 'text/plain' });
    expect(big.status).toBe(413);
    expect((await clinic.admin.agent.post(url).attach('file', Buffer.from('GIF89a'), { filename: 'foto.gif', contentType: 'image/gif' })).status).toBe(415);
    expect((await clinic.receptionist.agent.get(`/api/rag/knowledge-bases/${baseId}/documents`)).body.items).toEqual([]);
  });
});

describe('reindex and delete', () => {
  it('reindex replaces the chunks atomically; delete removes document and chunks; a socket hears every state', async () => {
    const socket = await openSocket(running.url, { cookie: await sessionCookie(running.url, clinic.receptionist.email) });
    const heard = collect(socket, 'knowledge_document:updated') as { id: string; status: string; revision: number }[];
    const baseId = await createBase(clinic, 'Reindex');
    const res = await clinic.admin.agent.post(`/api/rag/knowledge-bases/${baseId}/documents`).send({ title: 'Texto', text: 'Aceitamos o convênio Amil.' });
    const first = await settled(clinic, baseId, res.body.id);
    const before = await chunksOf(res.body.id);
    const calls = fake.requestsTo('/embeddings').length;

    const again = await clinic.admin.agent.post(`/api/rag/documents/${res.body.id}/reindex`);
    expect(again.status).toBe(202);
    expect(again.body.status).toBe('queued');
    const second = await settled(clinic, baseId, res.body.id);
    expect(second.status).toBe('ready');
    expect(new Date(second.indexedAt as string).getTime()).toBeGreaterThan(new Date(first.indexedAt as string).getTime());
    const after = await chunksOf(res.body.id);
    expect(after.map((c) => c.text)).toEqual(before.map((c) => c.text));
    expect(after[0]?.id).not.toBe(before[0]?.id);
    expect(fake.requestsTo('/embeddings').length).toBeGreaterThan(calls);

    expect((await clinic.admin.agent.delete(`/api/rag/documents/${res.body.id}`)).status).toBe(204);
    expect(await chunksOf(res.body.id)).toEqual([]);
    expect((await clinic.admin.agent.post(`/api/rag/documents/${res.body.id}/reindex`)).status).toBe(404);
    await until(async () => {
      await app.infra.events.flush();
      return heard.some((e) => e.status === 'deleted');
    });
    expect(heard.filter((e) => e.id === res.body.id).map((e) => `${e.revision}:${e.status}`)).toEqual(['1:queued', '1:processing', '1:ready', '2:queued', '2:processing', '2:ready', '2:deleted']);
    socket.disconnect();
  });

  it('a provider that keeps failing ends the document failed after the retries, without chunks', async () => {
    const baseId = await createBase(clinic, 'Provedor fora');
    // The SDK retries each request 3 times; the job runs 3 times: 12 answers of 500.
    for (let i = 0; i < 12; i++) fake.failures.push({ status: 500, path: '/embeddings' });
    const res = await clinic.admin.agent.post(`/api/rag/knowledge-bases/${baseId}/documents`).send({ title: 'Texto', text: 'Aceitamos Sulamérica.' });
    const doc = await settled(clinic, baseId, res.body.id);
    expect(doc).toMatchObject({ status: 'failed', failureReason: 'embedding_failed', chunkCount: 0 });
    expect(fake.failures).toEqual([]);
    expect(await chunksOf(res.body.id)).toEqual([]);
  }, 60_000);

  it('a 429 with retry-after is retried by the SDK and the document ends ready', async () => {
    const baseId = await createBase(clinic, 'Limite');
    fake.failures.push({ status: 429, retryAfter: 0, path: '/embeddings' });
    const res = await clinic.admin.agent.post(`/api/rag/knowledge-bases/${baseId}/documents`).send({ title: 'Texto', text: 'Aceitamos Porto Seguro.' });
    expect(await settled(clinic, baseId, res.body.id)).toMatchObject({ status: 'ready', chunkCount: 1 });
  });

  it('deleting a knowledge base removes its documents and chunks', async () => {
    const baseId = await createBase(clinic, 'Apagar');
    const res = await clinic.admin.agent.post(`/api/rag/knowledge-bases/${baseId}/documents`).send({ title: 'Texto', text: 'Texto qualquer.' });
    await settled(clinic, baseId, res.body.id);
    expect((await clinic.admin.agent.delete(`/api/rag/knowledge-bases/${baseId}`)).status).toBe(204);
    expect(await chunksOf(res.body.id)).toEqual([]);
    expect((await clinic.receptionist.agent.get(`/api/rag/knowledge-bases/${baseId}/documents`)).status).toBe(404);
  });
});
