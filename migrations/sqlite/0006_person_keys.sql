-- Keys of personal data (crypto-shredding): see the Postgres migration of the same
-- number. Times are RFC 3339 text, as elsewhere in this backend.
CREATE TABLE person_keys (
    tenant_id  TEXT NOT NULL,
    owner      TEXT NOT NULL,
    person     TEXT NOT NULL,
    key        BLOB CHECK (key IS NULL OR length(key) = 32),
    created_at TEXT NOT NULL,
    erased_at  TEXT,
    grounds    TEXT,
    PRIMARY KEY (tenant_id, owner),
    CHECK ((key IS NULL) = (erased_at IS NOT NULL))
) STRICT;
CREATE INDEX person_keys_by_person ON person_keys (tenant_id, person);
