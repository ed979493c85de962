import { desc, eq, inArray, sql, type SQL } from 'drizzle-orm';
import type { KnowledgeSearchInput } from '../../../shared/api/knowledge.js';
import { knowledgeChunks, knowledgeDocuments } from '../../../shared/schema/index.js';
import { ClinicData } from '../../infra/clinic-data.js';
import type { AiProvider } from '../../infra/ai.js';
import type { Infra } from '../../infra/index.js';
import type { Logger } from '../../infra/logger.js';
import { ftsQuery, tuneVectorScan, vectorLiteral } from './chunks.js';
import type { KnowledgeService } from './service.js';

/** Reciprocal rank fusion's constant (Cormack et al.): a hit's score is the sum of 1 / (60 + rank) over the lists. */
const RRF_K = 60;
/** Candidates taken from each list before fusing. */
const candidatesFor = (k: number) => Math.max(40, k * 4);
/** Up to this many embedded chunks in scope, an exact scan (a few milliseconds here) instead of the index. */
export const EXACT_SCAN_MAX = 2_000;

export interface SearchHit {
  chunkId: string;
  score: number;
  document: { id: string; title: string; knowledgeBaseId: string };
  position: number;
  heading: string | null;
  text: string;
}

/**
 * Hybrid search over a clinic's chunks: the Portuguese full-text list (accent-insensitive) and,
 * where vectors exist, the nearest chunks by cosine (HNSW), fused by reciprocal rank. Without a
 * provider, without pgvector, or when the provider fails for the query, full text alone.
 */
export class KnowledgeSearch {
  constructor(
    private readonly infra: Infra,
    private readonly knowledge: KnowledgeService,
    private readonly vectors: () => Promise<boolean>,
    /** Tests pass 0 to take the index path on a few chunks. */
    private readonly exactScanMax = EXACT_SCAN_MAX,
  ) {}

  async search(clinicId: string, input: KnowledgeSearchInput, log: Logger): Promise<{ mode: 'hybrid' | 'full_text'; hits: SearchHit[] }> {
    if (input.knowledgeBaseIds) await this.knowledge.assertBases(clinicId, input.knowledgeBaseIds);
    const data = new ClinicData(clinicId, this.infra.db);
    const scope = input.knowledgeBaseIds ? inArray(knowledgeChunks.knowledgeBaseId, input.knowledgeBaseIds) : undefined;
    const n = candidatesFor(input.k);
    const queryVector = await this.queryVector(input.query, log);
    // One after the other: PGlite has a single connection, and each query is a few milliseconds.
    const fullText = await this.fullText(data, input.query, scope, n);
    const nearest = queryVector ? await this.nearest(data, queryVector, input.knowledgeBaseIds, n) : undefined;
    const fused = new Map<string, number>();
    for (const list of [fullText, nearest ?? []]) list.forEach((id, rank) => fused.set(id, (fused.get(id) ?? 0) + 1 / (RRF_K + rank + 1)));
    const top = [...fused.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, input.k);
    return { mode: nearest ? 'hybrid' : 'full_text', hits: await this.hits(data, top) };
  }

  /** The query's vector, or undefined to search full text alone (logged when the provider fails). */
  private async queryVector(query: string, log: Logger): Promise<number[] | undefined> {
    const ai = this.infra.ai;
    if (!ai || !(await this.vectors())) return undefined;
    try {
      const [vector] = await ai.embed([query]);
      return vector;
    } catch (err) {
      log.warn({ err: { name: (err as Error).name, status: (err as { status?: number }).status } }, 'query embedding failed: full-text search only');
      return undefined;
    }
  }

  /** Passages holding all the words first, then (when fewer than `n`) those holding any, each by ts_rank_cd. */
  private async fullText(data: ClinicData, query: string, scope: SQL | undefined, n: number) {
    const ranked = async (loose: boolean, limit: number) => {
      const tsq = ftsQuery(query, loose);
      const rank = sql<number>`ts_rank_cd(${knowledgeChunks.search}, ${tsq})`;
      const rows = await data
        .pick({ id: knowledgeChunks.id, rank }, knowledgeChunks, sql`${knowledgeChunks.search} @@ ${tsq}`, scope)
        .orderBy(desc(rank), knowledgeChunks.id)
        .limit(limit);
      return rows.map((r) => r.id);
    };
    const all = await ranked(false, n);
    if (all.length >= n) return all;
    const any = await ranked(true, n);
    return [...new Set([...all, ...any])].slice(0, n);
  }

  /**
   * Top `n` by cosine distance among chunks embedded with the current model. A scope of up to
   * EXACT_SCAN_MAX such chunks is scanned exactly (recall 1, and faster than the graph at that
   * size); a larger one always walks the HNSW index (`tuneVectorScan`): the planner prices the
   * distance of two 1536-dimension vectors like an integer comparison, so with a wider candidate
   * list it chose an exact scan and sort instead (1.7 s at 100,000 chunks). bench/rag-search.ts measures it.
   */
  async nearest(data: ClinicData, vector: number[], knowledgeBaseIds: string[] | undefined, n: number) {
    const ai = this.infra.ai;
    if (!ai) return undefined;
    const exact = (await this.embeddedChunks(data, ai, knowledgeBaseIds)) <= this.exactScanMax;
    // Literal dimension: the partial index's predicate and cast must match the query's text; the
    // plain column (no cast) is what keeps the exact scan off the index.
    const dims = sql.raw(String(ai.dimensions));
    const column = sql.raw('"knowledge_chunks"."embedding"');
    const distance = exact
      ? sql<number>`(${column} <=> ${vectorLiteral(vector)}::vector)`
      : sql<number>`(${column}::vector(${dims}) <=> ${vectorLiteral(vector)}::vector(${dims}))`;
    const scope = knowledgeBaseIds ? inArray(knowledgeChunks.knowledgeBaseId, knowledgeBaseIds) : undefined;
    return data.transaction(async (tx, t) => {
      if (!exact) await tuneVectorScan(t, n);
      const rows = await tx
        .pick({ id: knowledgeChunks.id, distance }, knowledgeChunks, sql`vector_dims(${column}) = ${dims}`, scope)
        .innerJoin(knowledgeDocuments, tx.owns(knowledgeDocuments, eq(knowledgeDocuments.id, knowledgeChunks.documentId), eq(knowledgeDocuments.embeddingModel, ai.embeddingModel)))
        .orderBy(distance)
        .limit(n);
      // Iterative scans return in relaxed order: sort by the distance itself (ties by id, as both paths agree).
      return rows.sort((a, b) => Number(a.distance) - Number(b.distance) || a.id.localeCompare(b.id)).map((r) => r.id);
    });
  }

  /** Chunks in scope embedded with the current model, as their documents count them (one small read). */
  private async embeddedChunks(data: ClinicData, ai: AiProvider, knowledgeBaseIds: string[] | undefined): Promise<number> {
    const [row] = await data.pick(
      { chunks: sql<number>`coalesce(sum(${knowledgeDocuments.chunkCount}), 0)`.mapWith(Number) },
      knowledgeDocuments,
      eq(knowledgeDocuments.embeddingModel, ai.embeddingModel),
      eq(knowledgeDocuments.embeddingDimensions, ai.dimensions),
      knowledgeBaseIds ? inArray(knowledgeDocuments.knowledgeBaseId, knowledgeBaseIds) : undefined,
    );
    return row?.chunks ?? 0;
  }

  private async hits(data: ClinicData, top: [string, number][]): Promise<SearchHit[]> {
    if (top.length === 0) return [];
    const rows = await data
      .pick(
        { chunkId: knowledgeChunks.id, position: knowledgeChunks.position, heading: knowledgeChunks.heading, text: knowledgeChunks.text, documentId: knowledgeDocuments.id, title: knowledgeDocuments.title, knowledgeBaseId: knowledgeDocuments.knowledgeBaseId },
        knowledgeChunks,
        inArray(
          knowledgeChunks.id,
          top.map(([id]) => id),
        ),
      )
      .innerJoin(knowledgeDocuments, data.owns(knowledgeDocuments, eq(knowledgeDocuments.id, knowledgeChunks.documentId)));
    const byId = new Map(rows.map((r) => [r.chunkId, r]));
    return top.flatMap(([id, score]) => {
      const r = byId.get(id);
      return r ? [{ chunkId: id, score: Math.round(score * 1e6) / 1e6, document: { id: r.documentId, title: r.title, knowledgeBaseId: r.knowledgeBaseId }, position: r.position, heading: r.heading, text: r.text }] : [];
    });
  }
}
