-- Appends no longer NOTIFY inside their transaction: Postgres serialises the commits of
-- notifying transactions, which capped a région's appends at that rate. Wake-ups are
-- sent after the commit, coalesced, by the store (see store/src/wakeups.rs). The
-- function is otherwise the one of 0002.
CREATE OR REPLACE FUNCTION carnet_append_planned(
    p_tenant           text,
    p_expected_next    bigint,
    p_new_next         bigint,
    p_new_stream_types text[],
    p_new_stream_ids   text[],
    p_head_types       text[],
    p_head_ids         text[],
    p_head_versions    bigint[],
    p_head_hashes      bytea[],
    p_positions        bigint[],
    p_stream_types     text[],
    p_stream_ids       text[],
    p_stream_versions  bigint[],
    p_event_types      text[],
    p_event_versions   integer[],
    p_payloads         text[],
    p_metadata         text[],
    p_event_commands   uuid[],
    p_hashes           bytea[],
    p_recorded_at      timestamptz,
    p_command_ids      uuid[],
    p_request_hashes   bytea[],
    p_command_types    text[],
    p_command_streams  text[],
    p_command_versions bigint[],
    p_command_firsts   bigint[],
    p_command_lasts    bigint[]
) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    current_next bigint;
BEGIN
    SELECT next_position INTO current_next FROM tenants WHERE tenant_id = p_tenant FOR UPDATE;
    IF NOT FOUND THEN
        RETURN 'unknown-tenant';
    END IF;
    IF current_next <> p_expected_next THEN
        RETURN 'stale';
    END IF;
    -- LATERAL ... LIMIT 1 keeps each check an index probe: PL/pgSQL caches a generic
    -- plan, which must not turn into a scan of the establishment's whole log.
    IF EXISTS (
        SELECT 1 FROM UNNEST(p_new_stream_types, p_new_stream_ids) AS s(stream_type, stream_id)
        CROSS JOIN LATERAL (SELECT 1 FROM events e
                            WHERE e.tenant_id = p_tenant AND e.stream_type = s.stream_type
                              AND e.stream_id = s.stream_id
                            LIMIT 1) AS existing
    ) OR EXISTS (
        SELECT 1 FROM UNNEST(p_head_types, p_head_ids, p_head_versions, p_head_hashes)
                      AS h(stream_type, stream_id, stream_version, hash)
        LEFT JOIN LATERAL (SELECT e.stream_version, e.hash FROM events e
                           WHERE e.tenant_id = p_tenant AND e.stream_type = h.stream_type
                             AND e.stream_id = h.stream_id
                           ORDER BY e.stream_version DESC
                           LIMIT 1) AS cur ON true
        WHERE cur.stream_version IS DISTINCT FROM h.stream_version
           OR cur.hash IS DISTINCT FROM h.hash
    ) OR EXISTS (
        SELECT 1 FROM UNNEST(p_command_ids) AS c(command_id)
        CROSS JOIN LATERAL (SELECT 1 FROM commands k
                            WHERE k.tenant_id = p_tenant AND k.command_id = c.command_id
                            LIMIT 1) AS used
    ) THEN
        RETURN 'stale';
    END IF;

    INSERT INTO events (tenant_id, position, stream_type, stream_id, stream_version, event_type,
                        event_version, payload, metadata, command_id, recorded_at, hash)
    SELECT p_tenant, position, stream_type, stream_id, stream_version, event_type, event_version,
           payload::jsonb, metadata::jsonb, command_id, p_recorded_at, hash
    FROM UNNEST(p_positions, p_stream_types, p_stream_ids, p_stream_versions, p_event_types,
                p_event_versions, p_payloads, p_metadata, p_event_commands, p_hashes)
         AS t(position, stream_type, stream_id, stream_version, event_type, event_version,
              payload, metadata, command_id, hash);

    INSERT INTO commands (tenant_id, command_id, request_hash, stream_type, stream_id,
                          stream_version, first_position, last_position, recorded_at)
    SELECT p_tenant, command_id, request_hash, stream_type, stream_id, stream_version,
           first_position, last_position, p_recorded_at
    FROM UNNEST(p_command_ids, p_request_hashes, p_command_types, p_command_streams,
                p_command_versions, p_command_firsts, p_command_lasts)
         AS c(command_id, request_hash, stream_type, stream_id, stream_version,
              first_position, last_position);

    UPDATE tenants SET next_position = p_new_next WHERE tenant_id = p_tenant;
    RETURN 'ok';
END
$$;
