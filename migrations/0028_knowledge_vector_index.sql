-- The HNSW index of 0021 rebuilt with a denser graph: m = 24 links per node (16 by default) and a
-- build candidate list of 128 (64). With the defaults, passages that form tight groups (one
-- topic's chunks) were linked almost only among themselves, and some groups were unreachable
-- from the entry point: recall@10 0.91 to 0.95 at 100,000 chunks, whatever ef_search the query
-- used; with these, 0.995 (bench/rag-search.ts, docs/knowledge.md). Only where pgvector exists.
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'vector') THEN
    DROP INDEX IF EXISTS "knowledge_chunks_embedding_1536_idx";
    CREATE INDEX "knowledge_chunks_embedding_1536_idx" ON "knowledge_chunks"
      USING hnsw (("embedding"::vector(1536)) vector_cosine_ops) WITH (m = 24, ef_construction = 128)
      WHERE vector_dims("embedding") = 1536;
  END IF;
END
$$;
