-- What a browser needs to follow an upload: the bytes read so far (a
-- progress bar divides them by size_bytes), and the content type the URL
-- was signed for, so that a fresh URL is signed the same way.
ALTER TABLE data_uploads ADD COLUMN bytes_processed bigint NOT NULL DEFAULT 0;
ALTER TABLE data_uploads ADD COLUMN content_type text NOT NULL DEFAULT 'text/csv';
-- Finished uploads read their whole file.
ALTER TABLE data_uploads NO FORCE ROW LEVEL SECURITY;
UPDATE data_uploads SET bytes_processed = size_bytes
WHERE status IN ('completed', 'completed_with_errors', 'failed');
ALTER TABLE data_uploads FORCE ROW LEVEL SECURITY;
