-- Person keys wrapped by a key-encryption key (KEK) that lives outside the database, in
-- the keyring (a file of Carnet's account only, or an environment secret): a copy of the
-- database alone (its files, WAL, a backup, a dump) holds no usable key. `kek` names the
-- KEK that wrapped `key` (its nonce, the 32 bytes and their tag: 72 bytes). Rows written
-- before this migration hold the key in clear with no `kek`: Carnet wraps them when it
-- opens the database with its keyring.
ALTER TABLE person_keys DROP CONSTRAINT IF EXISTS person_keys_key_check;
ALTER TABLE person_keys ADD COLUMN kek text;
ALTER TABLE person_keys ADD CONSTRAINT person_keys_key_wrapped CHECK (
    key IS NULL
    OR (kek IS NULL AND length(key) = 32)
    OR (kek IS NOT NULL AND length(key) = 72)
);
CREATE INDEX person_keys_by_kek ON person_keys (kek) WHERE kek IS NOT NULL;

-- One row per KEK that wrapped keys here: its id and a probe (a fixed value wrapped by
-- it), so that a process started with another keyring is refused at once instead of
-- writing keys that the others cannot unwrap.
CREATE TABLE key_wrapping (
    kek        text PRIMARY KEY,
    probe      bytea NOT NULL CHECK (length(probe) = 72),
    created_at timestamptz NOT NULL DEFAULT now()
);
