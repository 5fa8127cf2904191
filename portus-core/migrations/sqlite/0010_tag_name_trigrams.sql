-- Searching tag names for a text anywhere in them: a trigram index (FTS5 over the `tags` rows,
-- kept by triggers) finds the few tags whose names hold the text's trigrams, where a LIKE alone
-- reads every tag's name. The search still applies its exact LIKE to the rows this returns.
CREATE VIRTUAL TABLE tag_name_trigrams USING fts5 (
    name,
    tokenize = 'trigram',
    content = 'tags',
    content_rowid = 'id'
);
INSERT INTO tag_name_trigrams (tag_name_trigrams) VALUES ('rebuild');

CREATE TRIGGER tag_name_trigrams_insert AFTER INSERT ON tags BEGIN
    INSERT INTO tag_name_trigrams (rowid, name) VALUES (new.id, new.name);
END;

-- Also fired by the cascade of a repository's deletion.
CREATE TRIGGER tag_name_trigrams_delete AFTER DELETE ON tags BEGIN
    INSERT INTO tag_name_trigrams (tag_name_trigrams, rowid, name) VALUES ('delete', old.id, old.name);
END;

CREATE TRIGGER tag_name_trigrams_rename AFTER UPDATE OF name ON tags BEGIN
    INSERT INTO tag_name_trigrams (tag_name_trigrams, rowid, name) VALUES ('delete', old.id, old.name);
    INSERT INTO tag_name_trigrams (rowid, name) VALUES (new.id, new.name);
END;
