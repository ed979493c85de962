-- Accent-insensitive inbox search by message text ("medico" finds "médico"). unaccent() is only
-- STABLE (its dictionary could change), so an index cannot use it: opb_unaccent is the usual
-- IMMUTABLE wrapper, naming the dictionary with its schema (public here and on PGlite,
-- `extensions` on Supabase), found where the extension was installed.
DO $$
DECLARE s text;
BEGIN
  SELECT n.nspname INTO s FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'unaccent';
  EXECUTE format(
    'CREATE OR REPLACE FUNCTION opb_unaccent(text) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT AS $f$ SELECT %I.unaccent(%L::regdictionary, $1) $f$',
    s, s || '.unaccent');
END $$;
--> statement-breakpoint
CREATE INDEX IF NOT EXISTS "messages_text_unaccent_trgm_idx" ON "messages" USING gin (opb_unaccent(lower("text")) gin_trgm_ops);
