-- Calendar subscription links: see the Postgres migration of the same number. Times are
-- RFC 3339 text, as elsewhere in this backend.
CREATE TABLE calendar_links (
    digest     BLOB PRIMARY KEY CHECK (length(digest) = 32),
    id         TEXT NOT NULL UNIQUE,
    tenant_id  TEXT NOT NULL,
    owner      TEXT NOT NULL,
    role       TEXT NOT NULL CHECK (role IN ('guardian', 'student', 'teacher')),
    whose_kind TEXT NOT NULL CHECK (whose_kind IN ('student', 'teacher')),
    whose_id   TEXT NOT NULL,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
) STRICT;
CREATE INDEX calendar_links_by_owner ON calendar_links (tenant_id, owner);
