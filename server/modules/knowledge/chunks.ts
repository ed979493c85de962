import { sql, type SQL } from 'drizzle-orm';
import { knowledgeChunks } from '../../../shared/schema/index.js';
import type { ClinicData } from '../../infra/clinic-data.js';
import { rowsOf, type Db, type Tx } from '../../infra/db.js';
import type { Chunk } from './split.js';

/**
 * The SQL of the chunk table that drizzle cannot say: the full-text vector and the `embedding`
 * column, which exists only where the pgvector extension does (migrations/*_knowledge_vector.sql)
 * and so is not in the drizzle schema. Every statement carries the clinic filter of ClinicData.
 */

/** Whether this database has the vector column (pgvector installed when it was migrated). */
export async function hasVectorColumn(db: Db): Promise<boolean> {
  const rows = rowsOf<{ ok: number }>(
    await db.execute(sql`select 1 as ok from information_schema.columns where table_schema = current_schema() and table_name = 'knowledge_chunks' and column_name = 'embedding'`),
  );
  return rows.length > 0;
}

/** Accent-insensitive Portuguese full text of a chunk; the query side uses `ftsQuery`. */
export const ftsDocument = (heading: string | null, text: string): SQL => sql`to_tsvector('portuguese', unaccent(${`${heading ?? ''}\n${text}`}))`;

/**
 * The user's words as websearch_to_tsquery reads them (quotes for phrases, `-` to exclude): all
 * of them (`strict`), or any of them, a question's words being rarely all in one passage. Search
 * asks the strict form first (few rows to rank) and the loose one only when that is not enough.
 * A query with an exclusion stays strict.
 */
export const ftsQuery = (query: string, loose: boolean): SQL => {
  const strict = sql`websearch_to_tsquery('portuguese', unaccent(${query}))`;
  return loose ? sql`(case when strpos(${strict}::text, '!') > 0 then ${strict} else replace(${strict}::text, ' & ', ' | ')::tsquery end)` : strict;
};

/** pgvector's text form of a vector. */
export const vectorLiteral = (v: readonly number[]) => `[${v.join(',')}]`;

const INSERT_BATCH = 200;

/** Inserts a document's chunks (with their vectors when given), inside the caller's transaction. */
export async function insertChunks(
  data: ClinicData,
  tx: Tx,
  doc: { id: string; knowledgeBaseId: string },
  chunks: readonly Chunk[],
  vectors: readonly number[][] | undefined,
) {
  for (let start = 0; start < chunks.length; start += INSERT_BATCH) {
    const batch = chunks.slice(start, start + INSERT_BATCH);
    const inserted = await data
      .insert(
        knowledgeChunks,
        batch.map((c) => ({ documentId: doc.id, knowledgeBaseId: doc.knowledgeBaseId, position: c.position, heading: c.heading, text: c.text, search: ftsDocument(c.heading, c.text) })),
      )
      .returning({ id: knowledgeChunks.id, position: knowledgeChunks.position });
    if (!vectors) continue;
    const rows = inserted.map((r) => ({ id: r.id, e: vectorLiteral(vectors[r.position] ?? []) }));
    await tx.execute(sql`update ${knowledgeChunks} set embedding = v.e::vector
      from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) as v(id uuid, e text)
      where ${data.owns(knowledgeChunks, sql`${knowledgeChunks.id} = v.id`)}`);
  }
}

/**
 * The search's session settings for the HNSW scan: a candidate list of twice `n` (80 for k = 10:
 * with the index of migration 0023 a wider one buys no recall, bench/rag-search.ts), iterative
 * scans (pgvector 0.8) so filters do not starve it, and no sort: the only plan left for the
 * ORDER BY is the index. The planner costs a 1536-dimension distance like an integer comparison,
 * so it finds an exact scan and sort of every chunk cheaper than the index (which it costs by
 * `ef_search`), and took it at 160 (1.7 s at 100,000 chunks instead of 10 ms). Transaction-local.
 */
export async function tuneVectorScan(tx: Tx, n: number) {
  await tx.execute(
    sql`select set_config('hnsw.ef_search', ${String(Math.max(40, Math.min(1000, n * 2)))}, true), set_config('hnsw.iterative_scan', 'relaxed_order', true), set_config('enable_sort', 'off', true)`,
  );
}
