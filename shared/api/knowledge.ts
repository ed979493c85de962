import { z } from 'zod';
import { line, text } from './text.js';

/** The limits of knowledge documents and search, stated to clients in the OpenAPI summaries and docs/knowledge.md. */
export const KNOWLEDGE_LIMITS = {
  /** Characters of a text or Markdown document sent as JSON (the JSON body itself is limited to 1 MB). */
  textChars: 500_000,
  /** Bytes of an uploaded file (PDF, DOCX, Markdown, plain text). */
  fileBytes: 10 * 1024 * 1024,
  /** Bytes of a fetched URL and the time it may take. */
  urlBytes: 5 * 1024 * 1024,
  urlTimeoutMs: 15_000,
  /** Characters of text extracted from any source; more is `document_too_large`. */
  extractedChars: 2_000_000,
  pdfPages: 500,
  queryChars: 1000,
  maxK: 50,
  knowledgeBasesPerSearch: 20,
} as const;

const optionalNote = text(2000).trim().optional().nullable();

export const knowledgeBaseInput = z.strictObject({ name: line(200), description: optionalNote });
export const knowledgeBasePatch = z
  .strictObject({ name: line(200).optional(), description: optionalNote })
  .refine((v) => Object.keys(v).length > 0, 'Send at least one field');

/** A document sent as JSON: exactly one of text, markdown or url, with a title. */
export const knowledgeDocumentInput = z
  .strictObject({
    title: line(300),
    text: z.string().trim().min(1).max(KNOWLEDGE_LIMITS.textChars).optional(),
    markdown: z.string().trim().min(1).max(KNOWLEDGE_LIMITS.textChars).optional(),
    url: z.url({ protocol: /^https?$/ }).max(2000).optional(),
  })
  .refine((v) => [v.text, v.markdown, v.url].filter((x) => x !== undefined).length === 1, 'Send exactly one of text, markdown or url');

/** The fields beside the file of a multipart upload. */
export const knowledgeUploadFields = z.strictObject({ title: line(300).optional() });

export const knowledgeSearchInput = z.strictObject({
  query: line(KNOWLEDGE_LIMITS.queryChars),
  knowledgeBaseIds: z.array(z.uuid()).min(1).max(KNOWLEDGE_LIMITS.knowledgeBasesPerSearch).optional(),
  k: z.number().int().min(1).max(KNOWLEDGE_LIMITS.maxK).default(8),
});
export type KnowledgeSearchInput = z.infer<typeof knowledgeSearchInput>;

const isoTime = z.string();

export const knowledgeBaseResponse = z.object({
  id: z.uuid(),
  name: z.string(),
  description: z.string().nullable(),
  documentCount: z.number().int(),
  createdAt: isoTime,
  updatedAt: isoTime,
});

export const knowledgeDocumentResponse = z.object({
  id: z.uuid(),
  knowledgeBaseId: z.uuid(),
  title: z.string(),
  sourceType: z.enum(['text', 'markdown', 'pdf', 'docx', 'url']),
  sourceUrl: z.string().nullable(),
  filename: z.string().nullable(),
  sizeBytes: z.number().int(),
  status: z.enum(['queued', 'processing', 'ready', 'failed']),
  failureReason: z.string().nullable(),
  failureMessage: z.string().nullable(),
  pages: z.number().int().nullable(),
  chunkCount: z.number().int(),
  embeddingModel: z.string().nullable(),
  embeddingDimensions: z.number().int().nullable(),
  indexedAt: isoTime.nullable(),
  createdAt: isoTime,
  updatedAt: isoTime,
});

export const knowledgeSearchResponse = z.object({
  /** `hybrid`: vector and full text fused; `full_text` where vectors are unavailable (no provider, no pgvector, provider down). */
  mode: z.enum(['hybrid', 'full_text']),
  hits: z.array(
    z.object({
      chunkId: z.uuid(),
      score: z.number(),
      document: z.object({ id: z.uuid(), title: z.string(), knowledgeBaseId: z.uuid() }),
      position: z.number().int(),
      heading: z.string().nullable(),
      text: z.string(),
    }),
  ),
});
