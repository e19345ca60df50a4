-- Read models: JSON documents that projectors build from the log, by key, and each
-- projector's checkpoint. A projector writes its documents and its checkpoint in one
-- transaction, so after a crash it resumes exactly after the last event it applied.
--
-- A projection has generations: readers use the active one; a rebuild fills a new one
-- from the log while the old one keeps serving, then switches.

CREATE TABLE projection_checkpoints (
    tenant_id        text NOT NULL,
    projection       text NOT NULL,
    generation       integer NOT NULL CHECK (generation >= 1),
    active           boolean NOT NULL DEFAULT false,
    -- The last position applied (0: none).
    position         bigint NOT NULL DEFAULT 0 CHECK (position >= 0),
    -- recorded_at of that event, in microseconds since the epoch (for lag in seconds).
    applied_recorded_us bigint,
    -- The instance working this projection, and until when (microseconds since the
    -- epoch): another takes over once the lease has run out.
    lease_owner      text,
    lease_until_us   bigint,
    -- Set when an event could not be applied: the projection stops there.
    failed_position  bigint,
    failure          text,
    PRIMARY KEY (tenant_id, projection, generation)
);

CREATE UNIQUE INDEX projection_one_active
    ON projection_checkpoints (tenant_id, projection) WHERE active;

CREATE TABLE projection_docs (
    tenant_id   text NOT NULL,
    projection  text NOT NULL,
    generation  integer NOT NULL,
    key         text NOT NULL,
    doc         jsonb NOT NULL,
    PRIMARY KEY (tenant_id, projection, generation, key)
);
