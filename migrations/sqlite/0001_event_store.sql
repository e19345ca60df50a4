-- The event store: one append-only, hash-chained log per establishment (tenant).
-- Same tables as migrations/postgres; JSON is kept as canonical text, timestamps as
-- RFC 3339 text in UTC with microseconds, hashes and uuids as blobs and text.

CREATE TABLE tenants (
    tenant_id     TEXT PRIMARY KEY NOT NULL,
    name          TEXT NOT NULL,
    time_zone     TEXT NOT NULL DEFAULT 'Europe/Paris',
    -- The next free position; appends run in BEGIN IMMEDIATE transactions, one at a
    -- time, so positions commit in order and without gaps.
    next_position INTEGER NOT NULL DEFAULT 1 CHECK (next_position >= 1),
    created_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
) STRICT;

CREATE TABLE events (
    tenant_id      TEXT NOT NULL,
    position       INTEGER NOT NULL CHECK (position >= 1),
    stream_type    TEXT NOT NULL,
    stream_id      TEXT NOT NULL,
    stream_version INTEGER NOT NULL CHECK (stream_version >= 1),
    event_type     TEXT NOT NULL,
    event_version  INTEGER NOT NULL CHECK (event_version >= 1),
    payload        TEXT NOT NULL,
    metadata       TEXT NOT NULL,
    command_id     TEXT,
    recorded_at    TEXT NOT NULL,
    hash           BLOB NOT NULL CHECK (length(hash) = 32),
    PRIMARY KEY (tenant_id, position),
    UNIQUE (tenant_id, stream_type, stream_id, stream_version)
) STRICT, WITHOUT ROWID;

CREATE TABLE commands (
    tenant_id      TEXT NOT NULL,
    command_id     TEXT NOT NULL,
    request_hash   BLOB NOT NULL,
    stream_type    TEXT NOT NULL,
    stream_id      TEXT NOT NULL,
    stream_version INTEGER NOT NULL,
    first_position INTEGER NOT NULL,
    last_position  INTEGER NOT NULL,
    recorded_at    TEXT NOT NULL,
    PRIMARY KEY (tenant_id, command_id)
) STRICT, WITHOUT ROWID;

CREATE TABLE snapshots (
    tenant_id      TEXT NOT NULL,
    stream_type    TEXT NOT NULL,
    stream_id      TEXT NOT NULL,
    stream_version INTEGER NOT NULL,
    state          TEXT NOT NULL,
    saved_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    PRIMARY KEY (tenant_id, stream_type, stream_id)
) STRICT;

-- The log is append-only: the database itself refuses to change or remove its rows
-- (SQLite has no TRUNCATE; a DELETE without WHERE fires these triggers too).
CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'carnet: UPDATE on events is refused: the event log is append-only'); END;
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'carnet: DELETE on events is refused: the event log is append-only'); END;
CREATE TRIGGER commands_no_update BEFORE UPDATE ON commands
BEGIN SELECT RAISE(ABORT, 'carnet: UPDATE on commands is refused: the event log is append-only'); END;
CREATE TRIGGER commands_no_delete BEFORE DELETE ON commands
BEGIN SELECT RAISE(ABORT, 'carnet: DELETE on commands is refused: the event log is append-only'); END;
