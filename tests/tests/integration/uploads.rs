//! Uploads end to end: register → POST /uploads → PUT to the presigned URL
//! → S3 event → csv-ingest → poll until final → rows as CSV.md defines.

use std::str::FromStr;
use std::time::Duration;

use flux_tests::{captured_upload, owner_token, Api, CapturedUpload, TestApp, TestDb};
use rust_decimal::Decimal;
use serde_json::{json, Value};

const OWNER: (&str, &str) = ("owner@chez.example", "Chez Flux");

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

/// A stored transaction, as the assertions compare it.
#[derive(Debug, PartialEq)]
struct StoredTransaction {
    order_id: String,
    /// UTC, RFC 3339.
    ordered_at: String,
    subtotal: Decimal,
    discount: Decimal,
    tax: Decimal,
    total: Decimal,
    item_count: i32,
    payment_method: String,
}

/// A [`StoredTransaction`]; amounts are subtotal, discount, tax, total.
fn stored(
    order_id: &str,
    ordered_at: &str,
    [subtotal, discount, tax, total]: [&str; 4],
    item_count: i32,
    payment_method: &str,
) -> StoredTransaction {
    StoredTransaction {
        order_id: order_id.into(),
        ordered_at: ordered_at.into(),
        subtotal: d(subtotal),
        discount: d(discount),
        tax: d(tax),
        total: d(total),
        item_count,
        payment_method: payment_method.into(),
    }
}

async fn transactions(db: &TestDb) -> Vec<StoredTransaction> {
    let client = db.superuser().await;
    let rows = client
        .query(
            "SELECT order_id, to_char(ordered_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') AS ordered_at,
                    subtotal, discount, tax, total, item_count, payment_method::text AS payment_method
             FROM transactions ORDER BY order_id",
            &[],
        )
        .await
        .unwrap();
    rows.iter()
        .map(|r| StoredTransaction {
            order_id: r.get("order_id"),
            ordered_at: r.get("ordered_at"),
            subtotal: r.get("subtotal"),
            discount: r.get("discount"),
            tax: r.get("tax"),
            total: r.get("total"),
            item_count: r.get("item_count"),
            payment_method: r.get("payment_method"),
        })
        .collect()
}

/// A stored line of a transaction.
#[derive(Debug)]
struct StoredItem {
    item_name: String,
    category: Option<String>,
    unit_price: Decimal,
    quantity: Decimal,
    line_total: Decimal,
}

async fn items(db: &TestDb) -> Vec<StoredItem> {
    let client = db.superuser().await;
    let rows = client
        .query(
            "SELECT i.item_name, i.category, i.quantity, i.unit_price, i.line_total
             FROM transaction_items i JOIN transactions t ON t.id = i.transaction_id
             ORDER BY t.order_id, i.line_no",
            &[],
        )
        .await
        .unwrap();
    rows.iter()
        .map(|r| StoredItem {
            item_name: r.get("item_name"),
            category: r.get("category"),
            quantity: r.get("quantity"),
            unit_price: r.get("unit_price"),
            line_total: r.get("line_total"),
        })
        .collect()
}

const EXAMPLE: &str =
    "order_id,ordered_at,item_name,category,quantity,unit_price,discount,tax,payment_method
A-1001,2026-01-29 19:05,Margherita,Pizza,2,12.50,0,2.10,card
A-1001,2026-01-29 19:05,Tiramisu,Dessert,1,6.00,1.00,0.50,card
A-1002,2026-01-29 19:17,\"Soup, of the day\",Starters,1,$7.25,,0.61,cash
";

#[tokio::test]
async fn a_clean_file_is_ingested_exactly_as_csv_md_defines() {
    let (app, token) = TestApp::signed_in(OWNER).await;
    let db = &app.db;
    let api = &app.api;
    let (id, upload) = api
        .ingest(&token, "sales-2026-01.csv", EXAMPLE.as_bytes())
        .await;
    assert_eq!(upload["status"], "completed", "{upload}");
    assert_eq!(upload["filename"], "sales-2026-01.csv");
    assert_eq!(upload["size_bytes"], EXAMPLE.len());
    assert_eq!(
        (
            &upload["rows_total"],
            &upload["rows_ingested"],
            &upload["rows_rejected"],
            &upload["rows_duplicate"]
        ),
        (&json!(3), &json!(3), &json!(0), &json!(0))
    );
    assert_eq!(upload["transactions_ingested"], 2);
    assert_eq!(upload["error"], Value::Null);
    assert!(upload["started_at"].is_string() && upload["finished_at"].is_string());

    // Europe/Paris is UTC+1 in January.
    assert_eq!(
        transactions(db).await,
        vec![
            stored(
                "A-1001",
                "2026-01-29T18:05:00Z",
                ["31.00", "1.00", "2.60", "32.60"],
                2,
                "card"
            ),
            stored(
                "A-1002",
                "2026-01-29T18:17:00Z",
                ["7.25", "0.00", "0.61", "7.86"],
                1,
                "cash"
            ),
        ]
    );
    let lines = items(db).await;
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0].item_name, "Margherita");
    assert_eq!(
        (lines[0].quantity, lines[0].unit_price, lines[0].line_total),
        (d("2"), d("12.5"), d("25.00"))
    );
    assert_eq!(lines[2].item_name, "Soup, of the day");

    let list = api.get("/uploads", Some(&token)).await;
    assert_eq!(list.body["items"][0]["id"], id.as_str());
    assert_eq!(list.body["next_cursor"], Value::Null);
    let errors = api
        .get(&format!("/uploads/{id}/errors"), Some(&token))
        .await;
    assert_eq!(errors.body, json!({"items": [], "next_cursor": null}));
}

#[tokio::test]
async fn messy_files_bom_crlf_quoted_newlines_thousands_and_blank_lines() {
    let (app, token) = TestApp::signed_in(OWNER).await;
    let db = &app.db;
    let api = &app.api;
    let messy = "\u{feff}Order ID,Ordered At,Item Name,Category,Qty,Price,Discount,Tax,Payment Method\r\n\
                 \r\n\
                 M-1,2026-01-29 19:05,\"Chef's \"\"special\"\"\r\nplatter\",Mains,1,\"$1,234.50\",0,98.76,Card\r\n\
                 \r\n\
                 M-2,01/29/2026 7:30 PM,Water,,2,$2.00,,,\r\n";
    let (_, upload) = api.ingest(&token, "messy.csv", messy.as_bytes()).await;
    assert_eq!(upload["status"], "completed", "{upload}");
    assert_eq!(upload["rows_total"], 2);
    let tx = transactions(db).await;
    assert_eq!(tx[0].subtotal, d("1234.50"));
    assert_eq!(tx[0].total, d("1333.26"));
    assert_eq!(tx[1].ordered_at, "2026-01-29T18:30:00Z");
    assert_eq!(tx[1].payment_method, "other");
    let lines = items(db).await;
    assert_eq!(lines[0].item_name, "Chef's \"special\"\r\nplatter");
    assert_eq!(lines[1].category, None);
}

#[tokio::test]
async fn semicolons_with_decimal_commas_and_windows_1252() {
    let (app, token) = TestApp::signed_in(OWNER).await;
    let db = &app.db;
    let api = &app.api;
    let semicolon = "order_id;ordered_at;item_name;quantity;unit_price;tax\nS-1;2026-01-29 19:05;Café;2;1.234,50;0,61\n";
    let id = api.upload(&token, "eu.csv", semicolon.as_bytes()).await;
    assert_eq!(api.wait_final(&token, &id).await["status"], "completed");
    let mut latin: Vec<u8> =
        b"order_id,ordered_at,item_name,quantity,unit_price\nW-1,2026-01-29 19:05,Cr".to_vec();
    latin.extend_from_slice(b"\xe8me br\xfbl\xe9e,1,\x805.00\n");
    let (_, upload) = api.ingest(&token, "windows.csv", &latin).await;
    assert_eq!(upload["status"], "completed", "{upload}");
    let lines = items(db).await;
    assert_eq!(
        (lines[0].item_name.as_str(), lines[0].line_total),
        ("Café", d("2469.00"))
    );
    assert_eq!(
        (lines[1].item_name.as_str(), lines[1].unit_price),
        ("Crème brûlée", d("5"))
    );
}

#[tokio::test]
async fn square_and_toast_exports_are_mapped() {
    let (app, token) = TestApp::signed_in(OWNER).await;
    let db = &app.db;
    let api = &app.api;
    let square = "Date,Time,Time Zone,Category,Item,Qty,Price Point Name,SKU,Modifiers Applied,Gross Sales,Discounts,Net Sales,Tax,Transaction ID,Payment ID,Device Name,Notes,Details,Event Type,Location,Dining Option,Customer ID,Customer Name,Customer Reference ID,Unit,Count,Itemization Type,Card Brand,PAN Suffix
2026-01-29,19:05:00,Pacific Time (US & Canada),Pizza,Margherita,2,Regular,,,$25.00,($1.00),$24.00,$2.10,SQ-1,P1,iPad,,,Payment,Main,For Here,,,,,,,Visa,1234
2026-01-29,19:05:00,Pacific Time (US & Canada),Drinks,Soda,1,Regular,,,$3.00,$0.00,$3.00,$0.25,SQ-1,P1,iPad,,,Payment,Main,For Here,,,,,,,Visa,1234
2026-01-29,20:00:00,Pacific Time (US & Canada),Pizza,Margherita,1,Regular,,,$12.50,$0.00,$12.50,$1.05,SQ-2,P2,iPad,,,Refund,Main,For Here,,,,,,,,
";
    let (id, upload) = api
        .ingest(&token, "square-items.csv", square.as_bytes())
        .await;
    assert_eq!(upload["status"], "completed_with_errors", "{upload}");
    assert_eq!(
        (&upload["rows_ingested"], &upload["rows_rejected"]),
        (&json!(2), &json!(1))
    );
    let errors = api
        .get(&format!("/uploads/{id}/errors"), Some(&token))
        .await;
    assert_eq!(errors.body["items"][0]["line"], 4);
    assert_eq!(
        errors.body["items"][0]["message"],
        "refunds are not supported"
    );
    let tx = transactions(db).await;
    // 19:05 in Los Angeles (UTC-8) is 03:05 UTC the next day.
    assert_eq!(
        tx[0],
        stored(
            "SQ-1",
            "2026-01-30T03:05:00Z",
            ["28.00", "1.00", "2.35", "29.35"],
            2,
            "card"
        )
    );

    let toast = "Location,Order Id,Order #,Sent Date,Order Date,Check Id,Server,Table,Dining Area,Service,Dining Option,Item Selection Id,Item Id,Master Id,SKU,PLU,Menu Item,Menu Subgroup(s),Menu Group,Menu,Sales Category,Gross Price,Discount,Net Price,Qty,Tax,Void?,Deferred,Tax Exempt,Tax Inclusion Option,Dining Option Tax,Tab Name
Main,T-100,1,01/29/2026 19:10,01/29/2026 19:05,C1,Ann,4,Patio,Dinner,Dine In,S1,I1,M1,,,Burger,,Mains,Dinner,Food,30.00,3.00,27.00,2,2.50,false,false,false,,,
Main,T-100,1,01/29/2026 19:10,01/29/2026 19:05,C1,Ann,4,Patio,Dinner,Dine In,S2,I2,M2,,,Fries,,Sides,Dinner,,4.00,0.00,4.00,1,0.34,false,false,false,,,
Main,T-100,1,01/29/2026 19:10,01/29/2026 19:05,C1,Ann,4,Patio,Dinner,Dine In,S3,I3,M3,,,Shake,,Drinks,Dinner,Beverage,6.00,0.00,6.00,1,0.50,true,false,false,,,
";
    let (_, upload) = api
        .ingest(&token, "ItemSelectionDetails.csv", toast.as_bytes())
        .await;
    assert_eq!(upload["status"], "completed", "{upload}");
    assert_eq!(
        (
            &upload["rows_total"],
            &upload["rows_ingested"],
            &upload["rows_rejected"]
        ),
        (&json!(3), &json!(2), &json!(0))
    );
    let lines = items(db).await;
    let burger = lines.iter().find(|l| l.item_name == "Burger").unwrap();
    assert_eq!(
        (
            burger.category.as_deref(),
            burger.unit_price,
            burger.line_total
        ),
        (Some("Food"), d("15"), d("30.00"))
    );
    let fries = lines.iter().find(|l| l.item_name == "Fries").unwrap();
    assert_eq!(fries.category.as_deref(), Some("Sides"));
    assert!(
        !lines.iter().any(|l| l.item_name == "Shake"),
        "voided lines are skipped"
    );
}

#[tokio::test]
async fn whole_file_failures_have_one_clear_error_and_write_nothing() {
    let (app, token) = TestApp::signed_in(OWNER).await;
    let db = &app.db;
    let api = &app.api;
    let cases: [(&str, &[u8], &str); 4] = [
        (
            "missing.csv",
            b"ordered_at,item_name,quantity,unit_price\n2026-01-29 19:05,x,1,2\n",
            "missing required column: order_id",
        ),
        (
            "image.csv",
            b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x10",
            "the file is not a CSV file (it contains binary data)",
        ),
        (
            "header.csv",
            b"order_id,ordered_at,item_name,quantity,unit_price\r\n",
            "the file has a header row but no data rows",
        ),
        ("blank.csv", b"\r\n\r\n", "the file is empty"),
    ];
    for (name, bytes, error) in cases {
        let (_, upload) = api.ingest(&token, name, bytes).await;
        assert_eq!(upload["status"], "failed", "{name}: {upload}");
        assert_eq!(upload["error"], error, "{name}");
        assert_eq!(upload["rows_ingested"], 0);
    }
    assert!(transactions(db).await.is_empty());
}

#[tokio::test]
async fn a_file_where_every_row_is_bad_fails_and_lists_its_rows() {
    let (app, token) = TestApp::signed_in(OWNER).await;
    let db = &app.db;
    let api = &app.api;
    let bad = "order_id,ordered_at,item_name,quantity,unit_price\nB-1,someday,x,1,2\nB-2,2026-01-29 19:05,y,abc,2\n,2026-01-29 19:05,z,1,2\nB-4,2026-01-29 19:05,w,1\n";
    let (id, upload) = api.ingest(&token, "bad.csv", bad.as_bytes()).await;
    assert_eq!(upload["status"], "failed", "{upload}");
    assert_eq!(upload["error"], "no valid rows");
    assert_eq!(
        (&upload["rows_total"], &upload["rows_rejected"]),
        (&json!(4), &json!(4))
    );
    let errors = api
        .get(&format!("/uploads/{id}/errors?limit=2"), Some(&token))
        .await;
    assert_eq!(errors.body["items"].as_array().unwrap().len(), 2);
    assert_eq!(
        errors.body["items"][0],
        json!({"line": 2, "column": "ordered_at", "value": "someday",
        "message": "is not a date-time (use 2026-01-29 19:05, 01/29/2026 7:05 PM, or RFC 3339)"})
    );
    assert_eq!(errors.body["items"][1]["column"], "quantity");
    let cursor = errors.body["next_cursor"].as_str().unwrap();
    let rest = api
        .get(
            &format!("/uploads/{id}/errors?cursor={cursor}"),
            Some(&token),
        )
        .await;
    let lines: Vec<i64> = rest.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["line"].as_i64().unwrap())
        .collect();
    assert_eq!(lines, vec![4, 5]);
    assert_eq!(
        rest.body["items"][1]["message"],
        "expected 5 fields, found 4"
    );
    assert_eq!(rest.body["next_cursor"], Value::Null);
    assert!(transactions(db).await.is_empty());
    let bad_limit = api
        .get(&format!("/uploads/{id}/errors?limit=500"), Some(&token))
        .await;
    assert_eq!(bad_limit.status, 400);
    let bad_cursor = api
        .get(&format!("/uploads/{id}/errors?cursor=nope"), Some(&token))
        .await;
    assert_eq!(bad_cursor.status, 400);
}

#[tokio::test]
async fn disagreeing_rows_and_already_ingested_orders() {
    let (app, token) = TestApp::signed_in(OWNER).await;
    let db = &app.db;
    let api = &app.api;
    let first = "order_id,ordered_at,item_name,quantity,unit_price\nD-1,2026-01-29 19:05,a,1,1\nD-1,2026-01-29 19:06,b,1,1\nD-2,2026-01-29 19:07,c,1,1\n";
    let (id, upload) = api.ingest(&token, "first.csv", first.as_bytes()).await;
    assert_eq!(upload["status"], "completed_with_errors", "{upload}");
    assert_eq!(
        (&upload["rows_ingested"], &upload["rows_rejected"]),
        (&json!(2), &json!(1))
    );
    let errors = api
        .get(&format!("/uploads/{id}/errors"), Some(&token))
        .await;
    assert_eq!(errors.body["items"][0]["line"], 3);
    assert!(errors.body["items"][0]["message"]
        .as_str()
        .unwrap()
        .contains("first row of order D-1"));

    let second = "order_id,ordered_at,item_name,quantity,unit_price\nD-2,2026-01-29 19:07,c,1,1\nD-3,2026-01-29 19:08,d,2,1\n";
    let (_, upload) = api.ingest(&token, "second.csv", second.as_bytes()).await;
    assert_eq!(upload["status"], "completed", "{upload}");
    assert_eq!(
        (
            &upload["rows_ingested"],
            &upload["rows_duplicate"],
            &upload["transactions_ingested"]
        ),
        (&json!(1), &json!(1), &json!(1))
    );
    assert_eq!(transactions(db).await.len(), 3);
}

/// `orders` orders from `first`, each of `lines_per_order` lines of 1.00
/// at one minute of 2026-01-29.
fn many_orders(first: usize, orders: usize, lines_per_order: usize) -> String {
    let mut csv = String::from("order_id,ordered_at,item_name,quantity,unit_price\n");
    for order in first..first + orders {
        for line in 0..lines_per_order {
            csv.push_str(&format!(
                "M-{order:06},2026-01-29 {:02}:{:02},item {line},1,1.00\n",
                order / 60 % 24,
                order % 60
            ));
        }
    }
    csv
}

#[tokio::test]
async fn large_files_with_orders_already_ingested_count_them_as_duplicates() {
    let (app, token) = TestApp::signed_in(OWNER).await;
    let db = &app.db;
    let api = &app.api;
    // 30,000 lines: several statements' worth, so orders already stored
    // show up in more than one of them.
    let (_, upload) = api
        .ingest(&token, "first.csv", many_orders(0, 10_000, 3).as_bytes())
        .await;
    assert_eq!(
        (
            &upload["status"],
            &upload["rows_ingested"],
            &upload["transactions_ingested"]
        ),
        (&json!("completed"), &json!(30_000), &json!(10_000)),
        "{upload}"
    );
    // Half of the second file's orders are in the first one.
    let (_, upload) = api
        .ingest(
            &token,
            "second.csv",
            many_orders(5_000, 10_000, 3).as_bytes(),
        )
        .await;
    assert_eq!(
        (
            &upload["status"],
            &upload["rows_total"],
            &upload["rows_ingested"],
            &upload["rows_duplicate"],
            &upload["transactions_ingested"]
        ),
        (
            &json!("completed"),
            &json!(30_000),
            &json!(15_000),
            &json!(15_000),
            &json!(5_000)
        ),
        "{upload}"
    );
    let client = db.superuser().await;
    let row = client
        .query_one(
            "SELECT count(*), sum(item_count), sum(total)::text, count(DISTINCT upload_id)
             FROM transactions",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, i64>(0), 15_000);
    assert_eq!(row.get::<_, i64>(1), 45_000);
    assert_eq!(row.get::<_, String>(2), "45000.00");
    assert_eq!(row.get::<_, i64>(3), 2);
    let orphans: i64 = client
        .query_one(
            "SELECT count(*) FROM transaction_items i
             WHERE NOT EXISTS (SELECT 1 FROM transactions t WHERE t.id = i.transaction_id)",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(orphans, 0);
}

#[tokio::test]
async fn an_order_spread_across_the_file_is_still_one_transaction() {
    let (app, token) = TestApp::signed_in(OWNER).await;
    let db = &app.db;
    let api = &app.api;
    // S-1's lines are 20,000 lines apart, with a disagreeing one at the end;
    // interleaved orders in between.
    let mut csv = String::from("order_id,ordered_at,item_name,quantity,unit_price\n");
    csv.push_str("S-1,2026-01-29 19:05,first,1,10.00\n");
    csv.push_str(
        &many_orders(0, 10_000, 2)["order_id,ordered_at,item_name,quantity,unit_price\n".len()..],
    );
    csv.push_str("S-1,2026-01-29 19:05,second,2,2.50\n");
    csv.push_str("S-1,2026-01-29 19:06,late,1,1.00\n");
    let (id, upload) = api.ingest(&token, "spread.csv", csv.as_bytes()).await;
    assert_eq!(
        (
            &upload["status"],
            &upload["rows_total"],
            &upload["rows_ingested"],
            &upload["rows_rejected"],
            &upload["rows_duplicate"],
            &upload["transactions_ingested"]
        ),
        (
            &json!("completed_with_errors"),
            &json!(20_003),
            &json!(20_002),
            &json!(1),
            &json!(0),
            &json!(10_001)
        ),
        "{upload}"
    );
    let errors = api
        .get(&format!("/uploads/{id}/errors"), Some(&token))
        .await;
    assert_eq!(errors.body["items"][0]["line"], 20_004, "{}", errors.body);
    let spread: Vec<_> = transactions(db)
        .await
        .into_iter()
        .filter(|t| t.order_id == "S-1")
        .collect();
    assert_eq!(
        spread,
        [stored(
            "S-1",
            "2026-01-29T18:05:00Z",
            ["15.00", "0.00", "0.00", "15.00"],
            2,
            "other"
        )]
    );
}

/// An upload URL is good for one file: a second PUT, even within the
/// URL's 15 minutes, is refused, and what was ingested stays what is stored.
#[tokio::test]
async fn an_upload_url_takes_one_file_only() {
    let (app, token) = TestApp::signed_in(OWNER).await;
    let db = &app.db;
    let stack = &app.stack;
    let api = &app.api;
    let created = api
        .post_auth(
            "/uploads",
            &token,
            &json!({"filename": "twice.csv", "size_bytes": EXAMPLE.len()}),
        )
        .await;
    let url = created.body["upload_url"].as_str().unwrap().to_string();
    let id = created.body["upload"]["id"].as_str().unwrap().to_string();
    let put = |body: String| {
        let mut request = api.raw().put(&url).body(body);
        for (name, value) in created.body["upload_headers"].as_object().unwrap() {
            request = request.header(name.as_str(), value.as_str().unwrap());
        }
        request.send()
    };
    assert_eq!(
        put(EXAMPLE.to_string()).await.unwrap().status().as_u16(),
        200
    );
    api.wait_final(&token, &id).await;
    // Same size, other contents: what a second PUT would have swapped in.
    let other = EXAMPLE.replace("Margherita", "Marinara  ");
    assert_eq!(other.len(), EXAMPLE.len());
    let second = put(other).await.unwrap();
    assert_eq!(second.status().as_u16(), 412);
    assert!(second.text().await.unwrap().contains("PreconditionFailed"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let upload = api.wait_final(&token, &id).await;
    assert_eq!(
        (&upload["status"], &upload["rows_ingested"]),
        (&json!("completed"), &json!(3))
    );
    assert_eq!(transactions(db).await.len(), 2);
    let uploads = stack.data_dir.join("s3/flux-uploads/uploads");
    let restaurant = std::fs::read_dir(&uploads)
        .unwrap()
        .next()
        .unwrap()
        .unwrap();
    let stored = std::fs::read_to_string(restaurant.path().join(format!("{id}.csv"))).unwrap();
    assert_eq!(stored, EXAMPLE, "the stored file is the one ingested");
}

#[tokio::test]
async fn the_same_event_delivered_twice_and_concurrently_is_ingested_once() {
    let (app, captured) = captured_upload("owner@race.example", EXAMPLE.as_bytes()).await;
    let (db, stack, api) = (&app.db, &app.stack, &app.api);

    let state = &*stack.ingest;
    let (a, b) = tokio::join!(
        flux_csv_ingest::handle(state, captured.event.clone(), "test"),
        flux_csv_ingest::handle(state, captured.event.clone(), "test")
    );
    // One ingests; the other finds it busy (and Lambda would retry) or done.
    assert!(a.is_ok() || b.is_ok(), "{a:?} {b:?}");
    flux_csv_ingest::handle(state, captured.event.clone(), "test")
        .await
        .expect("a late duplicate is a no-op");
    let upload = api.wait_final(&captured.token, &captured.id).await;
    assert_eq!(
        (&upload["status"], &upload["rows_ingested"]),
        (&json!("completed"), &json!(3))
    );
    assert_eq!(transactions(db).await.len(), 2);
    assert_eq!(items(db).await.len(), 3);

    // Keys that are not uploads, or uploads that do not exist, are dropped.
    let mut stray = captured.event.clone();
    stray.records[0].s3.object.key = Some("uploads/not-a-uuid/x.csv".into());
    flux_csv_ingest::handle(state, stray, "test")
        .await
        .expect("dropped");
    let mut unknown = captured.event;
    unknown.records[0].s3.object.key = Some(format!(
        "uploads/{}/{}.csv",
        uuid::Uuid::new_v4(),
        uuid::Uuid::new_v4()
    ));
    flux_csv_ingest::handle(state, unknown, "test")
        .await
        .expect("dropped");
}

#[tokio::test]
async fn an_order_a_concurrent_upload_is_inserting_becomes_a_duplicate_when_it_commits() {
    let (app, captured) = captured_upload("owner@overlap.example", EXAMPLE.as_bytes()).await;
    let (db, stack, api) = (&app.db, &app.stack, &app.api);
    // Another upload is landing A-1001 (two lines in EXAMPLE) and has not
    // committed yet.
    let other = hold_order(db, api, &captured.token, "A-1001").await;
    let state = stack.ingest.clone();
    let ingest =
        tokio::spawn(async move { flux_csv_ingest::handle(&state, captured.event, "test").await });
    // The ingest waits for the other upload.
    wait_until_blocked(db).await;
    other.batch_execute("COMMIT").await.unwrap();
    ingest.await.unwrap().unwrap();
    let upload = api.wait_final(&captured.token, &captured.id).await;
    assert_eq!(
        (
            &upload["status"],
            &upload["rows_ingested"],
            &upload["rows_duplicate"],
            &upload["transactions_ingested"]
        ),
        (&json!("completed"), &json!(1), &json!(2), &json!(1)),
        "{upload}"
    );
    assert_eq!(items(db).await.len(), 1);
}

#[tokio::test]
async fn uploads_are_invisible_to_other_restaurants() {
    let (app, token) = TestApp::signed_in(OWNER).await;
    let api = &app.api;
    let other = owner_token(api, "other@rival.example", "Rival").await;
    let id = api.upload(&token, "mine.csv", EXAMPLE.as_bytes()).await;
    api.wait_final(&token, &id).await;
    for path in [format!("/uploads/{id}"), format!("/uploads/{id}/errors")] {
        let reply = api.get(&path, Some(&other)).await;
        assert_eq!(reply.status, 404, "{path}");
        assert_eq!(reply.header("content-type"), "application/problem+json");
    }
    assert_eq!(
        api.get("/uploads", Some(&other)).await.body["items"],
        json!([])
    );
    assert_eq!(
        api.get("/uploads/not-a-uuid", Some(&token)).await.status,
        404
    );
    assert_eq!(
        api.get(&format!("/uploads/{}", uuid::Uuid::new_v4()), Some(&token))
            .await
            .status,
        404
    );
    assert_eq!(api.get("/uploads", None).await.status, 401);
}

#[tokio::test]
async fn upload_requests_are_validated_and_urls_are_bounded() {
    let (app, token) = TestApp::signed_in(OWNER).await;
    let db = &app.db;
    let api = &app.api;
    let cases = [
        (
            json!({"filename": "sales.xlsx", "size_bytes": 10}),
            400,
            "filename",
        ),
        (
            json!({"filename": "sales.csv", "size_bytes": 0}),
            400,
            "size_bytes",
        ),
        (json!({"filename": "sales.csv"}), 400, "size_bytes"),
        (
            json!({"filename": "sales.csv", "size_bytes": "ten"}),
            400,
            "size_bytes",
        ),
        (
            json!({"filename": "sales.csv", "size_bytes": (1i64 << 30) + 1}),
            413,
            "",
        ),
    ];
    for (body, status, field) in cases {
        let reply = api.post_auth("/uploads", &token, &body).await;
        assert_eq!(reply.status, status, "{body} {:?}", reply.body);
        if !field.is_empty() {
            assert_eq!(reply.body["errors"][0]["field"], field, "{body}");
        }
    }
    assert_eq!(
        api.send(
            api.raw()
                .post(format!("{}/uploads", api.base))
                .json(&json!({"filename": "a.csv", "size_bytes": 1}))
        )
        .await
        .status,
        401
    );

    let created = api
        .post_auth(
            "/uploads",
            &token,
            &json!({"filename": "Sales.CSV", "size_bytes": 10}),
        )
        .await;
    assert_eq!(created.status, 201);
    assert_eq!(created.header("cache-control"), "no-store");
    assert_eq!(created.body["upload_method"], "PUT");
    assert_eq!(
        created.body["upload_headers"],
        json!({"content-type": "text/csv", "if-none-match": "*"})
    );
    assert_eq!(created.body["upload"]["status"], "awaiting_upload");
    let url = created.body["upload_url"].as_str().unwrap();
    assert!(url.contains("X-Amz-Expires=900"), "{url}");
    // A body of another size than the one signed is refused by the store.
    let too_big = api
        .raw()
        .put(url)
        .header("content-type", "text/csv")
        .body(vec![b'x'; 11])
        .send()
        .await
        .unwrap();
    assert_eq!(too_big.status().as_u16(), 403);

    // An upload whose URL expired with no file is reported expired.
    let id = created.body["upload"]["id"].as_str().unwrap();
    db.superuser()
        .await
        .execute(
            "UPDATE data_uploads SET url_expires_at = now() - interval '1 second'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        api.get(&format!("/uploads/{id}"), Some(&token)).await.body["status"],
        "expired"
    );
}

#[tokio::test]
async fn upload_lists_are_paginated_newest_first() {
    let (app, token) = TestApp::signed_in(OWNER).await;
    let api = &app.api;
    let mut ids = Vec::new();
    for i in 0..3 {
        let reply = api
            .post_auth(
                "/uploads",
                &token,
                &json!({"filename": format!("f{i}.csv"), "size_bytes": 5}),
            )
            .await;
        ids.push(reply.body["upload"]["id"].as_str().unwrap().to_string());
    }
    let page = api.get("/uploads?limit=2", Some(&token)).await;
    let first: Vec<&str> = page.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_str().unwrap())
        .collect();
    assert_eq!(first, vec![ids[2].as_str(), ids[1].as_str()]);
    let cursor = page.body["next_cursor"].as_str().unwrap();
    let next = api
        .get(&format!("/uploads?limit=2&cursor={cursor}"), Some(&token))
        .await;
    assert_eq!(next.body["items"][0]["id"], ids[0].as_str());
    assert_eq!(next.body["next_cursor"], Value::Null);
    assert_eq!(api.get("/uploads?limit=0", Some(&token)).await.status, 400);
}

#[tokio::test]
async fn a_live_claim_is_left_alone_and_a_stale_one_is_taken_over() {
    let (app, captured) = captured_upload("owner@crash.example", EXAMPLE.as_bytes()).await;
    let (db, stack, api) = (&app.db, &app.stack, &app.api);
    let state = &*stack.ingest;
    let superuser = db.superuser().await;

    // Another invocation holds the upload and is alive: Lambda should retry later.
    superuser
        .execute(
            "UPDATE data_uploads SET status = 'processing', claim_id = gen_random_uuid(), heartbeat_at = now()",
            &[],
        )
        .await
        .unwrap();
    let busy = flux_csv_ingest::handle(state, captured.event.clone(), "test").await;
    assert!(
        matches!(busy, Err(flux_csv_ingest::IngestError::Busy(_))),
        "{busy:?}"
    );
    assert!(transactions(db).await.is_empty());

    // It crashed: its heartbeat went stale, and the retry takes over.
    superuser
        .execute(
            "UPDATE data_uploads SET heartbeat_at = now() - interval '1 minute'",
            &[],
        )
        .await
        .unwrap();
    flux_csv_ingest::handle(state, captured.event, "test")
        .await
        .expect("takes over");
    let upload = api.wait_final(&captured.token, &captured.id).await;
    assert_eq!(
        (&upload["status"], &upload["rows_ingested"]),
        (&json!("completed"), &json!(3))
    );
    assert_eq!(transactions(db).await.len(), 2);
}

/// Holds order `order_id` of the caller's restaurant in an open transaction,
/// as a concurrent upload would: an ingest reaching that order waits there.
async fn hold_order(db: &TestDb, api: &Api, token: &str, order_id: &str) -> tokio_postgres::Client {
    let me = api.get("/auth/me", Some(token)).await;
    let restaurant = me.body["restaurant"]["id"].as_str().unwrap().to_string();
    let client = db.superuser().await;
    client
        .batch_execute(&format!(
            "BEGIN; INSERT INTO transactions (id, restaurant_id, order_id, ordered_at, subtotal, total, item_count)
             VALUES ((nextval('transaction_blocks') << 32) + 1, '{restaurant}', '{order_id}', now(), 1, 1, 1)"
        ))
        .await
        .unwrap();
    client
}

/// Waits until an ingest is blocked behind another transaction's lock.
async fn wait_until_blocked(db: &TestDb) {
    let client = db.superuser().await;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let waiting: i64 = client
            .query_one(
                "SELECT count(*) FROM pg_stat_activity
                 WHERE datname = current_database() AND wait_event_type = 'Lock'
                   AND query LIKE '%INSERT INTO transactions%'",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        if waiting > 0 {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the ingest never got blocked"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn upload_row(db: &TestDb, id: &str) -> (String, Option<uuid::Uuid>) {
    let row = db
        .superuser()
        .await
        .query_one(
            "SELECT status::text, claim_id FROM data_uploads WHERE id = $1::text::uuid",
            &[&id],
        )
        .await
        .unwrap();
    (row.get(0), row.get(1))
}

/// An ingest of a 30,000-line file paused mid-file: it has landed its first
/// stretches and waits at order M-008000, which `blocker` holds uncommitted.
struct PausedIngest {
    app: TestApp,
    captured: CapturedUpload,
    blocker: tokio_postgres::Client,
    worker: tokio::task::JoinHandle<Result<(), flux_csv_ingest::IngestError>>,
}

async fn pause_an_ingest_mid_file(email: &str) -> PausedIngest {
    let csv = many_orders(0, 10_000, 3);
    let (app, captured) = captured_upload(email, csv.as_bytes()).await;
    let db = &app.db;
    let blocker = hold_order(db, &app.api, &captured.token, "M-008000").await;
    let state = app.stack.ingest.clone();
    let worker = tokio::spawn({
        let event = captured.event.clone();
        async move { flux_csv_ingest::handle(&state, event, "test").await }
    });
    wait_until_blocked(db).await;
    PausedIngest {
        app,
        captured,
        blocker,
        worker,
    }
}

#[tokio::test]
async fn a_worker_killed_mid_ingest_leaves_nothing_and_the_retry_ingests_once() {
    let PausedIngest {
        app,
        captured,
        blocker,
        worker,
    } = pause_an_ingest_mid_file("owner@killed.example").await;
    let (db, id) = (&app.db, &captured.id);
    worker.abort();
    let _ = worker.await;
    blocker.batch_execute("ROLLBACK").await.unwrap();
    assert!(transactions(db).await.is_empty(), "nothing half-ingested");
    assert_eq!(upload_row(db, id).await.0, "processing");

    // Lambda retries about a minute later: the dead worker's claim is stale.
    db.superuser()
        .await
        .execute(
            "UPDATE data_uploads SET heartbeat_at = now() - interval '1 minute'",
            &[],
        )
        .await
        .unwrap();
    flux_csv_ingest::handle(&app.stack.ingest, captured.event, "test")
        .await
        .expect("the retry takes over");
    let upload = app.api.wait_final(&captured.token, id).await;
    assert_eq!(
        (
            &upload["status"],
            &upload["rows_ingested"],
            &upload["transactions_ingested"]
        ),
        (&json!("completed"), &json!(30_000), &json!(10_000)),
        "{upload}"
    );
    assert_eq!(items(db).await.len(), 30_000);
}

#[tokio::test]
async fn a_worker_whose_claim_was_taken_over_commits_nothing() {
    let PausedIngest {
        app,
        captured,
        blocker,
        worker,
    } = pause_an_ingest_mid_file("owner@superseded.example").await;
    let (db, id) = (&app.db, &captured.id);
    // Meanwhile a retry decided this worker was dead and claimed the upload.
    let newer = uuid::Uuid::new_v4();
    db.superuser()
        .await
        .execute(
            "UPDATE data_uploads SET claim_id = $2, heartbeat_at = now() WHERE id = $1::text::uuid",
            &[&id, &newer],
        )
        .await
        .unwrap();
    blocker.batch_execute("ROLLBACK").await.unwrap();
    worker
        .await
        .unwrap()
        .expect("a superseded worker stops quietly");
    assert!(transactions(db).await.is_empty(), "it committed nothing");
    assert_eq!(
        upload_row(db, id).await,
        ("processing".to_string(), Some(newer))
    );
}

/// PostgreSQL cannot store NUL. In the first 64 KiB it marks a binary file
/// (failed as a whole); later, a row carrying one is rejected on its own,
/// and its error is stored and listed (with the NUL shown as U+FFFD).
#[tokio::test]
async fn a_nul_byte_past_the_sniffed_start_rejects_its_row_only() {
    let (app, token) = TestApp::signed_in(OWNER).await;
    let api = &app.api;
    // 3,000 lines (over 64 KiB) before the bad one, on line 3,002.
    let mut csv = many_orders(0, 1_000, 3);
    csv.push_str("N-1,2026-01-29 19:05,Pi\0zza,1,12.50\n");
    let (id, upload) = api.ingest(&token, "nul.csv", csv.as_bytes()).await;
    assert_eq!(
        (
            &upload["status"],
            &upload["rows_ingested"],
            &upload["rows_rejected"]
        ),
        (&json!("completed_with_errors"), &json!(3_000), &json!(1)),
        "{upload}"
    );
    let errors = api
        .get(&format!("/uploads/{id}/errors"), Some(&token))
        .await;
    assert_eq!(
        errors.body["items"][0],
        json!({"line": 3_002, "column": "item_name", "value": "Pi\u{FFFD}zza", "message": "must not contain NUL characters"})
    );
}

/// API.md: while processing, bytes_processed, rows_total and rows_ingested
/// grow (never backwards), rows_ingested never exceeds rows_total, and the
/// figures come often enough to draw a progress bar.
#[tokio::test]
async fn progress_grows_steadily_and_never_counts_more_ingested_than_read() {
    let (app, token) = TestApp::signed_in(OWNER).await;
    let api = &app.api;
    let mut csv = String::from("order_id,ordered_at,item_name,quantity,unit_price\n");
    for order in 0..150_000 {
        csv.push_str(&format!("P-{order:07},2026-01-29 19:05,item,1,1.00\n"));
    }
    let id = api.upload(&token, "progress.csv", csv.as_bytes()).await;
    let landed = std::time::Instant::now();
    let mut seen: Vec<(Duration, i64, i64, i64)> = Vec::new();
    let upload = loop {
        let upload = api.get(&format!("/uploads/{id}"), Some(&token)).await.body;
        let figures = (
            upload["bytes_processed"].as_i64().unwrap(),
            upload["rows_total"].as_i64().unwrap(),
            upload["rows_ingested"].as_i64().unwrap(),
        );
        assert!(figures.2 <= figures.1, "ingested above read: {upload}");
        if seen.last().map(|s| (s.1, s.2, s.3)) != Some(figures) {
            seen.push((landed.elapsed(), figures.0, figures.1, figures.2));
        }
        if upload["status"] != "processing" && upload["status"] != "awaiting_upload" {
            break upload;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    };
    assert_eq!(upload["status"], "completed", "{upload}");
    assert_eq!(upload["bytes_processed"], upload["size_bytes"]);
    for pair in seen.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        assert!(
            b.1 >= a.1 && b.2 >= a.2 && b.3 >= a.3,
            "a figure went back: {seen:?}"
        );
    }
    // Several distinct readings on the way, not 0 then done.
    let moving = seen
        .iter()
        .filter(|s| s.1 > 0 && s.1 < csv.len() as i64)
        .count();
    assert!(moving >= 3, "{seen:?}");
}
