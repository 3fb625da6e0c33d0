-- Exactly-once ingestion: the invocation that claims an upload stamps it
-- with its claim id; only that claim may finish it. A worker that stops
-- heart-beating may be taken over by a retry, whose new claim id makes the
-- old worker's final commit a no-op.
ALTER TABLE data_uploads ADD COLUMN claim_id uuid;

-- Workers find uploads by their object key.
CREATE INDEX data_uploads_restaurant_key_idx ON data_uploads (restaurant_id, s3_key);
