import { sql } from 'drizzle-orm';
import { customType, foreignKey, index, integer, pgEnum, pgTable, text, timestamp, unique, uuid } from 'drizzle-orm/pg-core';
import { clinics, users } from './core.js';

const id = () => uuid('id').primaryKey().default(sql`gen_random_uuid()`);
const createdAt = () => timestamp('created_at', { withTimezone: true }).notNull().defaultNow();
const updatedAt = () => timestamp('updated_at', { withTimezone: true }).notNull().defaultNow();

const tsvector = customType<{ data: string }>({ dataType: () => 'tsvector' });

export const knowledgeSourceEnum = pgEnum('knowledge_source', ['text', 'markdown', 'pdf', 'docx', 'url']);
export const knowledgeStatusEnum = pgEnum('knowledge_status', ['queued', 'processing', 'ready', 'failed']);
export type KnowledgeSource = (typeof knowledgeSourceEnum.enumValues)[number];
export type KnowledgeStatus = (typeof knowledgeStatusEnum.enumValues)[number];

/** A clinic's collection of documents the assistant may answer from (prices, addresses, exam preparation). */
export const knowledgeBases = pgTable(
  'knowledge_bases',
  {
    id: id(),
    clinicId: uuid('clinic_id').notNull().references(() => clinics.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    description: text('description'),
    createdBy: uuid('created_by').references(() => users.id, { onDelete: 'set null' }),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [index('knowledge_bases_clinic_idx').on(t.clinicId), unique('knowledge_bases_clinic_id_unique').on(t.clinicId, t.id)],
);

/**
 * One source of a knowledge base. Its bytes: `content` (text, Markdown), a storage object under
 * `storage_key` (uploaded PDF, DOCX, MD, TXT) or `source_url` (fetched again on reindex).
 * `revision` grows on every (re)index request; the ingestion job of an older revision does nothing.
 */
export const knowledgeDocuments = pgTable(
  'knowledge_documents',
  {
    id: id(),
    clinicId: uuid('clinic_id').notNull().references(() => clinics.id, { onDelete: 'cascade' }),
    knowledgeBaseId: uuid('knowledge_base_id').notNull(),
    title: text('title').notNull(),
    sourceType: knowledgeSourceEnum('source_type').notNull(),
    content: text('content'),
    storageKey: text('storage_key'),
    sourceUrl: text('source_url'),
    filename: text('filename'),
    /** Bytes of the source as received (text as UTF-8). */
    sizeBytes: integer('size_bytes').notNull(),
    status: knowledgeStatusEnum('status').notNull().default('queued'),
    /** Machine code of a failure (`pdf_without_text`, `url_blocked`...); `failure_message` says it in Portuguese. */
    failureReason: text('failure_reason'),
    failureMessage: text('failure_message'),
    revision: integer('revision').notNull().default(1),
    pages: integer('pages'),
    chunkCount: integer('chunk_count').notNull().default(0),
    /** Model and dimension of the stored vectors; null when stored for full text only. */
    embeddingModel: text('embedding_model'),
    embeddingDimensions: integer('embedding_dimensions'),
    indexedAt: timestamp('indexed_at', { withTimezone: true }),
    createdBy: uuid('created_by').references(() => users.id, { onDelete: 'set null' }),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    foreignKey({ columns: [t.clinicId, t.knowledgeBaseId], foreignColumns: [knowledgeBases.clinicId, knowledgeBases.id], name: 'knowledge_documents_base_fk' }).onDelete('cascade'),
    index('knowledge_documents_base_idx').on(t.clinicId, t.knowledgeBaseId, t.createdAt),
    index('knowledge_documents_model_idx').on(t.status, t.embeddingModel),
    unique('knowledge_documents_clinic_id_unique').on(t.clinicId, t.id),
  ],
);

/**
 * A passage of a document: its heading path, its text and a Portuguese full-text vector over the
 * unaccented heading and text. The `embedding vector` column is not declared here: the custom
 * migration adds it (with its HNSW index) only where the pgvector extension exists, and queries
 * name it in SQL (server/modules/knowledge/chunks.ts).
 */
export const knowledgeChunks = pgTable(
  'knowledge_chunks',
  {
    id: id(),
    clinicId: uuid('clinic_id').notNull().references(() => clinics.id, { onDelete: 'cascade' }),
    documentId: uuid('document_id').notNull(),
    knowledgeBaseId: uuid('knowledge_base_id').notNull(),
    position: integer('position').notNull(),
    heading: text('heading'),
    text: text('text').notNull(),
    search: tsvector('search').notNull(),
  },
  (t) => [
    foreignKey({ columns: [t.clinicId, t.documentId], foreignColumns: [knowledgeDocuments.clinicId, knowledgeDocuments.id], name: 'knowledge_chunks_document_fk' }).onDelete('cascade'),
    unique('knowledge_chunks_document_position_unique').on(t.documentId, t.position),
    index('knowledge_chunks_clinic_base_idx').on(t.clinicId, t.knowledgeBaseId),
    index('knowledge_chunks_search_idx').using('gin', t.search),
  ],
);
