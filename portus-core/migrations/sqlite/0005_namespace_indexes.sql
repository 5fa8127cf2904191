-- The shared SQL spells the condition `NOT global` (PostgreSQL's booleans); SQLite only uses a
-- partial index when the query implies its WHERE clause, and `NOT global` does not imply
-- `global = 0`: namespace lookups by name were full scans. Same indexes, same spelling.
DROP INDEX namespaces_by_name;
CREATE UNIQUE INDEX namespaces_by_name ON namespaces (name) WHERE NOT global;
DROP INDEX namespaces_one_global;
CREATE UNIQUE INDEX namespaces_one_global ON namespaces (global) WHERE global;
