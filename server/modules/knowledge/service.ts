import { randomUUID } from 'node:crypto';
import { desc, eq, inArray, sql } from 'drizzle-orm';
import type { KnowledgeDocumentEvent } from '../../../shared/api/events.js';
import { knowledgeBases, knowledgeDocuments, type KnowledgeSource } from '../../../shared/schema/index.js';
import { ClinicData } from '../../infra/clinic-data.js';
import type { Tx } from '../../infra/db.js';
import type { EventMeta } from '../../infra/outbox.js';
import type { Infra } from '../../infra/index.js';
import { actorUserId, type TenantContext } from '../../http/context.js';
import { afterCursor, page } from '../../lib/cursor.js';
import { badRequest, notFound } from '../../lib/errors.js';
import type { AuditService } from '../audit/service.js';

export const documentColumns = {
  id: knowledgeDocuments.id,
  knowledgeBaseId: knowledgeDocuments.knowledgeBaseId,
  title: knowledgeDocuments.title,
  sourceType: knowledgeDocuments.sourceType,
  sourceUrl: knowledgeDocuments.sourceUrl,
  filename: knowledgeDocuments.filename,
  sizeBytes: knowledgeDocuments.sizeBytes,
  status: knowledgeDocuments.status,
  failureReason: knowledgeDocuments.failureReason,
  failureMessage: knowledgeDocuments.failureMessage,
  pages: knowledgeDocuments.pages,
  chunkCount: knowledgeDocuments.chunkCount,
  embeddingModel: knowledgeDocuments.embeddingModel,
  embeddingDimensions: knowledgeDocuments.embeddingDimensions,
  indexedAt: knowledgeDocuments.indexedAt,
  createdAt: knowledgeDocuments.createdAt,
  updatedAt: knowledgeDocuments.updatedAt,
};

const baseColumns = {
  id: knowledgeBases.id,
  name: knowledgeBases.name,
  description: knowledgeBases.description,
  createdAt: knowledgeBases.createdAt,
  updatedAt: knowledgeBases.updatedAt,
};

/** A new document's source, as the route parsed it. */
export type DocumentSource =
  | { type: 'text' | 'markdown'; title: string; content: string }
  | { type: 'url'; title: string; url: string }
  | { type: KnowledgeSource; title: string; file: { originalname: string; buffer: Buffer; mimetype: string } };

const storageKeyOf = (clinicId: string, id: string) => `${clinicId}/knowledge/${id}`;

/** The document's state for sockets and subscribers (also what enqueues its ingestion). */
export const documentEvent = (d: { id: string; knowledgeBaseId: string; status: KnowledgeDocumentEvent['status']; failureReason: string | null; chunkCount: number; revision: number }): KnowledgeDocumentEvent => ({
  id: d.id,
  knowledgeBaseId: d.knowledgeBaseId,
  status: d.status,
  failureReason: d.failureReason,
  chunkCount: d.chunkCount,
  revision: d.revision,
});

/** Knowledge bases and their documents. Ingestion is the `knowledge.ingest` job (ingest.ts), search is search.ts. */
export class KnowledgeService {
  constructor(
    private readonly infra: Infra,
    private readonly audit: AuditService,
  ) {}

  private data(clinicId: string) {
    return new ClinicData(clinicId, this.infra.db);
  }

  async listBases(ctx: TenantContext) {
    const data = this.data(ctx.clinicId);
    const documentCount = sql<number>`(select count(*)::int from ${knowledgeDocuments} where ${data.owns(knowledgeDocuments, eq(knowledgeDocuments.knowledgeBaseId, knowledgeBases.id))})`;
    const items = await data.pick({ ...baseColumns, documentCount }, knowledgeBases).orderBy(knowledgeBases.name, knowledgeBases.id);
    return { items, nextCursor: null };
  }

  async getBase(clinicId: string, id: string) {
    const [row] = await this.data(clinicId).pick(baseColumns, knowledgeBases, eq(knowledgeBases.id, id));
    if (!row) throw notFound('Knowledge base');
    return row;
  }

  /** Throws 404 unless every id is a knowledge base of the clinic. */
  async assertBases(clinicId: string, ids: readonly string[]) {
    const unique = [...new Set(ids)];
    const rows = await this.data(clinicId).pick({ id: knowledgeBases.id }, knowledgeBases, inArray(knowledgeBases.id, unique));
    if (rows.length !== unique.length) throw notFound('Knowledge base');
  }

  async createBase(ctx: TenantContext, input: { name: string; description?: string | null }) {
    return this.data(ctx.clinicId).transaction(async (data, tx) => {
      const [row] = await data.insert(knowledgeBases, { name: input.name, description: input.description ?? null, createdBy: actorUserId(ctx) }).returning(baseColumns);
      if (!row) throw new Error('insert returned nothing');
      await this.audit.record(ctx, { action: 'knowledge_base.created', entityType: 'knowledge_base', entityId: row.id }, tx);
      return { ...row, documentCount: 0 };
    });
  }

  async updateBase(ctx: TenantContext, id: string, patch: { name?: string; description?: string | null }) {
    await this.getBase(ctx.clinicId, id);
    await this.data(ctx.clinicId).transaction(async (data, tx) => {
      await data.update(knowledgeBases, { ...patch, updatedAt: new Date() }, eq(knowledgeBases.id, id));
      await this.audit.record(ctx, { action: 'knowledge_base.updated', entityType: 'knowledge_base', entityId: id, details: { fields: Object.keys(patch) } }, tx);
    });
    const [base] = (await this.listBases(ctx)).items.filter((b) => b.id === id);
    return base;
  }

  /** Deletes the base with its documents and chunks (cascade), then the stored files. */
  async deleteBase(ctx: TenantContext, id: string) {
    await this.getBase(ctx.clinicId, id);
    const docs = await this.data(ctx.clinicId).transaction(async (data, tx) => {
      const removed = await data.pick({ id: knowledgeDocuments.id, storageKey: knowledgeDocuments.storageKey, revision: knowledgeDocuments.revision }, knowledgeDocuments, eq(knowledgeDocuments.knowledgeBaseId, id));
      await data.delete(knowledgeBases, eq(knowledgeBases.id, id));
      await this.audit.record(ctx, { action: 'knowledge_base.deleted', entityType: 'knowledge_base', entityId: id, details: { documents: removed.length } }, tx);
      for (const d of removed) await this.publish(tx, ctx, { ...d, knowledgeBaseId: id, status: 'deleted', failureReason: null, chunkCount: 0 });
      return removed;
    });
    await Promise.all(docs.flatMap((d) => (d.storageKey ? [this.infra.storage.delete(d.storageKey).catch(() => undefined)] : [])));
  }

  async addDocument(ctx: TenantContext, knowledgeBaseId: string, source: DocumentSource) {
    await this.getBase(ctx.clinicId, knowledgeBaseId);
    const id = randomUUID();
    let values: { content?: string; sourceUrl?: string; storageKey?: string; filename?: string; sizeBytes: number };
    if ('content' in source) values = { content: source.content, sizeBytes: Buffer.byteLength(source.content) };
    else if ('url' in source) values = { sourceUrl: source.url, sizeBytes: 0 };
    else {
      if (source.file.buffer.length === 0) throw badRequest('empty_document', 'The file is empty');
      const storageKey = storageKeyOf(ctx.clinicId, id);
      await this.infra.storage.put(storageKey, source.file.buffer, source.file.mimetype);
      values = { storageKey, filename: source.file.originalname.replace(/[\\/\r\n"]/g, '_').slice(0, 200), sizeBytes: source.file.buffer.length };
    }
    return this.data(ctx.clinicId).transaction(async (data, tx) => {
      const [row] = await data
        .insert(knowledgeDocuments, { id, knowledgeBaseId, title: source.title, sourceType: source.type, createdBy: actorUserId(ctx), ...values })
        .returning(documentColumns);
      if (!row) throw new Error('insert returned nothing');
      await this.audit.record(ctx, { action: 'knowledge_document.created', entityType: 'knowledge_document', entityId: id, details: { sourceType: source.type, sizeBytes: values.sizeBytes } }, tx);
      await this.publish(tx, ctx, { ...row, revision: 1 });
      return row;
    });
  }

  async listDocuments(ctx: TenantContext, knowledgeBaseId: string, q: { limit: number; cursor?: string }) {
    await this.getBase(ctx.clinicId, knowledgeBaseId);
    const rows = await this.data(ctx.clinicId)
      .pick(documentColumns, knowledgeDocuments, eq(knowledgeDocuments.knowledgeBaseId, knowledgeBaseId), afterCursor(knowledgeDocuments.createdAt, knowledgeDocuments.id, q.cursor))
      .orderBy(desc(knowledgeDocuments.createdAt), desc(knowledgeDocuments.id))
      .limit(q.limit + 1);
    return page(rows, q.limit);
  }

  async getDocument(clinicId: string, id: string) {
    const [row] = await this.data(clinicId).pick({ ...documentColumns, revision: knowledgeDocuments.revision, storageKey: knowledgeDocuments.storageKey }, knowledgeDocuments, eq(knowledgeDocuments.id, id));
    if (!row) throw notFound('Document');
    return row;
  }

  async deleteDocument(ctx: TenantContext, id: string) {
    const doc = await this.getDocument(ctx.clinicId, id);
    await this.data(ctx.clinicId).transaction(async (data, tx) => {
      await data.delete(knowledgeDocuments, eq(knowledgeDocuments.id, id));
      await this.audit.record(ctx, { action: 'knowledge_document.deleted', entityType: 'knowledge_document', entityId: id }, tx);
      await this.publish(tx, ctx, { ...doc, status: 'deleted', chunkCount: 0 });
    });
    if (doc.storageKey) await this.infra.storage.delete(doc.storageKey).catch(() => undefined);
  }

  /** Queues a new ingestion; the chunks of before stay searchable until the new ones replace them. */
  async reindex(ctx: TenantContext, id: string) {
    await this.getDocument(ctx.clinicId, id);
    return this.data(ctx.clinicId).transaction(async (data, tx) => {
      const row = await requeue(data, id);
      if (!row) throw notFound('Document');
      await this.audit.record(ctx, { action: 'knowledge_document.reindexed', entityType: 'knowledge_document', entityId: id }, tx);
      await this.publish(tx, ctx, row);
      const { revision: _r, ...visible } = row;
      return visible;
    });
  }

  private publish(tx: Tx, meta: EventMeta, d: Parameters<typeof documentEvent>[0]) {
    return this.infra.events.publish(tx, 'knowledge_document.updated', documentEvent(d), meta);
  }
}

/** Marks a document queued under a new revision (reindex, model change); undefined when it is gone. */
export async function requeue(data: ClinicData, id: string) {
  const [row] = await data
    .update(
      knowledgeDocuments,
      { status: 'queued', failureReason: null, failureMessage: null, revision: sql`${knowledgeDocuments.revision} + 1`, updatedAt: new Date() },
      eq(knowledgeDocuments.id, id),
    )
    .returning({ ...documentColumns, revision: knowledgeDocuments.revision });
  return row;
}
