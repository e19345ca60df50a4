-- Calendar subscription links (`calendarLink`, `GET /calendar/<secret>.ics`): a secret
-- URL a calendar application fetches without a token. Only a keyed digest of the secret
-- is kept (HMAC with the keyring's fingerprint key): the database alone can neither give
-- a link back nor serve a calendar. Revoking a link deletes its row. Whose timetable it
-- shows and who asked for it (and as what) are kept, for the right to be checked again
-- on every fetch.
CREATE TABLE calendar_links (
    digest     BYTEA PRIMARY KEY CHECK (length(digest) = 32),
    id         TEXT NOT NULL UNIQUE,
    tenant_id  TEXT NOT NULL,
    owner      TEXT NOT NULL,
    role       TEXT NOT NULL CHECK (role IN ('guardian', 'student', 'teacher')),
    whose_kind TEXT NOT NULL CHECK (whose_kind IN ('student', 'teacher')),
    whose_id   TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX calendar_links_by_owner ON calendar_links (tenant_id, owner);
