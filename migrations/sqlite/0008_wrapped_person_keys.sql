-- Person keys wrapped by a key-encryption key kept outside the database: see the
-- Postgres migration of the same number. SQLite cannot change a CHECK: the table is
-- made again.
CREATE TABLE person_keys_wrapped (
    tenant_id  TEXT NOT NULL,
    owner      TEXT NOT NULL,
    person     TEXT NOT NULL,
    key        BLOB CHECK (
        key IS NULL
        OR (kek IS NULL AND length(key) = 32)
        OR (kek IS NOT NULL AND length(key) = 72)
    ),
    kek        TEXT,
    created_at TEXT NOT NULL,
    erased_at  TEXT,
    grounds    TEXT,
    PRIMARY KEY (tenant_id, owner),
    CHECK ((key IS NULL) = (erased_at IS NOT NULL))
) STRICT;
INSERT INTO person_keys_wrapped (tenant_id, owner, person, key, kek, created_at, erased_at, grounds)
    SELECT tenant_id, owner, person, key, NULL, created_at, erased_at, grounds FROM person_keys;
DROP TABLE person_keys;
ALTER TABLE person_keys_wrapped RENAME TO person_keys;
CREATE INDEX person_keys_by_person ON person_keys (tenant_id, person);
CREATE INDEX person_keys_by_kek ON person_keys (kek) WHERE kek IS NOT NULL;

CREATE TABLE key_wrapping (
    kek        TEXT PRIMARY KEY,
    probe      BLOB NOT NULL CHECK (length(probe) = 72),
    created_at TEXT NOT NULL
) STRICT;
