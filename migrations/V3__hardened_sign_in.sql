-- Sign-in hardening: one email comparison, decided in Rust; sessions that
-- access tokens can be checked against; bounded throttling rows.

-- Emails are compared by a key computed in Rust (NFKC, then Unicode
-- lowercase): PostgreSQL's lower() under the C locale folds ASCII only, so
-- comparing with it let `Émile@…` register and never sign in. The key has
-- its own unique column, looked up by equality.
ALTER TABLE users ADD COLUMN email_key text;
DROP POLICY login_lookup ON users;
DROP INDEX users_email_key;
CREATE UNIQUE INDEX users_email_key_key ON users (email_key);
CREATE POLICY login_lookup ON users FOR SELECT
    USING (email_key = nullif(current_setting('app.login_email', true), ''));

-- Existing users get their key from `migrate`, which computes it the same
-- way login does: their emails wait here, visible to the owner (who runs
-- the migrations) only, and each is removed once keyed.
CREATE TABLE email_key_backfill (
    user_id        uuid PRIMARY KEY,
    restaurant_id  uuid NOT NULL,
    email          text NOT NULL
);
ALTER TABLE email_key_backfill ENABLE ROW LEVEL SECURITY;
ALTER TABLE email_key_backfill FORCE ROW LEVEL SECURITY;
CREATE POLICY owner_only ON email_key_backfill TO CURRENT_USER USING (true);
ALTER TABLE users NO FORCE ROW LEVEL SECURITY;
INSERT INTO email_key_backfill (user_id, restaurant_id, email)
    SELECT id, restaurant_id, email FROM users;
ALTER TABLE users FORCE ROW LEVEL SECURITY;

-- Acting for a caller: scopes the transaction to the caller's restaurant
-- and tells whether the session their access token names is still live
-- (not revoked by logout or reuse detection, not expired). One round trip,
-- one primary-key lookup, under row-level security like any other query.
CREATE FUNCTION app_act_for(restaurant uuid, session uuid, app_user uuid) RETURNS boolean
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
    PERFORM set_config('app.restaurant_id', restaurant::text, true);
    RETURN EXISTS (
        SELECT 1 FROM auth_sessions s
        WHERE s.id = session AND s.restaurant_id = restaurant AND s.user_id = app_user
          AND s.revoked_at IS NULL AND s.expires_at > now()
    );
END
$$;
GRANT EXECUTE ON FUNCTION app_act_for(uuid, uuid, uuid) TO flux_app;

-- Throttling subjects are digests of the email key or address, so that no
-- input, however long, makes an index entry too large; attempts are
-- reserved before the password is checked, and pruned once out of every window.
DELETE FROM login_failures;
ALTER TABLE login_failures ADD CONSTRAINT login_failures_subject_digest CHECK (subject ~ '^[0-9a-f]{64}$');
CREATE INDEX login_failures_failed_at_idx ON login_failures (failed_at);
