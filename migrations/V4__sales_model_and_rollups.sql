-- The sales model sized for bulk loads, and the rollups analytics read.
--
-- Transactions get bigint ids in blocks of 2^32 per upload: an upload draws
-- one block (`transaction_blocks`), its orders are numbered inside it, so
-- ids are compact, grow in insertion order (index inserts append), and all
-- of an upload's rows sit in one key range, which is how DELETE finds them.
-- Item lines are keyed by their transaction and line number: no identity
-- column, one index.

CREATE SEQUENCE transaction_blocks;
GRANT USAGE ON SEQUENCE transaction_blocks TO flux_app;

ALTER TABLE data_uploads ADD COLUMN transaction_block bigint;

ALTER TABLE transactions RENAME TO transactions_v3;
ALTER TABLE transaction_items RENAME TO transaction_items_v3;
ALTER TABLE transactions_v3 RENAME CONSTRAINT transactions_pkey TO transactions_v3_pkey;
ALTER TABLE transactions_v3 RENAME CONSTRAINT transactions_restaurant_id_order_id_key
    TO transactions_v3_restaurant_id_order_id_key;
ALTER INDEX transactions_restaurant_time_idx RENAME TO transactions_v3_restaurant_time_idx;
ALTER TABLE transaction_items_v3 RENAME CONSTRAINT transaction_items_pkey TO transaction_items_v3_pkey;

CREATE TABLE transactions (
    id              bigint PRIMARY KEY,
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
-- The transactions list: a restaurant's, newest first, by local date range.
CREATE INDEX transactions_restaurant_time_idx ON transactions (restaurant_id, ordered_at, id);

CREATE TABLE transaction_items (
    restaurant_id   uuid NOT NULL,
    transaction_id  bigint NOT NULL,
    -- The line's position in its order, in file order, from 1.
    line_no         int NOT NULL CHECK (line_no > 0),
    item_name       text NOT NULL CHECK (char_length(item_name) BETWEEN 1 AND 200),
    category        text CHECK (char_length(category) <= 100),
    quantity        numeric(10,3) NOT NULL CHECK (quantity > 0),
    unit_price      numeric(12,4) NOT NULL CHECK (unit_price >= 0),
    discount        numeric(12,2) NOT NULL DEFAULT 0,
    tax             numeric(12,2) NOT NULL DEFAULT 0,
    -- The line amount before discount and tax.
    line_total      numeric(12,2) NOT NULL,
    PRIMARY KEY (transaction_id, line_no)
);

-- Existing sales move over: each upload (and the sales of no upload) gets a
-- block, its orders numbered in their old (time-ordered) id order. The
-- owner reads across restaurants here, so the old tables stop forcing RLS.
ALTER TABLE transactions_v3 NO FORCE ROW LEVEL SECURITY;
ALTER TABLE transaction_items_v3 NO FORCE ROW LEVEL SECURITY;
ALTER TABLE data_uploads NO FORCE ROW LEVEL SECURITY;
WITH owners AS (
    SELECT DISTINCT upload_id FROM transactions_v3
), blocks AS (
    SELECT upload_id, nextval('transaction_blocks') AS block FROM owners
)
INSERT INTO transactions (id, restaurant_id, upload_id, order_id, ordered_at, subtotal, discount, tax, total,
                          item_count, payment_method, created_at)
SELECT (b.block << 32) + row_number() OVER (PARTITION BY t.upload_id ORDER BY t.id),
       t.restaurant_id, t.upload_id, t.order_id, t.ordered_at, t.subtotal, t.discount, t.tax, t.total,
       t.item_count, t.payment_method, t.created_at
FROM transactions_v3 t JOIN blocks b ON b.upload_id IS NOT DISTINCT FROM t.upload_id;

INSERT INTO transaction_items (restaurant_id, transaction_id, line_no, item_name, category, quantity, unit_price,
                               discount, tax, line_total)
SELECT i.restaurant_id, n.id, row_number() OVER (PARTITION BY i.transaction_id ORDER BY i.id),
       i.item_name, i.category, i.quantity, i.unit_price, i.discount, i.tax, i.line_total
FROM transaction_items_v3 i
JOIN transactions_v3 o ON o.id = i.transaction_id
JOIN transactions n ON n.restaurant_id = o.restaurant_id AND n.order_id = o.order_id;

UPDATE data_uploads u SET transaction_block = (
    SELECT min(t.id) >> 32 FROM transactions t WHERE t.upload_id = u.id
);
ALTER TABLE data_uploads FORCE ROW LEVEL SECURITY;

DROP TABLE transaction_items_v3;
DROP TABLE transactions_v3;

-- Rollups: per restaurant and local day (in the restaurant's timezone), and
-- for the wide ones also per local month (`span`), so that a range of years
-- reads whole months plus the days at its edges. csv-ingest adds an
-- upload's share in the upload's own transaction; DELETE /uploads/{id}
-- subtracts it in its own. Analytics read nothing else (API.md).

CREATE TABLE sales_days (
    restaurant_id  uuid NOT NULL,
    day            date NOT NULL,
    orders         bigint NOT NULL,
    items          bigint NOT NULL,
    quantity       numeric NOT NULL,
    gross          numeric NOT NULL,
    discounts      numeric NOT NULL,
    tax            numeric NOT NULL,
    PRIMARY KEY (restaurant_id, day)
);

CREATE TABLE sales_payments (
    restaurant_id   uuid NOT NULL,
    day             date NOT NULL,
    payment_method  payment_method NOT NULL,
    orders          bigint NOT NULL,
    total           numeric NOT NULL,
    PRIMARY KEY (restaurant_id, day, payment_method)
);

-- Orders and net sales by local weekday (ISO, Monday = 1) and hour.
CREATE TABLE sales_hours (
    restaurant_id  uuid NOT NULL,
    -- text, not an enum: under row-level security only leakproof
    -- comparisons reach the index, and enum equality is not one.
    span           text NOT NULL CHECK (span IN ('day', 'month')),
    start          date NOT NULL,
    weekday        smallint NOT NULL CHECK (weekday BETWEEN 1 AND 7),
    hour           smallint NOT NULL CHECK (hour BETWEEN 0 AND 23),
    orders         bigint NOT NULL,
    net_sales      numeric NOT NULL,
    PRIMARY KEY (restaurant_id, span, start, weekday, hour)
);

-- Per item name: `orders` counts the orders that hold the item.
CREATE TABLE sales_items (
    restaurant_id  uuid NOT NULL,
    span           text NOT NULL CHECK (span IN ('day', 'month')),
    start          date NOT NULL,
    item_name      text NOT NULL,
    orders         bigint NOT NULL,
    items          bigint NOT NULL,
    quantity       numeric NOT NULL,
    gross          numeric NOT NULL,
    discounts      numeric NOT NULL,
    PRIMARY KEY (restaurant_id, span, start, item_name)
);

-- How many lines of each item carried each category: an item's category
-- is its most frequent one.
CREATE TABLE sales_item_categories (
    restaurant_id  uuid NOT NULL,
    span           text NOT NULL CHECK (span IN ('day', 'month')),
    start          date NOT NULL,
    item_name      text NOT NULL,
    category       text NOT NULL,
    items          bigint NOT NULL,
    PRIMARY KEY (restaurant_id, span, start, item_name, category)
);

-- Per category; '' stands for lines without one (a real category is never
-- empty). `orders` counts the orders that hold an item of the category.
CREATE TABLE sales_categories (
    restaurant_id  uuid NOT NULL,
    span           text NOT NULL CHECK (span IN ('day', 'month')),
    start          date NOT NULL,
    category       text NOT NULL,
    orders         bigint NOT NULL,
    items          bigint NOT NULL,
    quantity       numeric NOT NULL,
    gross          numeric NOT NULL,
    discounts      numeric NOT NULL,
    PRIMARY KEY (restaurant_id, span, start, category)
);

-- Each upload's share of the rollups, kept so that DELETE /uploads/{id}
-- subtracts it (a few thousand rows) instead of recomputing it from the
-- upload's lines (millions). csv-ingest writes a part each time it flushes
-- its figures, one row per kind of rollup: `figures` is a JSON array of
-- rows named as the rollup table's columns (`days` rows as `sales_days`'s).
CREATE TABLE sales_rollup_shares (
    upload_id      uuid NOT NULL REFERENCES data_uploads (id) ON DELETE CASCADE,
    restaurant_id  uuid NOT NULL,
    part           int NOT NULL,
    kind           text NOT NULL CHECK (kind IN ('days', 'payments', 'hours', 'items', 'item_categories',
                                                 'categories')),
    figures        jsonb NOT NULL,
    PRIMARY KEY (upload_id, part, kind)
);

-- Row-level security: the new tables are tenant tables like the others.
-- The policies compare with a scalar subquery, which PostgreSQL evaluates
-- once per statement instead of once per row: bulk inserts check every row.
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['transactions', 'transaction_items', 'sales_days', 'sales_payments', 'sales_hours',
                             'sales_items', 'sales_item_categories', 'sales_categories', 'sales_rollup_shares']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (restaurant_id = (SELECT app_restaurant_id())) '
                       'WITH CHECK (restaurant_id = (SELECT app_restaurant_id()))', t);
    END LOOP;
END
$$;

-- An upload's share of every rollup, computed in SQL from its rows (one
-- block of transactions), added to the rollups and kept as a share. The
-- staged ingest path uses it; the direct path adds the same figures,
-- computed as it groups the lines. `upload` may be null (sales of no
-- upload): then no share is kept.
CREATE FUNCTION sales_rollups_add(block bigint, upload uuid) RETURNS void
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    rid uuid := app_restaurant_id();
    tz text;
BEGIN
    SELECT timezone INTO tz FROM restaurants WHERE id = rid;
    CREATE TEMP TABLE rollup_lines ON COMMIT DROP AS
    SELECT t.id, t.payment_method, t.subtotal, t.discount AS order_discount, t.tax AS order_tax, t.total,
           local.day, date_trunc('month', local.day)::date AS month,
           extract(isodow FROM local.day)::smallint AS weekday, extract(hour FROM local.at)::smallint AS hour,
           i.line_no, i.item_name, coalesce(i.category, '') AS category, i.quantity, i.line_total, i.discount
    FROM transactions t
    CROSS JOIN LATERAL (SELECT (t.ordered_at AT TIME ZONE tz)::date AS day, t.ordered_at AT TIME ZONE tz AS at) local
    JOIN transaction_items i ON i.transaction_id = t.id
    WHERE t.restaurant_id = rid AND t.id >= (block << 32) AND t.id < ((block + 1) << 32);

    CREATE TEMP TABLE share_days ON COMMIT DROP AS
    SELECT day, count(DISTINCT id) AS orders, count(*) AS items, sum(quantity) AS quantity,
           sum(line_total) AS gross, sum(discount) AS discounts,
           sum(order_tax) FILTER (WHERE line_no = 1) AS tax
    FROM rollup_lines GROUP BY day;
    CREATE TEMP TABLE share_payments ON COMMIT DROP AS
    SELECT day, payment_method::text AS payment_method, count(*) AS orders, sum(total) AS total
    FROM rollup_lines WHERE line_no = 1 GROUP BY day, payment_method;
    CREATE TEMP TABLE share_hours ON COMMIT DROP AS
    SELECT s.span, s.start, weekday, hour, count(*) AS orders, sum(subtotal - order_discount) AS net_sales
    FROM rollup_lines CROSS JOIN LATERAL (VALUES ('day', day), ('month', month)) s(span, start)
    WHERE line_no = 1 GROUP BY s.span, s.start, weekday, hour;
    CREATE TEMP TABLE share_items ON COMMIT DROP AS
    SELECT s.span, s.start, item_name, count(DISTINCT id) AS orders, count(*) AS items,
           sum(quantity) AS quantity, sum(line_total) AS gross, sum(discount) AS discounts
    FROM rollup_lines CROSS JOIN LATERAL (VALUES ('day', day), ('month', month)) s(span, start)
    GROUP BY s.span, s.start, item_name;
    CREATE TEMP TABLE share_item_categories ON COMMIT DROP AS
    SELECT s.span, s.start, item_name, category, count(*) AS items
    FROM rollup_lines CROSS JOIN LATERAL (VALUES ('day', day), ('month', month)) s(span, start)
    WHERE category <> '' GROUP BY s.span, s.start, item_name, category;
    CREATE TEMP TABLE share_categories ON COMMIT DROP AS
    SELECT s.span, s.start, category, count(DISTINCT id) AS orders, count(*) AS items,
           sum(quantity) AS quantity, sum(line_total) AS gross, sum(discount) AS discounts
    FROM rollup_lines CROSS JOIN LATERAL (VALUES ('day', day), ('month', month)) s(span, start)
    GROUP BY s.span, s.start, category;

    -- In key order, as every writer of the rollups does: no deadlocks.
    INSERT INTO sales_days AS r (restaurant_id, day, orders, items, quantity, gross, discounts, tax)
    SELECT rid, d.* FROM share_days d ORDER BY day
    ON CONFLICT (restaurant_id, day) DO UPDATE SET
        orders = r.orders + excluded.orders, items = r.items + excluded.items,
        quantity = r.quantity + excluded.quantity, gross = r.gross + excluded.gross,
        discounts = r.discounts + excluded.discounts, tax = r.tax + excluded.tax;
    INSERT INTO sales_payments AS r (restaurant_id, day, payment_method, orders, total)
    SELECT rid, day, payment_method::payment_method, orders, total FROM share_payments ORDER BY day, payment_method
    ON CONFLICT (restaurant_id, day, payment_method) DO UPDATE SET
        orders = r.orders + excluded.orders, total = r.total + excluded.total;
    INSERT INTO sales_hours AS r (restaurant_id, span, start, weekday, hour, orders, net_sales)
    SELECT rid, d.* FROM share_hours d ORDER BY span, start, weekday, hour
    ON CONFLICT (restaurant_id, span, start, weekday, hour) DO UPDATE SET
        orders = r.orders + excluded.orders, net_sales = r.net_sales + excluded.net_sales;
    INSERT INTO sales_items AS r (restaurant_id, span, start, item_name, orders, items, quantity, gross, discounts)
    SELECT rid, d.* FROM share_items d ORDER BY span, start, item_name
    ON CONFLICT (restaurant_id, span, start, item_name) DO UPDATE SET
        orders = r.orders + excluded.orders, items = r.items + excluded.items,
        quantity = r.quantity + excluded.quantity, gross = r.gross + excluded.gross,
        discounts = r.discounts + excluded.discounts;
    INSERT INTO sales_item_categories AS r (restaurant_id, span, start, item_name, category, items)
    SELECT rid, d.* FROM share_item_categories d ORDER BY span, start, item_name, category
    ON CONFLICT (restaurant_id, span, start, item_name, category) DO UPDATE SET items = r.items + excluded.items;
    INSERT INTO sales_categories AS r (restaurant_id, span, start, category, orders, items, quantity, gross, discounts)
    SELECT rid, d.* FROM share_categories d ORDER BY span, start, category
    ON CONFLICT (restaurant_id, span, start, category) DO UPDATE SET
        orders = r.orders + excluded.orders, items = r.items + excluded.items,
        quantity = r.quantity + excluded.quantity, gross = r.gross + excluded.gross,
        discounts = r.discounts + excluded.discounts;

    IF upload IS NOT NULL THEN
        INSERT INTO sales_rollup_shares (upload_id, restaurant_id, part, kind, figures)
        VALUES (upload, rid, 0, 'days', (SELECT coalesce(jsonb_agg(d), '[]') FROM share_days d)),
               (upload, rid, 0, 'payments', (SELECT coalesce(jsonb_agg(d), '[]') FROM share_payments d)),
               (upload, rid, 0, 'hours', (SELECT coalesce(jsonb_agg(d), '[]') FROM share_hours d)),
               (upload, rid, 0, 'items', (SELECT coalesce(jsonb_agg(d), '[]') FROM share_items d)),
               (upload, rid, 0, 'item_categories', (SELECT coalesce(jsonb_agg(d), '[]') FROM share_item_categories d)),
               (upload, rid, 0, 'categories', (SELECT coalesce(jsonb_agg(d), '[]') FROM share_categories d));
    END IF;
    DROP TABLE rollup_lines, share_days, share_payments, share_hours, share_items, share_item_categories,
               share_categories;
END
$$;
GRANT EXECUTE ON FUNCTION sales_rollups_add(bigint, uuid) TO flux_app;

-- Takes an upload's share away from every rollup (DELETE /uploads/{id}),
-- in key order; rows that reach zero are removed.
CREATE FUNCTION sales_rollups_remove(upload uuid) RETURNS void
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    rid uuid := app_restaurant_id();
BEGIN
    UPDATE sales_days r SET orders = r.orders - d.orders, items = r.items - d.items,
        quantity = r.quantity - d.quantity, gross = r.gross - d.gross, discounts = r.discounts - d.discounts,
        tax = r.tax - d.tax
    FROM (SELECT x.day, sum(x.orders) AS orders, sum(x.items) AS items, sum(x.quantity) AS quantity,
                 sum(x.gross) AS gross, sum(x.discounts) AS discounts, sum(x.tax) AS tax
          FROM sales_rollup_shares s, jsonb_to_recordset(s.figures)
               AS x(day date, orders bigint, items bigint, quantity numeric, gross numeric, discounts numeric, tax numeric)
          WHERE s.upload_id = upload AND s.kind = 'days' GROUP BY x.day) d
    WHERE r.restaurant_id = rid AND r.day = d.day;

    UPDATE sales_payments r SET orders = r.orders - d.orders, total = r.total - d.total
    FROM (SELECT x.day, x.payment_method, sum(x.orders) AS orders, sum(x.total) AS total
          FROM sales_rollup_shares s, jsonb_to_recordset(s.figures)
               AS x(day date, payment_method text, orders bigint, total numeric)
          WHERE s.upload_id = upload AND s.kind = 'payments' GROUP BY x.day, x.payment_method) d
    WHERE r.restaurant_id = rid AND r.day = d.day AND r.payment_method = d.payment_method::payment_method;

    UPDATE sales_hours r SET orders = r.orders - d.orders, net_sales = r.net_sales - d.net_sales
    FROM (SELECT x.span, x.start, x.weekday, x.hour, sum(x.orders) AS orders, sum(x.net_sales) AS net_sales
          FROM sales_rollup_shares s, jsonb_to_recordset(s.figures)
               AS x(span text, start date, weekday smallint, hour smallint, orders bigint, net_sales numeric)
          WHERE s.upload_id = upload AND s.kind = 'hours' GROUP BY x.span, x.start, x.weekday, x.hour) d
    WHERE r.restaurant_id = rid AND r.span = d.span AND r.start = d.start AND r.weekday = d.weekday
      AND r.hour = d.hour;

    UPDATE sales_items r SET orders = r.orders - d.orders, items = r.items - d.items,
        quantity = r.quantity - d.quantity, gross = r.gross - d.gross, discounts = r.discounts - d.discounts
    FROM (SELECT x.span, x.start, x.item_name, sum(x.orders) AS orders, sum(x.items) AS items,
                 sum(x.quantity) AS quantity, sum(x.gross) AS gross, sum(x.discounts) AS discounts
          FROM sales_rollup_shares s, jsonb_to_recordset(s.figures)
               AS x(span text, start date, item_name text, orders bigint, items bigint, quantity numeric,
                    gross numeric, discounts numeric)
          WHERE s.upload_id = upload AND s.kind = 'items' GROUP BY x.span, x.start, x.item_name) d
    WHERE r.restaurant_id = rid AND r.span = d.span AND r.start = d.start AND r.item_name = d.item_name;

    UPDATE sales_item_categories r SET items = r.items - d.items
    FROM (SELECT x.span, x.start, x.item_name, x.category, sum(x.items) AS items
          FROM sales_rollup_shares s, jsonb_to_recordset(s.figures)
               AS x(span text, start date, item_name text, category text, items bigint)
          WHERE s.upload_id = upload AND s.kind = 'item_categories' GROUP BY x.span, x.start, x.item_name, x.category) d
    WHERE r.restaurant_id = rid AND r.span = d.span AND r.start = d.start AND r.item_name = d.item_name
      AND r.category = d.category;

    UPDATE sales_categories r SET orders = r.orders - d.orders, items = r.items - d.items,
        quantity = r.quantity - d.quantity, gross = r.gross - d.gross, discounts = r.discounts - d.discounts
    FROM (SELECT x.span, x.start, x.category, sum(x.orders) AS orders, sum(x.items) AS items,
                 sum(x.quantity) AS quantity, sum(x.gross) AS gross, sum(x.discounts) AS discounts
          FROM sales_rollup_shares s, jsonb_to_recordset(s.figures)
               AS x(span text, start date, category text, orders bigint, items bigint, quantity numeric,
                    gross numeric, discounts numeric)
          WHERE s.upload_id = upload AND s.kind = 'categories' GROUP BY x.span, x.start, x.category) d
    WHERE r.restaurant_id = rid AND r.span = d.span AND r.start = d.start AND r.category = d.category;

    DELETE FROM sales_days WHERE restaurant_id = rid AND orders = 0;
    DELETE FROM sales_payments WHERE restaurant_id = rid AND orders = 0;
    DELETE FROM sales_hours WHERE restaurant_id = rid AND orders = 0;
    DELETE FROM sales_items WHERE restaurant_id = rid AND items = 0;
    DELETE FROM sales_item_categories WHERE restaurant_id = rid AND items = 0;
    DELETE FROM sales_categories WHERE restaurant_id = rid AND items = 0;
    DELETE FROM sales_rollup_shares WHERE upload_id = upload;
END
$$;
GRANT EXECUTE ON FUNCTION sales_rollups_remove(uuid) TO flux_app;

-- The sales that moved over get their rollups (and shares). The owner
-- lists them across restaurants, then acts for each.
ALTER TABLE transactions NO FORCE ROW LEVEL SECURITY;
DO $$
DECLARE
    b record;
BEGIN
    FOR b IN SELECT DISTINCT t.restaurant_id, t.id >> 32 AS block, t.upload_id FROM transactions t LOOP
        PERFORM set_config('app.restaurant_id', b.restaurant_id::text, true);
        PERFORM sales_rollups_add(b.block, b.upload_id);
    END LOOP;
    PERFORM set_config('app.restaurant_id', '', true);
END
$$;
ALTER TABLE transactions FORCE ROW LEVEL SECURITY;

GRANT SELECT, INSERT, DELETE ON transactions, transaction_items TO flux_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON sales_days, sales_payments, sales_hours, sales_items,
    sales_item_categories, sales_categories TO flux_app;
GRANT SELECT, INSERT, DELETE ON sales_rollup_shares TO flux_app;
GRANT DELETE ON data_uploads TO flux_app;
