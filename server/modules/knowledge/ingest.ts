import { and, eq, isNull, lt, ne, or, sql } from 'drizzle-orm';
import { APIError } from 'openai';
import { knowledgeChunks, knowledgeDocuments } from '../../../shared/schema/index.js';
import { KNOWLEDGE_LIMITS } from '../../../shared/api/knowledge.js';
import { EmbeddingShapeError } from '../../infra/ai.js';
import { ClinicData } from '../../infra/clinic-data.js';
import type { Infra } from '../../infra/index.js';
import type { JobContext } from '../../infra/queue.js';
import { extractDocx, extractPdf, extractUrl, IngestFailure, type Extracted } from './extract.js';
import { insertChunks } from './chunks.js';
import { documentEvent, requeue } from './service.js';
import { splitDocument } from './split.js';

export interface IngestJob {
  documentId: string;
  revision: number;
}

declare module '../../infra/queue.js' {
  interface JobMap {
    'knowledge.ingest': IngestJob;
    'knowledge.reembed': Record<string, never>;
  }
}

export const INGEST_ATTEMPTS = 3;
/** Inputs per embeddings request; also bounded by characters so one request stays small. */
const EMBED_BATCH = 64;
const EMBED_BATCH_CHARS = 120_000;
const MAX_CHUNKS = 5000;
/** Documents re-queued per run of `knowledge.reembed` after a model change. */
const REEMBED_BATCH = 50;
/**
 * Only documents indexed longer ago than this: in a rolling deploy, instances still on the old
 * model keep ingesting for a while, and their fresh documents would be re-queued back and forth.
 */
const REEMBED_GRACE_MS = 10 * 60_000;

type Doc = Awaited<ReturnType<Ingestion['load']>>;

/**
 * The `knowledge.ingest` job: extract, split, embed (when a provider and pgvector are there),
 * then replace the document's chunks and mark it ready in one transaction. Nothing half-ingested:
 * a failure leaves the document `failed` with its reason and no chunks; a job of an older
 * revision (reindexed or deleted meanwhile) changes nothing.
 */
export class Ingestion {
  constructor(
    private readonly infra: Infra,
    private readonly vectors: () => Promise<boolean>,
  ) {}

  async run(job: IngestJob, ctx: JobContext) {
    if (!ctx.clinicId) throw new Error('knowledge.ingest without a clinic');
    const data = new ClinicData(ctx.clinicId, this.infra.db);
    const doc = await this.load(data, job);
    if (!doc) return;
    if (doc.status === 'queued') await this.mark(data, job, { status: 'processing' });
    try {
      const extracted = await this.extract(doc);
      if (extracted.text.length > KNOWLEDGE_LIMITS.extractedChars) {
        throw new IngestFailure('document_too_large', `O documento tem mais de ${KNOWLEDGE_LIMITS.extractedChars.toLocaleString('pt-BR')} caracteres de texto.`);
      }
      const chunks = await splitDocument(extracted.text);
      if (chunks.length === 0) throw new IngestFailure('empty_document', 'O documento não tem texto.');
      if (chunks.length > MAX_CHUNKS) throw new IngestFailure('document_too_large', `O documento gera mais de ${MAX_CHUNKS} trechos.`);
      const ai = (await this.vectors()) ? this.infra.ai : undefined;
      const vectors = ai ? await this.embed(chunks.map((c) => (c.heading ? `${c.heading}\n${c.text}` : c.text)), ctx) : undefined;
      await data.transaction(async (tx, t) => {
        const [current] = await tx.pick({ revision: knowledgeDocuments.revision }, knowledgeDocuments, eq(knowledgeDocuments.id, doc.id)).for('update');
        if (current?.revision !== job.revision) return;
        await tx.delete(knowledgeChunks, eq(knowledgeChunks.documentId, doc.id));
        await insertChunks(tx, t, doc, chunks, vectors);
        const [row] = await tx
          .update(
            knowledgeDocuments,
            {
              status: 'ready',
              pages: extracted.pages,
              chunkCount: chunks.length,
              embeddingModel: ai ? ai.embeddingModel : null,
              embeddingDimensions: ai ? ai.dimensions : null,
              indexedAt: new Date(),
              updatedAt: new Date(),
              ...(doc.sourceType === 'url' ? { sizeBytes: Buffer.byteLength(extracted.text) } : {}),
            },
            eq(knowledgeDocuments.id, doc.id),
          )
          .returning({ id: knowledgeDocuments.id, knowledgeBaseId: knowledgeDocuments.knowledgeBaseId });
        if (row) await this.infra.events.publish(t, 'knowledge_document.updated', documentEvent({ ...row, status: 'ready', failureReason: null, chunkCount: chunks.length, revision: job.revision }), { clinicId: data.clinicId, requestId: ctx.requestId });
      });
      ctx.log.info({ documentId: doc.id, chunks: chunks.length, embedded: Boolean(vectors) }, 'knowledge document ingested');
    } catch (err) {
      const failure = this.failureOf(err, ctx);
      if (!failure) throw err;
      ctx.log.warn({ documentId: doc.id, reason: failure.code }, 'knowledge document failed');
      await this.mark(data, job, { status: 'failed', failureReason: failure.code, failureMessage: failure.messagePt });
    }
  }

  /** A permanent failure, or a provider failure on the last attempt; undefined to let the queue retry. */
  private failureOf(err: unknown, ctx: JobContext): IngestFailure | undefined {
    if (err instanceof IngestFailure) return err;
    if (err instanceof EmbeddingShapeError) return new IngestFailure('embedding_misconfigured', 'O servidor de embeddings devolveu vetores de tamanho diferente do configurado.');
    const lastAttempt = ctx.attempt >= INGEST_ATTEMPTS;
    if (err instanceof APIError && (lastAttempt || (err.status !== undefined && err.status < 500 && err.status !== 429 && err.status !== 408))) {
      return new IngestFailure('embedding_failed', `O provedor de IA recusou gerar os embeddings${err.status ? ` (HTTP ${err.status})` : ''}. Tente reindexar mais tarde.`);
    }
    return undefined;
  }

  async load(data: ClinicData, job: IngestJob) {
    const [doc] = await data.select(knowledgeDocuments, eq(knowledgeDocuments.id, job.documentId), eq(knowledgeDocuments.revision, job.revision));
    return doc;
  }

  private async extract(doc: NonNullable<Doc>): Promise<Extracted> {
    if (doc.content !== null) return { text: doc.content, pages: null };
    if (doc.sourceUrl) return extractUrl(doc.sourceUrl, this.infra.config.outboundAllowHosts);
    const bytes = doc.storageKey ? await this.infra.storage.read(doc.storageKey) : null;
    if (!bytes) throw new IngestFailure('source_missing', 'O arquivo original não foi encontrado no armazenamento.');
    if (doc.sourceType === 'pdf') return extractPdf(bytes);
    if (doc.sourceType === 'docx') return extractDocx(bytes);
    const text = bytes.toString('utf8');
    if (text.includes('\u0000') || text.includes('\ufffd')) throw new IngestFailure('unreadable_file', 'O arquivo não é texto em UTF-8.');
    return { text, pages: null };
  }

  private async embed(inputs: string[], ctx: JobContext): Promise<number[][]> {
    const ai = this.infra.ai;
    if (!ai) throw new Error('no provider');
    const out: number[][] = [];
    let batch: string[] = [];
    let chars = 0;
    const flush = async () => {
      if (batch.length) out.push(...(await ai.embed(batch)));
      batch = [];
      chars = 0;
    };
    for (const input of inputs) {
      if (batch.length >= EMBED_BATCH || chars + input.length > EMBED_BATCH_CHARS) await flush();
      batch.push(input);
      chars += input.length;
    }
    await flush();
    ctx.log.debug({ vectors: out.length }, 'embedded');
    return out;
  }

  /** Sets the status of this revision (no-op for an older one); a failed document keeps no chunks. */
  private async mark(data: ClinicData, job: IngestJob, set: { status: 'processing' | 'failed'; failureReason?: string; failureMessage?: string }) {
    const dropChunks = set.status === 'failed';
    await data.transaction(async (tx, t) => {
      const [row] = await tx
        .update(knowledgeDocuments, { ...set, ...(dropChunks ? { chunkCount: 0 } : {}), updatedAt: new Date() }, eq(knowledgeDocuments.id, job.documentId), eq(knowledgeDocuments.revision, job.revision))
        .returning({ id: knowledgeDocuments.id, knowledgeBaseId: knowledgeDocuments.knowledgeBaseId, chunkCount: knowledgeDocuments.chunkCount });
      if (!row) return;
      if (dropChunks) await tx.delete(knowledgeChunks, eq(knowledgeChunks.documentId, job.documentId));
      await this.infra.events.publish(t, 'knowledge_document.updated', documentEvent({ ...row, status: set.status, failureReason: set.failureReason ?? null, revision: job.revision }), { clinicId: data.clinicId });
    });
  }

  /**
   * After a change of OPENAI_EMBEDDING_MODEL or dimensions: ready documents whose stored model
   * differs (or that were stored for full text only) are queued again, a batch per run, once
   * they were indexed more than the grace period ago.
   */
  async reembedStale(ctx: JobContext) {
    const ai = this.infra.ai;
    if (!ai || !(await this.vectors())) return;
    const stale = await this.infra.systemDb
      .select({ id: knowledgeDocuments.id, clinicId: knowledgeDocuments.clinicId })
      .from(knowledgeDocuments)
      .where(
        and(
          eq(knowledgeDocuments.status, 'ready'),
          lt(knowledgeDocuments.indexedAt, new Date(Date.now() - REEMBED_GRACE_MS)),
          or(isNull(knowledgeDocuments.embeddingModel), ne(knowledgeDocuments.embeddingModel, ai.embeddingModel), ne(knowledgeDocuments.embeddingDimensions, ai.dimensions)),
        ),
      )
      .orderBy(sql`${knowledgeDocuments.updatedAt}`)
      .limit(REEMBED_BATCH);
    for (const doc of stale) {
      await new ClinicData(doc.clinicId, this.infra.db).transaction(async (data, tx) => {
        const row = await requeue(data, doc.id);
        if (row) await this.infra.events.publish(tx, 'knowledge_document.updated', documentEvent(row), { clinicId: doc.clinicId });
      });
    }
    if (stale.length) ctx.log.info({ documents: stale.length, model: ai.embeddingModel }, 'knowledge documents queued to re-embed');
  }
}
