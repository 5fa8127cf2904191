-- Pulls by tag the registry reports (pulled_at exists since 0006) and, for an index, each
-- platform's image size as JSON ([{"platform", "digest", "size"}]).
ALTER TABLE tags ADD COLUMN pull_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tags ADD COLUMN platform_sizes TEXT;
