//! Out-of-range amounts, over-long records and crafted rows reject a row or
//! an order, or fail the upload with a clear message: never a panic, never
//! internal text, never an upload stuck `processing`.

use flux_tests::{Api, TestApp};
use serde_json::{json, Value};

const OWNER: (&str, &str) = ("owner@bounds.example", "Bounds");

async fn errors(api: &Api, token: &str, id: &str) -> Vec<Value> {
    let reply = api
        .get(&format!("/uploads/{id}/errors?limit=200"), Some(token))
        .await;
    reply.body["items"].as_array().unwrap().clone()
}

const HEADER: &str = "order_id,ordered_at,item_name,quantity,unit_price,discount,tax\n";

/// 101 lines of 9,999,999.90: each line is in range, their order is not.
fn huge_order(order_id: &str) -> String {
    (0..101)
        .map(|i| format!("{order_id},2026-01-29 19:05,line {i},10,999999.99,,\n"))
        .collect()
}

#[tokio::test]
async fn crafted_amounts_reject_their_row_or_their_order_not_the_file() {
    let (app, token) = TestApp::signed_in(OWNER).await;
    let db = &app.db;
    let api = &app.api;
    let mut csv = String::from(HEADER);
    csv.push_str("P-1,2026-01-29 19:05,Max price,2,79228162514264337593543950335,,\n"); // line 2
    csv.push_str("P-2,2026-01-29 19:05,Huge discount,1,5.00,10000000000.00,\n"); // 3
    csv.push_str("P-3,2026-01-29 19:05,Huge tax,1,5.00,,100000000000000000000\n"); // 4
    csv.push_str("P-4,2026-01-29 19:05,Odd tax,1,5.00,,1e20\n"); // 5
    csv.push_str("OK-1,2026-01-29 19:06,Soup,2,7.25,0.50,0.61\n"); // 6
    csv.push_str(&huge_order("BIG")); // 7..=107
    csv.push_str("OK-2,2026-01-29 19:07,Tea,1,3.00,,\n"); // 108
    let (id, upload) = api.ingest(&token, "crafted.csv", csv.as_bytes()).await;
    assert_eq!(
        (
            &upload["status"],
            &upload["rows_total"],
            &upload["rows_ingested"],
            &upload["rows_rejected"],
            &upload["transactions_ingested"],
            &upload["error"]
        ),
        (
            &json!("completed_with_errors"),
            &json!(107),
            &json!(2),
            &json!(105),
            &json!(2),
            &Value::Null
        ),
        "{upload}"
    );
    let errors = errors(api, &token, &id).await;
    let by_line = |line: u64| {
        errors
            .iter()
            .find(|e| e["line"] == line)
            .unwrap_or_else(|| panic!("no error on line {line}: {errors:?}"))
    };
    assert_eq!(by_line(2)["column"], "unit_price");
    assert_eq!(by_line(2)["value"], "79228162514264337593543950335");
    assert_eq!(by_line(2)["message"], "must be less than 1,000,000");
    assert_eq!(by_line(3)["column"], "discount");
    assert_eq!(by_line(3)["message"], "must be less than 1,000,000");
    assert_eq!(by_line(4)["column"], "tax");
    assert_eq!(by_line(5)["column"], "tax");
    for line in 7..=107 {
        assert_eq!(by_line(line)["message"], "order total out of range");
        assert_eq!(by_line(line)["column"], "order_id");
        assert_eq!(by_line(line)["value"], "BIG");
    }
    let client = db.superuser().await;
    let orders: Vec<String> = client
        .query("SELECT order_id FROM transactions ORDER BY order_id", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(orders, ["OK-1", "OK-2"]);
}

#[tokio::test]
async fn line_amounts_out_of_range_reject_the_row_in_pos_exports_too() {
    let (app, token) = TestApp::signed_in(OWNER).await;
    let api = &app.api;
    let csv = "Order Id,Order Date,Menu Item,Qty,Gross Price\n\
               T-1,01/29/2026 19:05,Max amount,2,79228162514264337593543950335\n\
               T-2,01/29/2026 19:05,Tiny quantity,0.01,9999999.99\n\
               T-3,01/29/2026 19:05,Too much,1,10000000.00\n\
               T-4,01/29/2026 19:05,Fine,1,9999999.99\n";
    let (id, upload) = api.ingest(&token, "toast.csv", csv.as_bytes()).await;
    assert_eq!(
        (
            &upload["status"],
            &upload["rows_ingested"],
            &upload["rows_rejected"]
        ),
        (&json!("completed_with_errors"), &json!(1), &json!(3)),
        "{upload}"
    );
    let errors = errors(api, &token, &id).await;
    let messages: Vec<(&Value, &Value, &Value)> = errors
        .iter()
        .map(|e| (&e["line"], &e["column"], &e["message"]))
        .collect();
    assert_eq!(
        messages,
        [
            (
                &json!(2),
                &json!("line_total"),
                &json!("line amount out of range")
            ),
            (
                &json!(3),
                &json!("line_total"),
                &json!("gives a unit price (line amount / quantity) of 100,000,000 or more")
            ),
            (
                &json!(4),
                &json!("line_total"),
                &json!("line amount out of range")
            ),
        ]
    );
}

/// An order spread across the file lands through staging, which applies
/// the same bounds in SQL.
#[tokio::test]
async fn orders_out_of_range_are_rejected_on_the_staged_path_too() {
    let (app, token) = TestApp::signed_in(OWNER).await;
    let db = &app.db;
    let api = &app.api;
    let mut csv = String::from(HEADER);
    csv.push_str("SPREAD,2026-01-29 19:00,first,1,1.00,,\n"); // line 2
    for i in 0..3000 {
        csv.push_str(&format!("F-{i:05},2026-01-29 19:01,filler,1,1.00,,\n"));
    }
    csv.push_str(&huge_order("BIG")); // lines 3003..=3103
    csv.push_str("SPREAD,2026-01-29 19:00,last,1,2.00,,\n"); // 3104
    let (id, upload) = api.ingest(&token, "spread.csv", csv.as_bytes()).await;
    assert_eq!(
        (
            &upload["status"],
            &upload["rows_ingested"],
            &upload["rows_rejected"],
            &upload["transactions_ingested"]
        ),
        (
            &json!("completed_with_errors"),
            &json!(3002),
            &json!(101),
            &json!(3001)
        ),
        "{upload}"
    );
    let errors = errors(api, &token, &id).await;
    assert_eq!(errors.len(), 101);
    assert!(errors
        .iter()
        .all(|e| e["message"] == "order total out of range" && e["value"] == "BIG"));
    let subtotal: rust_decimal::Decimal = db
        .superuser()
        .await
        .query_one(
            "SELECT subtotal FROM transactions WHERE order_id = 'SPREAD'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(subtotal.to_string(), "3.00");
}

#[tokio::test]
async fn a_record_over_64_kib_fails_the_upload_with_its_line() {
    let (app, token) = TestApp::signed_in(OWNER).await;
    let db = &app.db;
    let api = &app.api;
    let mut csv = String::from(HEADER);
    csv.push_str("A-1,2026-01-29 19:05,Soup,1,5.00,,\n");
    // A quoted field with newlines: the record starts on line 3.
    csv.push_str(&format!(
        "A-2,2026-01-29 19:05,\"{}\n{}\",1,5.00,,\n",
        "x".repeat(40_000),
        "y".repeat(40_000)
    ));
    csv.push_str("A-3,2026-01-29 19:05,Tea,1,5.00,,\n");
    let (_, upload) = api.ingest(&token, "long.csv", csv.as_bytes()).await;
    assert_eq!(upload["status"], "failed", "{upload}");
    assert_eq!(upload["error"], "line 3 is longer than 65,536 bytes");
    let stored: i64 = db
        .superuser()
        .await
        .query_one("SELECT count(*) FROM transactions", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(stored, 0, "nothing of a failed upload is kept");

    // Exactly 65,536 bytes is allowed.
    let mut exact = String::from(HEADER);
    let row = "B-1,2026-01-29 19:05,,1,5.00,,";
    let name = "n".repeat(65_536 - row.len());
    exact.push_str(&format!("B-1,2026-01-29 19:05,{name},1,5.00,,\n"));
    let (_, upload) = api.ingest(&token, "exact.csv", exact.as_bytes()).await;
    assert_eq!(upload["status"], "failed", "{upload}");
    assert_eq!(
        upload["error"], "no valid rows",
        "item_name is too long, the record is not"
    );
}
