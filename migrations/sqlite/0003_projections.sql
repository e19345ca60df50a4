-- Read models: JSON documents that projectors build from the log, by key, and each
-- projector's checkpoint (see the Postgres migration of the same name).

CREATE TABLE projection_checkpoints (
    tenant_id        TEXT NOT NULL,
    projection       TEXT NOT NULL,
    generation       INTEGER NOT NULL CHECK (generation >= 1),
    active           INTEGER NOT NULL DEFAULT 0,
    position         INTEGER NOT NULL DEFAULT 0 CHECK (position >= 0),
    applied_recorded_us INTEGER,
    lease_owner      TEXT,
    lease_until_us   INTEGER,
    failed_position  INTEGER,
    failure          TEXT,
    PRIMARY KEY (tenant_id, projection, generation)
) STRICT;

CREATE UNIQUE INDEX projection_one_active
    ON projection_checkpoints (tenant_id, projection) WHERE active = 1;

CREATE TABLE projection_docs (
    tenant_id   TEXT NOT NULL,
    projection  TEXT NOT NULL,
    generation  INTEGER NOT NULL,
    key         TEXT NOT NULL,
    doc         TEXT NOT NULL,
    PRIMARY KEY (tenant_id, projection, generation, key)
) STRICT;
