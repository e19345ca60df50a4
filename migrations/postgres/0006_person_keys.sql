-- Keys of personal data (crypto-shredding). Personal values in event payloads are
-- encrypted with the key of their owner: a person (`eleve00042`), or a person's data of
-- one purpose and school year (`eleve00042/absences/2026-2027`) that a retention rule
-- erases earlier. The keys live here, outside the log: erasing sets `key` to NULL and
-- keeps the row as the record that the owner was erased (no new key is ever made for
-- it), while the log and its hash chain stay untouched.
CREATE TABLE person_keys (
    tenant_id  text NOT NULL,
    owner      text NOT NULL,
    person     text NOT NULL,
    key        bytea CHECK (key IS NULL OR length(key) = 32),
    created_at timestamptz NOT NULL DEFAULT now(),
    erased_at  timestamptz,
    grounds    text,
    PRIMARY KEY (tenant_id, owner),
    CHECK ((key IS NULL) = (erased_at IS NOT NULL))
);
CREATE INDEX person_keys_by_person ON person_keys (tenant_id, person);
