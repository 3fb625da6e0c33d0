-- Ingestion writes every index of the sales tables once per row, and index
-- upkeep is most of its cost: keep only the indexes that reads need.

-- Nothing looks transactions up by upload.
DROP INDEX transactions_upload_idx;

-- Items are read by their transaction, which one key serves together with
-- identity: ids come from the identity sequence, so they stay unique.
ALTER TABLE transaction_items DROP CONSTRAINT transaction_items_pkey;
DROP INDEX transaction_items_transaction_idx;
ALTER TABLE transaction_items ADD PRIMARY KEY (transaction_id, id);

-- An upload draws hundreds of thousands of item ids: draw them in blocks.
ALTER TABLE transaction_items ALTER COLUMN id SET CACHE 1000;
