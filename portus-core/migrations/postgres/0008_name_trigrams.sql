-- Searching tag names for a text anywhere in them: a trigram index (the pg_trgm extension,
-- shipped with PostgreSQL and allowed to a database's owner) finds the few tags whose names hold
-- the text's trigrams, where ILIKE alone reads every name. It indexes `lower(name)`, an
-- expression only the search's own candidate query spells: the planner would otherwise also
-- pick it for texts too short to have trigrams and recheck every row. Where the extension
-- cannot be installed, searches still work and read every name.
DO $$
BEGIN
    CREATE EXTENSION IF NOT EXISTS pg_trgm;
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE 'pg_trgm is not available (%): tag name searches will read every name', SQLERRM;
END
$$;

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN
        CREATE INDEX tags_by_name_trigrams ON tags USING gin (lower(name) gin_trgm_ops);
    END IF;
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE 'no trigram index (%): tag name searches will read every name', SQLERRM;
END
$$;
