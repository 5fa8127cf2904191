-- Pages of tags in name order (repository, name, id) and of repositories in name order (name,
-- id), as index-only scans: the unique indexes on (repository_id, name) and (name) lack the id
-- that ends every list order, so PostgreSQL read each row skipped (tags) or sorted the whole
-- table (repositories). SQLite's indexes end with the rowid and need no such twin.
CREATE INDEX tags_listed ON tags (repository_id, name, id);
CREATE INDEX repositories_listed ON repositories (name, id);
