-- Flux schema. Runs as the owner role; the application connects as flux_app,
-- which owns nothing and cannot bypass row-level security.

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'flux_app') THEN
        -- LOGIN without a password: it can only sign in once the deploy (or
        -- the local stack) sets one, or over trust auth in throwaway test clusters.
        CREATE ROLE flux_app LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
    END IF;
END
$$;

-- The restaurant the current transaction acts for (see shared::tenant).
CREATE FUNCTION app_restaurant_id() RETURNS uuid
LANGUAGE sql STABLE
AS $$ SELECT nullif(current_setting('app.restaurant_id', true), '')::uuid $$;

CREATE TYPE user_role AS ENUM ('owner', 'manager', 'staff');
CREATE TYPE upload_status AS ENUM ('awaiting_upload', 'processing', 'completed', 'completed_with_errors', 'failed');
CREATE TYPE payment_method AS ENUM ('cash', 'card', 'mobile', 'gift_card', 'other');

CREATE TABLE restaurants (
    id          uuid PRIMARY KEY,
    name        text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 120),
    timezone    text NOT NULL DEFAULT 'UTC',
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE users (
    id             uuid PRIMARY KEY,
    restaurant_id  uuid NOT NULL REFERENCES restaurants (id) ON DELETE CASCADE,
    email          text NOT NULL CHECK (char_length(email) BETWEEN 3 AND 254),
    password_hash  text NOT NULL,
    role           user_role NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
-- One account per email, compared case-insensitively, across all restaurants.
CREATE UNIQUE INDEX users_email_key ON users (lower(email));
CREATE INDEX users_restaurant_idx ON users (restaurant_id, created_at);

-- A sign-in session: one refresh-token family, with an absolute lifetime.
CREATE TABLE auth_sessions (
    id              uuid PRIMARY KEY,
    restaurant_id   uuid NOT NULL REFERENCES restaurants (id) ON DELETE CASCADE,
    user_id         uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    revoked_at      timestamptz,
    revoked_reason  text
);
CREATE INDEX auth_sessions_user_idx ON auth_sessions (restaurant_id, user_id);

-- Refresh tokens: only a SHA-256 of each is stored. A rotated token points
-- at its successor so reuse can be detected (and a racing tab served).
CREATE TABLE refresh_tokens (
    id              uuid PRIMARY KEY,
    restaurant_id   uuid NOT NULL REFERENCES restaurants (id) ON DELETE CASCADE,
    session_id      uuid NOT NULL REFERENCES auth_sessions (id) ON DELETE CASCADE,
    token_hash      bytea NOT NULL UNIQUE CHECK (octet_length(token_hash) = 32),
    parent_id       uuid REFERENCES refresh_tokens (id) ON DELETE CASCADE,
    created_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    rotated_at      timestamptz,
    replaced_by     uuid REFERENCES refresh_tokens (id) ON DELETE SET NULL
);
CREATE INDEX refresh_tokens_session_idx ON refresh_tokens (restaurant_id, session_id);

-- Failed sign-ins, by email and by source address; shared by every Lambda
-- container. Not tenant data: the caller is not known yet.
CREATE TABLE login_failures (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    subject_kind  text NOT NULL CHECK (subject_kind IN ('email', 'ip')),
    subject       text NOT NULL,
    failed_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX login_failures_subject_idx ON login_failures (subject_kind, subject, failed_at);

CREATE TABLE data_uploads (
    id                     uuid PRIMARY KEY,
    restaurant_id          uuid NOT NULL REFERENCES restaurants (id) ON DELETE CASCADE,
    user_id                uuid NOT NULL REFERENCES users (id),
    filename               text NOT NULL CHECK (char_length(filename) BETWEEN 1 AND 255),
    s3_key                 text NOT NULL UNIQUE,
    size_bytes             bigint NOT NULL CHECK (size_bytes > 0),
    status                 upload_status NOT NULL DEFAULT 'awaiting_upload',
    rows_total             bigint NOT NULL DEFAULT 0,
    rows_ingested          bigint NOT NULL DEFAULT 0,
    rows_rejected          bigint NOT NULL DEFAULT 0,
    rows_duplicate         bigint NOT NULL DEFAULT 0,
    transactions_ingested  bigint NOT NULL DEFAULT 0,
    error                  text,
    url_expires_at         timestamptz NOT NULL,
    -- Exactly-once ingestion: the invocation that claims an upload stamps it
    -- with its claim id and refreshes heartbeat_at while it works; a retry
    -- may take over a stale claim, and only the current claim may finish.
    claim_id               uuid,
    heartbeat_at           timestamptz,
    created_at             timestamptz NOT NULL DEFAULT now(),
    started_at             timestamptz,
    finished_at            timestamptz
);
CREATE INDEX data_uploads_restaurant_idx ON data_uploads (restaurant_id, created_at DESC, id DESC);
CREATE INDEX data_uploads_restaurant_key_idx ON data_uploads (restaurant_id, s3_key);

CREATE TABLE data_upload_errors (
    upload_id      uuid NOT NULL REFERENCES data_uploads (id) ON DELETE CASCADE,
    restaurant_id  uuid NOT NULL REFERENCES restaurants (id) ON DELETE CASCADE,
    line           bigint NOT NULL,
    column_name    text,
    value          text,
    message        text NOT NULL,
    -- A row can have several problems; seq keeps them distinct and ordered.
    seq            int NOT NULL DEFAULT 0,
    PRIMARY KEY (upload_id, line, seq)
);
CREATE INDEX data_upload_errors_restaurant_idx ON data_upload_errors (restaurant_id, upload_id, line);

-- Sales are bulk-loaded (hundreds of thousands of rows per upload), so the
-- two sales tables skip per-row foreign-key checks, which cost more than the
-- inserts themselves: row-level security pins every row to its restaurant,
-- and csv-ingest, the only writer, inserts an upload's items in the same
-- statement as the transactions they belong to.
CREATE TABLE transactions (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    restaurant_id   uuid NOT NULL,
    upload_id       uuid,
    order_id        text NOT NULL CHECK (char_length(order_id) BETWEEN 1 AND 64),
    ordered_at      timestamptz NOT NULL,
    subtotal        numeric(12,2) NOT NULL,
    discount        numeric(12,2) NOT NULL DEFAULT 0,
    tax             numeric(12,2) NOT NULL DEFAULT 0,
    total           numeric(12,2) NOT NULL,
    item_count      int NOT NULL CHECK (item_count > 0),
    payment_method  payment_method NOT NULL DEFAULT 'other',
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (restaurant_id, order_id)
);
CREATE INDEX transactions_restaurant_time_idx ON transactions (restaurant_id, ordered_at, id);
CREATE INDEX transactions_upload_idx ON transactions (restaurant_id, upload_id);

CREATE TABLE transaction_items (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    restaurant_id   uuid NOT NULL,
    transaction_id  uuid NOT NULL,
    item_name       text NOT NULL CHECK (char_length(item_name) BETWEEN 1 AND 200),
    category        text CHECK (char_length(category) <= 100),
    quantity        numeric(10,3) NOT NULL CHECK (quantity > 0),
    unit_price      numeric(12,4) NOT NULL CHECK (unit_price >= 0),
    discount        numeric(12,2) NOT NULL DEFAULT 0,
    tax             numeric(12,2) NOT NULL DEFAULT 0,
    -- The line amount before discount and tax.
    line_total      numeric(12,2) NOT NULL
);
CREATE INDEX transaction_items_transaction_idx ON transaction_items (restaurant_id, transaction_id);

-- Row-level security on every tenant table, forced so that even the owner
-- is filtered; only a superuser or BYPASSRLS role sees across restaurants.
ALTER TABLE restaurants ENABLE ROW LEVEL SECURITY;
ALTER TABLE restaurants FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON restaurants
    USING (id = app_restaurant_id()) WITH CHECK (id = app_restaurant_id());

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['users', 'auth_sessions', 'refresh_tokens', 'data_uploads',
                             'data_upload_errors', 'transactions', 'transaction_items']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (restaurant_id = app_restaurant_id()) '
                       'WITH CHECK (restaurant_id = app_restaurant_id())', t);
    END LOOP;
END
$$;

-- Signing in happens before the restaurant is known: a user row is also
-- visible to a transaction that names its email (app.login_email), and a
-- refresh token to one that names its hash (app.refresh_token_hash).
CREATE POLICY login_lookup ON users FOR SELECT
    USING (lower(email) = lower(nullif(current_setting('app.login_email', true), '')));
CREATE POLICY refresh_lookup ON refresh_tokens FOR SELECT
    USING (token_hash = decode(nullif(current_setting('app.refresh_token_hash', true), ''), 'hex'));

GRANT USAGE ON SCHEMA public TO flux_app;
GRANT EXECUTE ON FUNCTION app_restaurant_id() TO flux_app;
GRANT SELECT, INSERT, UPDATE ON restaurants, users, auth_sessions, refresh_tokens, data_uploads TO flux_app;
GRANT SELECT, INSERT, DELETE ON login_failures, data_upload_errors TO flux_app;
GRANT SELECT, INSERT, DELETE ON transactions, transaction_items TO flux_app;
