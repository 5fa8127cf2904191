-- The newest activities a page at a time: a narrow index to step over the ids of the pages
-- before it (the table itself holds every activity's details).
CREATE INDEX activities_by_id ON activities (id);
