import type { Infra } from '../../infra/index.js';
import { defineJob } from '../../infra/queue.js';
import type { AuditService } from '../audit/service.js';
import { defineSubscriber, type Module } from '../module.js';
import { hasVectorColumn } from './chunks.js';
import { INGEST_ATTEMPTS, Ingestion } from './ingest.js';
import { knowledgeRoutes } from './routes.js';
import { KnowledgeSearch } from './search.js';
import { KnowledgeService } from './service.js';

/** Looks for stale embeddings (a model change) this often, once per cluster. */
const REEMBED_EVERY_MS = 10 * 60_000;

/** Knowledge bases for the assistant: documents ingested by a job, hybrid search (docs/knowledge.md). */
export function knowledgeModule(infra: Infra, deps: { audit: AuditService }): Module<{ knowledge: KnowledgeService; knowledgeSearch: KnowledgeSearch }> {
  // Asked once per process: the column exists only where pgvector did when the database was migrated.
  let vectorColumn: Promise<boolean> | undefined;
  const vectors = () => (vectorColumn ??= hasVectorColumn(infra.db));
  const knowledge = new KnowledgeService(infra, deps.audit);
  const knowledgeSearch = new KnowledgeSearch(infra, knowledge, vectors);
  const ingestion = new Ingestion(infra, vectors);
  return {
    name: 'knowledge',
    services: { knowledge, knowledgeSearch },
    routes: knowledgeRoutes(knowledge, knowledgeSearch),
    jobs: [
      defineJob({ name: 'knowledge.ingest', queue: 'ai', attempts: INGEST_ATTEMPTS, handler: (data, job) => ingestion.run(data, job) }),
      defineJob({ name: 'knowledge.reembed', queue: 'ai', everyMs: REEMBED_EVERY_MS, handler: (_data, job) => ingestion.reembedStale(job) }),
    ],
    subscribers: [
      // A queued revision gets its ingestion job; the job id makes a redelivered event a no-op.
      defineSubscriber({
        name: 'knowledge-ingest',
        events: ['knowledge_document.updated'],
        handle: async (event) => {
          const { id, status, revision } = event.payload;
          if (status !== 'queued') return;
          await infra.queue.add('knowledge.ingest', { documentId: id, revision }, { jobId: `knowledge-ingest-${id}-${revision}`, context: { clinicId: event.clinicId, requestId: event.requestId } });
        },
      }),
    ],
  };
}
