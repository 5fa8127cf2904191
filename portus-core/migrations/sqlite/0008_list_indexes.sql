-- Indexes for the lists the stores page through (ORDER BY key, id LIMIT/OFFSET, and COUNT(*)
-- under the same filter): each serves one list's filter and order, so a page reads its own
-- rows and a count reads an index. Lists ordered by a unique name or the id use the indexes
-- that were already there.

-- Users by creation time (`sort_attr=created_at`).
CREATE INDEX users_by_created_at ON users (created_at, id);

-- Listed teams are the visible ones (`hidden = FALSE`), by name or by id.
CREATE INDEX teams_listed ON teams (hidden, name, id);
CREATE INDEX teams_by_hidden ON teams (hidden, id);

-- A user's teams (a non-administrator's team list, every API caller's memberships) straight
-- from the index, without visiting the table.
DROP INDEX team_members_by_user;
CREATE INDEX team_members_by_user ON team_members (user_id, team_id);

-- Namespaces in list order (the global one first, then by name), a team's namespaces, and
-- one index per alternative of the visibility rule (visibility, the global one, the team).
CREATE INDEX namespaces_listed ON namespaces (global DESC, name, id);
CREATE INDEX namespaces_by_team ON namespaces (team_id);
CREATE INDEX namespaces_by_visibility ON namespaces (visibility);

-- A user's application tokens in creation order.
CREATE INDEX app_tokens_by_user ON app_tokens (user_id, id);

-- Activities by time (`sort_attr=at`, `since`).
CREATE INDEX activities_by_time ON activities (at, id);

-- A repository's comments by time.
CREATE INDEX comments_by_repository_time ON comments (repository_id, created_at, id);
