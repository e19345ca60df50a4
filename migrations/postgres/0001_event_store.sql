-- The event store: one append-only, hash-chained log per establishment (tenant).
-- Every table carries the tenant in its key and nothing joins across tenants, so the
-- schema distributes by tenant_id (Citus) as it is.

CREATE TABLE tenants (
    tenant_id     text PRIMARY KEY,                       -- the establishment's UAI
    name          text NOT NULL,
    time_zone     text NOT NULL DEFAULT 'Europe/Paris',
    -- The next free position of this tenant's log. Appends lock this row, so positions
    -- are taken and committed in order: a reader following the log never meets a gap
    -- that a slower transaction fills later.
    next_position bigint NOT NULL DEFAULT 1 CHECK (next_position >= 1),
    created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE events (
    tenant_id      text NOT NULL,
    position       bigint NOT NULL CHECK (position >= 1),
    stream_type    text NOT NULL,
    stream_id      text NOT NULL,
    stream_version bigint NOT NULL CHECK (stream_version >= 1),
    event_type     text NOT NULL,
    event_version  integer NOT NULL CHECK (event_version >= 1),
    payload        jsonb NOT NULL,
    metadata       jsonb NOT NULL,
    command_id     uuid,
    recorded_at    timestamptz NOT NULL,
    hash           bytea NOT NULL CHECK (length(hash) = 32),
    PRIMARY KEY (tenant_id, position),
    UNIQUE (tenant_id, stream_type, stream_id, stream_version)
);

-- Commands already applied, for idempotency: the same id answers the same outcome.
CREATE TABLE commands (
    tenant_id      text NOT NULL,
    command_id     uuid NOT NULL,
    request_hash   bytea NOT NULL,
    stream_type    text NOT NULL,
    stream_id      text NOT NULL,
    stream_version bigint NOT NULL,
    first_position bigint NOT NULL,
    last_position  bigint NOT NULL,
    recorded_at    timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, command_id)
);

-- Aggregate snapshots: derived data, rewritten freely, never part of the proof.
CREATE TABLE snapshots (
    tenant_id      text NOT NULL,
    stream_type    text NOT NULL,
    stream_id      text NOT NULL,
    stream_version bigint NOT NULL,
    state          jsonb NOT NULL,
    saved_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, stream_type, stream_id)
);

-- The log is append-only: the database itself refuses to change or remove its rows.
-- Only a superuser who disables these triggers could, and the hash chain shows it.
CREATE FUNCTION carnet_refuse_log_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'carnet: % on % is refused: the event log is append-only', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION carnet_refuse_log_change();
CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION carnet_refuse_log_change();
CREATE TRIGGER commands_append_only BEFORE UPDATE OR DELETE ON commands
    FOR EACH ROW EXECUTE FUNCTION carnet_refuse_log_change();
CREATE TRIGGER commands_no_truncate BEFORE TRUNCATE ON commands
    FOR EACH STATEMENT EXECUTE FUNCTION carnet_refuse_log_change();
