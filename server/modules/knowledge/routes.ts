import { z } from 'zod';
import {
  KNOWLEDGE_LIMITS,
  knowledgeBaseInput,
  knowledgeBasePatch,
  knowledgeBaseResponse,
  knowledgeDocumentInput,
  knowledgeDocumentResponse,
  knowledgeSearchInput,
  knowledgeSearchResponse,
  knowledgeUploadFields,
} from '../../../shared/api/knowledge.js';
import type { KnowledgeSource } from '../../../shared/schema/index.js';
import { listOf, listQuery, route, uuidParam } from '../../http/route.js';
import { AppError, badRequest } from '../../lib/errors.js';
import type { DocumentSource, KnowledgeService } from './service.js';
import type { KnowledgeSearch } from './search.js';

const tag = 'Knowledge';
const MB = 1024 * 1024;
const DOCX = 'application/vnd.openxmlformats-officedocument.wordprocessingml.document';
const FILE_TYPES: Record<string, KnowledgeSource> = {
  'application/pdf': 'pdf',
  [DOCX]: 'docx',
  'text/markdown': 'markdown',
  'text/x-markdown': 'markdown',
  'text/plain': 'text',
};

/** A file's source type: its MIME type, a `.md` name sent as plain text counting as Markdown. */
const fileSource = (mimetype: string, name: string): KnowledgeSource => {
  const type = FILE_TYPES[mimetype] ?? 'text';
  return type === 'text' && /\.(md|markdown)$/i.test(name) ? 'markdown' : type;
};

export const knowledgeRoutes = (knowledge: KnowledgeService, search: KnowledgeSearch) => [
  route({
    method: 'get',
    path: '/rag/knowledge-bases',
    summary: 'List the clinic\'s knowledge bases',
    tag,
    access: 'knowledge:read',
    response: listOf(knowledgeBaseResponse),
    handler: async ({ ctx }) => knowledge.listBases(ctx),
  }),
  route({
    method: 'post',
    path: '/rag/knowledge-bases',
    summary: 'Create a knowledge base',
    tag,
    access: 'knowledge:manage',
    status: 201,
    schemas: { body: knowledgeBaseInput },
    response: knowledgeBaseResponse,
    handler: async ({ ctx, body }) => knowledge.createBase(ctx, body),
  }),
  route({
    method: 'patch',
    path: '/rag/knowledge-bases/:id',
    summary: 'Rename or describe a knowledge base',
    tag,
    access: 'knowledge:manage',
    schemas: { params: uuidParam, body: knowledgeBasePatch },
    response: knowledgeBaseResponse,
    handler: async ({ ctx, params, body }) => knowledge.updateBase(ctx, params.id, body),
  }),
  route({
    method: 'delete',
    path: '/rag/knowledge-bases/:id',
    summary: 'Delete a knowledge base with its documents',
    tag,
    access: 'knowledge:manage',
    schemas: { params: uuidParam },
    handler: async ({ ctx, params }) => knowledge.deleteBase(ctx, params.id),
  }),
  route({
    method: 'post',
    path: '/rag/knowledge-bases/:id/documents',
    summary: `Add a document: JSON {title, text|markdown|url} (text up to ${KNOWLEDGE_LIMITS.textChars} characters; a URL page up to ${KNOWLEDGE_LIMITS.urlBytes / MB} MB, fetched in ${KNOWLEDGE_LIMITS.urlTimeoutMs / 1000} s) or a multipart "file" (PDF, DOCX, Markdown or text, up to ${KNOWLEDGE_LIMITS.fileBytes / MB} MB, PDFs up to ${KNOWLEDGE_LIMITS.pdfPages} pages). Ingested by a job: status queued, processing, ready or failed`,
    tag,
    access: 'knowledge:manage',
    status: 202,
    schemas: { params: uuidParam, body: knowledgeDocumentInput },
    upload: { field: 'file', maxBytes: KNOWLEDGE_LIMITS.fileBytes, types: Object.keys(FILE_TYPES), orJson: true, fields: knowledgeUploadFields },
    response: knowledgeDocumentResponse,
    handler: async ({ ctx, params, body, req }) => {
      let source: DocumentSource;
      if (req.is('multipart/form-data')) {
        const file = req.file;
        if (!file) throw new AppError(400, 'file_required', 'Send the file in the multipart field "file"');
        const title = (body as z.infer<typeof knowledgeUploadFields>).title ?? file.originalname.replace(/\.[^.]+$/, '').slice(0, 300);
        if (!title.trim()) throw badRequest('validation_failed', 'Send a title');
        source = { type: fileSource(file.mimetype, file.originalname), title, file };
      } else if (body.url !== undefined) source = { type: 'url', title: body.title, url: body.url };
      else source = body.markdown !== undefined ? { type: 'markdown', title: body.title, content: body.markdown } : { type: 'text', title: body.title, content: body.text ?? '' };
      return knowledge.addDocument(ctx, params.id, source);
    },
  }),
  route({
    method: 'get',
    path: '/rag/knowledge-bases/:id/documents',
    summary: 'List the documents of a knowledge base with their ingestion status',
    tag,
    access: 'knowledge:read',
    schemas: { params: uuidParam, query: z.strictObject(listQuery) },
    response: listOf(knowledgeDocumentResponse),
    handler: async ({ ctx, params, query }) => knowledge.listDocuments(ctx, params.id, query),
  }),
  route({
    method: 'delete',
    path: '/rag/documents/:id',
    summary: 'Delete a document and its chunks',
    tag,
    access: 'knowledge:manage',
    schemas: { params: uuidParam },
    handler: async ({ ctx, params }) => knowledge.deleteDocument(ctx, params.id),
  }),
  route({
    method: 'post',
    path: '/rag/documents/:id/reindex',
    summary: 'Extract, split and embed the document again (a URL is fetched again); its chunks stay searchable until replaced',
    tag,
    access: 'knowledge:manage',
    status: 202,
    schemas: { params: uuidParam },
    response: knowledgeDocumentResponse,
    handler: async ({ ctx, params }) => knowledge.reindex(ctx, params.id),
  }),
  route({
    method: 'post',
    path: '/rag/search',
    summary: `Hybrid search (vector and Portuguese full text, fused by reciprocal rank; full text alone without a provider or pgvector). Query up to ${KNOWLEDGE_LIMITS.queryChars} characters, k up to ${KNOWLEDGE_LIMITS.maxK}`,
    tag,
    access: 'knowledge:read',
    schemas: { body: knowledgeSearchInput },
    response: knowledgeSearchResponse,
    handler: async ({ ctx, body, req }) => search.search(ctx.clinicId, body, req.log),
  }),
];
