-- Read-model documents are written whole at each batch that changes them and read whole;
-- nothing queries inside them. Postgres parses text into `jsonb` some thirty times
-- slower than it stores text (600 documents of 16 kB: 154 ms against 4 ms), which under
-- write load was most of a projection's time. The documents are JSON text, as in SQLite,
-- and Carnet parses them.
ALTER TABLE projection_docs ALTER COLUMN doc TYPE text USING doc::text;
