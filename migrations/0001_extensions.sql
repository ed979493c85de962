-- Extensions the schema relies on (drizzle-kit never writes CREATE EXTENSION).
-- btree_gist: exclusion constraints (no double booking); pg_trgm + unaccent: patient search.
CREATE EXTENSION IF NOT EXISTS btree_gist;
--> statement-breakpoint
CREATE EXTENSION IF NOT EXISTS pg_trgm;
--> statement-breakpoint
CREATE EXTENSION IF NOT EXISTS unaccent;
