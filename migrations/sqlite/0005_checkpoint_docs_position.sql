-- The position of the last batch that wrote or removed a document. The checkpoint's
-- `position` moves with every event of the establishment's log, also those the
-- projection has nothing to do with (a roll call for the gradebooks); this one moves
-- only when a document changed, so the API keeps parsed documents for as long as it
-- stays put.
ALTER TABLE projection_checkpoints ADD COLUMN docs_position INTEGER NOT NULL DEFAULT 0;
