-- Vectors for knowledge search, only where the pgvector extension exists (Supabase, PGlite, a
-- Postgres with pgvector installed). Elsewhere nothing is created and search runs on full text
-- alone; /api/health/ready reports `knowledge.vector: false`. Installing pgvector later: run this
-- block again by hand (docs/knowledge.md).
-- The column has no fixed dimension, so a model change needs no migration; the HNSW index (cosine)
-- covers the vectors of the default dimension, 1536, through a cast and a partial predicate.
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'vector') THEN
    BEGIN
      CREATE EXTENSION IF NOT EXISTS vector;
    EXCEPTION WHEN insufficient_privilege THEN
      RAISE NOTICE 'pgvector is available but this role cannot create it: knowledge search runs on full text';
    END;
  END IF;
  IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'vector') THEN
    ALTER TABLE "knowledge_chunks" ADD COLUMN IF NOT EXISTS "embedding" vector;
    CREATE INDEX IF NOT EXISTS "knowledge_chunks_embedding_1536_idx" ON "knowledge_chunks"
      USING hnsw (("embedding"::vector(1536)) vector_cosine_ops) WHERE vector_dims("embedding") = 1536;
    -- Without statistics on the predicate the planner guesses 0.5 % of rows match it, prefers a
    -- scan and a sort, and a 10,000-chunk search takes 400 ms instead of 1 ms (bench/rag-search.ts).
    CREATE STATISTICS IF NOT EXISTS "knowledge_chunks_embedding_dims_stats" ON (vector_dims("embedding")) FROM "knowledge_chunks";
  END IF;
END
$$;
