/**
 * Ingestion throughput (issue #12: >= 20 pages/s with the provider answering at once, so the
 * figure is our own cost): text PDFs uploaded through the service, each ingested by the
 * `knowledge.ingest` job (extract with pdfjs, split, embed through the SDK against the fake OpenAI
 * server on 127.0.0.1, store chunks and vectors in one transaction), from the first upload until
 * every document is ready. Baseline of the same run: pdfjs extracting the same PDFs alone.
 *
 *   npx tsx bench/rag-ingest.ts              # 20 PDFs x 10 pages on PGlite (DATABASE_URL / REDIS_URL to use Postgres / BullMQ)
 *   npx tsx bench/rag-ingest.ts --docs=50 --pages=20
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { eq, inArray } from 'drizzle-orm';
import { loadConfig } from '../server/config.js';
import { closeInfra, createInfra } from '../server/infra/index.js';
import { createLogger } from '../server/infra/logger.js';
import { createModules } from '../server/modules/index.js';
import { extractPdf } from '../server/modules/knowledge/extract.js';
import type { TenantContext } from '../server/http/context.js';
import { clinics, knowledgeDocuments } from '../shared/schema/index.js';
import { FakeOpenAI } from '../test/fakes/openai.js';
import { buildPdf } from '../test/fixtures/knowledge/documents.js';

const arg = (name: string, fallback: number) => Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? fallback);
const DOCS = arg('docs', 20);
const PAGES = arg('pages', 10);

const LINES = [
  'A clinica atende de segunda a sexta, das 8h as 18h, e aos sabados ate o meio-dia.',
  'Consultas de cardiologia custam R$ 300,00; o eletrocardiograma, R$ 120,00.',
  'Aceitamos os convenios Unimed, Bradesco Saude, SulAmerica e Amil.',
  'Para o exame de sangue e necessario jejum de oito horas; traga o pedido medico.',
  'Cancelamentos devem ser feitos com 24 horas de antecedencia pelo WhatsApp.',
];
const page = (doc: number, n: number) => Array.from({ length: 40 }, (_, i) => `${doc}.${n}.${i} ${LINES[(doc + n + i) % LINES.length]}`);
const pdfs = Array.from({ length: DOCS }, (_, d) => buildPdf(Array.from({ length: PAGES }, (_, p) => page(d, p))));

const fake = await new FakeOpenAI().start();
const dataDir = mkdtempSync(path.join(os.tmpdir(), 'opb-bench-rag-'));
const config = loadConfig({ ...process.env, NODE_ENV: 'development', DATA_DIR: dataDir, OPENAI_API_KEY: fake.apiKey, OPENAI_BASE_URL: fake.baseUrl, FILE_STORAGE: 'local' });
const infra = await createInfra(config, createLogger({ level: 'silent' }));
const modules = createModules(infra);
await infra.queue.start(modules.jobs);
infra.events.start();

const [clinic] = await infra.db.insert(clinics).values({ name: 'Bench ingest' }).returning();
if (!clinic) throw new Error('seed failed');
const ctx: TenantContext = { clinicId: clinic.id, actor: { type: 'api_key', apiKeyId: '00000000-0000-4000-8000-000000000000', scopes: [] } as unknown as TenantContext['actor'], requestId: 'bench', ip: '127.0.0.1', userAgent: 'bench' };
const { knowledge } = modules.services;
const base = await knowledge.createBase(ctx, { name: 'Bench' });

// Baseline: pdfjs alone over the same files, after one warm-up (its first document loads the worker code).
await extractPdf(pdfs[0] as Buffer);
let t0 = performance.now();
let extractedPages = 0;
for (const pdf of pdfs) extractedPages += (await extractPdf(pdf)).pages ?? 0;
const extractSeconds = (performance.now() - t0) / 1000;

t0 = performance.now();
const ids: string[] = [];
for (const [i, pdf] of pdfs.entries()) {
  const doc = await knowledge.addDocument(ctx, base.id, { type: 'pdf', title: `Documento ${i}`, file: { originalname: `doc-${i}.pdf`, buffer: pdf, mimetype: 'application/pdf' } });
  ids.push(doc.id);
}
for (;;) {
  const rows = await infra.db.select({ status: knowledgeDocuments.status }).from(knowledgeDocuments).where(inArray(knowledgeDocuments.id, ids));
  if (rows.some((r) => r.status === 'failed')) throw new Error('a document failed');
  if (rows.every((r) => r.status === 'ready')) break;
  await new Promise((r) => setTimeout(r, 5));
}
const ingestSeconds = (performance.now() - t0) / 1000;
const [stats] = await infra.db.select({ chunks: knowledgeDocuments.chunkCount }).from(knowledgeDocuments).where(eq(knowledgeDocuments.id, ids[0] as string));

const pagesTotal = DOCS * PAGES;
console.log(`machine: ${os.cpus().length} x ${os.cpus()[0]?.model ?? 'cpu'}, node ${process.version}; database ${infra.database.kind}, queue ${infra.queue.kind}`);
console.log(`${DOCS} PDFs x ${PAGES} pages (${pagesTotal} pages, ~${stats?.chunks ?? 0} chunks each), ${fake.requestsTo('/embeddings').length} embeddings requests`);
console.log(`  pdfjs extraction alone (baseline) ${(extractedPages / extractSeconds).toFixed(1)} pages/s`);
console.log(`  whole ingestion                   ${(pagesTotal / ingestSeconds).toFixed(1)} pages/s (${ingestSeconds.toFixed(2)} s; ${((extractSeconds / ingestSeconds) * 100).toFixed(0)}% of it is extraction)`);

await closeInfra(infra);
await fake.stop();
rmSync(dataDir, { recursive: true, force: true });
if (pagesTotal / ingestSeconds < 20) {
  console.error('target missed: >= 20 pages/s');
  process.exit(1);
}
