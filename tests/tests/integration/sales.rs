//! The sales analytics (API.md "Sales analytics") through the local stack:
//! the figures of a known file, local dates and hours across both DST
//! transitions, every 400 of the contract, tenancy, and undoing an upload.

use flux_tests::{captured_upload, owner_token, Api, TestApp};
use serde_json::{json, Value};

const EXAMPLE: &str =
    "order_id,ordered_at,item_name,category,quantity,unit_price,discount,tax,payment_method
A-1001,2026-01-29 19:05,Margherita,Pizza,2,12.50,0,2.10,card
A-1001,2026-01-29 19:05,Tiramisu,Dessert,1,6.00,1.00,0.50,card
A-1002,2026-01-29 19:17,\"Soup, of the day\",Starters,1,$7.25,,0.61,cash
A-1003,2026-01-30 00:30,Margherita,,1,12.50,0,1.05,mobile
A-1004,2026-02-02 12:00,Espresso,Drinks,1.5,2.00,,,
";

const OWNER: (&str, &str) = ("owner@sales.example", "Chez Ventes");

async fn get(api: &Api, token: &str, path: &str) -> Value {
    let reply = api.get(path, Some(token)).await;
    assert_eq!(reply.status, 200, "{path}: {:?}", reply.body);
    assert_eq!(reply.header("cache-control"), "no-store", "{path}");
    reply.body
}

#[tokio::test]
async fn every_view_adds_up_the_file_in_the_restaurants_timezone() {
    let (app, token) = TestApp::signed_in(OWNER).await;
    let api = &app.api;
    let (_, upload) = api.ingest(&token, "sales.csv", EXAMPLE.as_bytes()).await;
    assert_eq!(upload["status"], "completed", "{upload}");

    let summary = get(api, &token, "/sales/summary?from=2026-01-28&to=2026-02-03").await;
    assert_eq!(summary["timezone"], "Europe/Paris");
    assert_eq!(summary["granularity"], "day");
    assert_eq!(
        summary["totals"],
        json!({"orders": 4, "items": 5, "quantity": "6.5", "gross_sales": "53.75",
               "discounts": "1.00", "net_sales": "52.75", "tax": "4.26", "total": "57.01",
               "average_order": "13.19"})
    );
    let buckets = summary["buckets"].as_array().unwrap();
    assert_eq!(buckets.len(), 7, "every day, with the gaps");
    assert_eq!(buckets[0]["start"], "2026-01-28");
    assert_eq!(buckets[0]["orders"], 0);
    assert_eq!(buckets[0]["net_sales"], "0.00");
    assert_eq!(buckets[1]["start"], "2026-01-29");
    assert_eq!(buckets[1]["orders"], 2);
    // 00:30 in Paris on the 30th is still the 29th in UTC: local dates count.
    assert_eq!(buckets[2]["start"], "2026-01-30");
    assert_eq!(buckets[2]["orders"], 1);

    let weeks = get(
        api,
        &token,
        "/sales/summary?from=2026-01-28&to=2026-02-03&granularity=week",
    )
    .await;
    let starts: Vec<&str> = weeks["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["start"].as_str().unwrap())
        .collect();
    assert_eq!(
        starts,
        ["2026-01-26", "2026-02-02"],
        "weeks are labelled by their Monday"
    );
    assert_eq!(weeks["buckets"][0]["orders"], 3);
    let months = get(
        api,
        &token,
        "/sales/summary?from=2026-01-15&to=2026-03-10&granularity=month",
    )
    .await;
    let starts: Vec<&str> = months["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["start"].as_str().unwrap())
        .collect();
    assert_eq!(starts, ["2026-01-01", "2026-02-01", "2026-03-01"]);
    assert_eq!(months["buckets"][2]["orders"], 0);

    let items = get(api, &token, "/sales/items?from=2026-01-01&to=2026-02-28").await;
    assert_eq!(items["items"][0]["item_name"], "Margherita");
    assert_eq!(
        items["items"][0],
        json!({"item_name": "Margherita", "category": "Pizza", "orders": 2, "quantity": "3",
               "gross_sales": "37.50", "discounts": "0.00", "net_sales": "37.50", "share": 0.7109})
    );
    assert_eq!(items["items"].as_array().unwrap().len(), 4);
    assert_eq!(items["totals"]["orders"], 4);
    let by_quantity = get(
        api,
        &token,
        "/sales/items?from=2026-01-01&to=2026-02-28&order_by=quantity&limit=2",
    )
    .await;
    let names: Vec<&str> = by_quantity["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["item_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Margherita", "Espresso"]);

    let categories = get(
        api,
        &token,
        "/sales/categories?from=2026-01-01&to=2026-02-28",
    )
    .await;
    let rows: Vec<(Value, Value, Value)> = categories["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["category"].clone(),
                c["orders"].clone(),
                c["net_sales"].clone(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            (json!("Pizza"), json!(1), json!("25.00")),
            (Value::Null, json!(1), json!("12.50")),
            (json!("Starters"), json!(1), json!("7.25")),
            (json!("Dessert"), json!(1), json!("5.00")),
            (json!("Drinks"), json!(1), json!("3.00")),
        ]
    );

    let hours = get(api, &token, "/sales/hours?from=2026-01-01&to=2026-02-28").await;
    let cells = hours["cells"].as_array().unwrap();
    assert_eq!(cells.len(), 168);
    // Thursday 29 January, 19:00 Paris: two orders.
    assert_eq!(
        cells[3 * 24 + 19],
        json!({"weekday": 4, "hour": 19, "orders": 2, "net_sales": "37.25"})
    );
    assert_eq!(
        cells[4 * 24],
        json!({"weekday": 5, "hour": 0, "orders": 1, "net_sales": "12.50"})
    );

    let payments = get(api, &token, "/sales/payments?from=2026-01-01&to=2026-02-28").await;
    assert_eq!(
        payments["items"],
        json!([
            {"payment_method": "card", "orders": 1, "total": "32.60", "share": 0.5718},
            {"payment_method": "cash", "orders": 1, "total": "7.86", "share": 0.1379},
            {"payment_method": "mobile", "orders": 1, "total": "13.55", "share": 0.2377},
            {"payment_method": "gift_card", "orders": 0, "total": "0.00", "share": 0.0},
            {"payment_method": "other", "orders": 1, "total": "3.00", "share": 0.0526}
        ])
    );

    let list = get(
        api,
        &token,
        "/sales/transactions?from=2026-01-01&to=2026-02-28&limit=3",
    )
    .await;
    let orders: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["order_id"].as_str().unwrap())
        .collect();
    assert_eq!(orders, ["A-1004", "A-1003", "A-1002"], "newest first");
    assert_eq!(list["items"][1]["ordered_at"], "2026-01-29T23:30:00.000Z");
    let cursor = list["next_cursor"].as_str().unwrap();
    let next = get(
        api,
        &token,
        &format!("/sales/transactions?from=2026-01-01&to=2026-02-28&limit=3&cursor={cursor}"),
    )
    .await;
    assert_eq!(next["items"][0]["order_id"], "A-1001");
    assert_eq!(next["next_cursor"], Value::Null);
    let id = next["items"][0]["id"].as_str().unwrap();
    let detail = get(api, &token, &format!("/sales/transactions/{id}")).await;
    assert_eq!(
        (
            &detail["order_id"],
            &detail["subtotal"],
            &detail["total"],
            &detail["item_count"]
        ),
        (
            &json!("A-1001"),
            &json!("31.00"),
            &json!("32.60"),
            &json!(2)
        )
    );
    assert_eq!(
        detail["items"],
        json!([
            {"item_name": "Margherita", "category": "Pizza", "quantity": "2", "unit_price": "12.50",
             "discount": "0.00", "tax": "2.10", "line_total": "25.00"},
            {"item_name": "Tiramisu", "category": "Dessert", "quantity": "1", "unit_price": "6.00",
             "discount": "1.00", "tax": "0.50", "line_total": "6.00"}
        ])
    );
}

#[tokio::test]
async fn days_and_hours_follow_both_dst_transitions() {
    let (app, token) = TestApp::signed_in(OWNER).await;
    let api = &app.api;
    // Paris: clocks go forward on 29 March 2026 (23 hours), back on
    // 25 October (25 hours; 02:00-03:00 happens twice).
    let csv = "order_id,ordered_at,item_name,quantity,unit_price
S-1,2026-03-29 01:30,a,1,1.00
S-2,2026-03-29 03:30,a,1,2.00
S-3,2026-03-29 23:59,a,1,4.00
F-1,2026-10-25T02:30:00+02:00,a,1,8.00
F-2,2026-10-25T02:30:00+01:00,a,1,16.00
F-3,2026-10-25 23:30,a,1,32.00
";
    let (_, upload) = api.ingest(&token, "dst.csv", csv.as_bytes()).await;
    assert_eq!(upload["status"], "completed", "{upload}");
    for (day, orders, net) in [("2026-03-29", 3, "7.00"), ("2026-10-25", 3, "56.00")] {
        let summary = get(api, &token, &format!("/sales/summary?from={day}&to={day}")).await;
        assert_eq!(
            (
                &summary["totals"]["orders"],
                &summary["totals"]["net_sales"]
            ),
            (&json!(orders), &json!(net)),
            "{day}"
        );
    }
    let hours = get(api, &token, "/sales/hours?from=2026-03-29&to=2026-03-29").await;
    let cell = |weekday: usize, hour: usize| hours["cells"][(weekday - 1) * 24 + hour].clone();
    assert_eq!(cell(7, 1)["orders"], 1);
    assert_eq!(cell(7, 2)["orders"], 0, "02:00-03:00 did not exist");
    assert_eq!(cell(7, 3)["orders"], 1);
    let hours = get(api, &token, "/sales/hours?from=2026-10-25&to=2026-10-25").await;
    let cell = |weekday: usize, hour: usize| hours["cells"][(weekday - 1) * 24 + hour].clone();
    assert_eq!(
        cell(7, 2),
        json!({"weekday": 7, "hour": 2, "orders": 2, "net_sales": "24.00"}),
        "02:00 twice"
    );
    let list = get(
        api,
        &token,
        "/sales/transactions?from=2026-10-25&to=2026-10-25",
    )
    .await;
    assert_eq!(list["items"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn every_bad_query_is_a_400_naming_its_parameter() {
    let (app, token) = TestApp::signed_in(OWNER).await;
    let api = &app.api;
    for (path, field) in [
        ("/sales/summary?from=2026-02-01&to=2026-01-01", "from"),
        ("/sales/summary?from=2020-01-01&to=2026-01-01", "to"),
        ("/sales/summary?from=2026-1-5", "from"),
        ("/sales/summary?to=yesterday", "to"),
        ("/sales/summary?granularity=year", "granularity"),
        ("/sales/items?order_by=price", "order_by"),
        ("/sales/items?limit=0", "limit"),
        ("/sales/items?limit=201", "limit"),
        ("/sales/hours?from=2026-02-30", "from"),
        ("/sales/payments?from=2026-03-01&to=2026-02-01", "from"),
        ("/sales/categories?to=2026-13-01", "to"),
        ("/sales/transactions?limit=abc", "limit"),
        ("/sales/transactions?cursor=nope", "cursor"),
    ] {
        let reply = api.get(path, Some(&token)).await;
        assert_eq!(reply.status, 400, "{path}: {:?}", reply.body);
        assert_eq!(reply.body["title"], "Query is invalid", "{path}");
        assert_eq!(
            reply.body["errors"][0]["field"], field,
            "{path}: {:?}",
            reply.body
        );
    }
    // Exactly 1096 days is allowed.
    let reply = api
        .get(
            "/sales/summary?from=2023-01-01&to=2025-12-31&granularity=month",
            Some(&token),
        )
        .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(api.get("/sales/summary", None).await.status, 401);
    let default = get(api, &token, "/sales/summary").await;
    assert_eq!(
        default["buckets"].as_array().unwrap().len(),
        30,
        "the 30 days ending today"
    );
}

#[tokio::test]
async fn another_restaurants_sales_never_show() {
    let (app, token) = TestApp::signed_in(OWNER).await;
    let api = &app.api;
    let (_, upload) = api.ingest(&token, "sales.csv", EXAMPLE.as_bytes()).await;
    assert_eq!(upload["status"], "completed");
    let other = owner_token(api, "rival@sales.example", "Rival").await;
    let range = "from=2026-01-01&to=2026-02-28";
    let summary = get(api, &other, &format!("/sales/summary?{range}")).await;
    assert_eq!(summary["totals"]["orders"], 0);
    assert!(
        get(api, &other, &format!("/sales/items?{range}")).await["items"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert!(
        get(api, &other, &format!("/sales/categories?{range}")).await["items"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert!(
        get(api, &other, &format!("/sales/transactions?{range}")).await["items"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let hours = get(api, &other, &format!("/sales/hours?{range}")).await;
    assert!(hours["cells"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["orders"] == 0));
    let mine = get(api, &token, &format!("/sales/transactions?{range}")).await;
    let id = mine["items"][0]["id"].as_str().unwrap();
    for (path, token) in [
        (format!("/sales/transactions/{id}"), &other),
        ("/sales/transactions/not-an-id".to_string(), &token),
        ("/sales/transactions/99999999999".to_string(), &token),
    ] {
        let reply = api.get(&path, Some(token)).await;
        assert_eq!(reply.status, 404, "{path}");
        assert_eq!(reply.header("content-type"), "application/problem+json");
    }
}

#[tokio::test]
async fn deleting_an_upload_takes_away_exactly_its_share() {
    let (app, token) = TestApp::signed_in(OWNER).await;
    let db = &app.db;
    let api = &app.api;
    let (first, _) = api.ingest(&token, "first.csv", EXAMPLE.as_bytes()).await;
    // The second upload repeats A-1004 (a duplicate, which stays the first
    // upload's) and adds A-2001.
    let second_csv = "order_id,ordered_at,item_name,category,quantity,unit_price
A-1004,2026-02-02 12:00,Espresso,Drinks,1.5,2.00
A-2001,2026-02-02 13:00,Espresso,Drinks,1,2.00
";
    let (second, upload) = api
        .ingest(&token, "second.csv", second_csv.as_bytes())
        .await;
    assert_eq!(
        (&upload["rows_duplicate"], &upload["transactions_ingested"]),
        (&json!(1), &json!(1))
    );
    let range = "from=2026-01-01&to=2026-02-28";
    let before = get(api, &token, &format!("/sales/summary?{range}")).await;
    assert_eq!(before["totals"]["orders"], 5);

    let other = owner_token(api, "rival@sales.example", "Rival").await;
    let reply = api
        .send(
            api.raw()
                .delete(format!("{}/uploads/{first}", api.base))
                .bearer_auth(&other),
        )
        .await;
    assert_eq!(reply.status, 404, "another restaurant's upload");

    let reply = api
        .send(
            api.raw()
                .delete(format!("{}/uploads/{first}", api.base))
                .bearer_auth(&token),
        )
        .await;
    assert_eq!(reply.status, 204, "{:?}", reply.body);
    assert_eq!(
        api.get(&format!("/uploads/{first}"), Some(&token))
            .await
            .status,
        404
    );
    let after = get(api, &token, &format!("/sales/summary?{range}")).await;
    assert_eq!(
        after["totals"],
        json!({"orders": 1, "items": 1, "quantity": "1", "gross_sales": "2.00", "discounts": "0.00",
               "net_sales": "2.00", "tax": "0.00", "total": "2.00", "average_order": "2.00"})
    );
    let items = get(api, &token, &format!("/sales/items?{range}")).await;
    assert_eq!(items["items"].as_array().unwrap().len(), 1);
    assert_eq!(items["items"][0]["orders"], 1);
    let superuser = db.superuser().await;
    for table in [
        "sales_days",
        "sales_items",
        "sales_categories",
        "sales_hours",
        "sales_payments",
    ] {
        let stale: i64 = superuser
            .query_one(
                &format!("SELECT count(*) FROM {table} WHERE orders = 0"),
                &[],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(stale, 0, "{table} keeps no empty rows");
    }
    let orders: i64 = superuser
        .query_one("SELECT count(*) FROM transactions", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(orders, 1);

    // Deleting the second as well leaves nothing at all.
    let reply = api
        .send(
            api.raw()
                .delete(format!("{}/uploads/{second}", api.base))
                .bearer_auth(&token),
        )
        .await;
    assert_eq!(reply.status, 204);
    for table in [
        "transactions",
        "transaction_items",
        "sales_days",
        "sales_items",
        "sales_item_categories",
        "sales_categories",
        "sales_hours",
        "sales_payments",
        "data_upload_errors",
    ] {
        let left: i64 = superuser
            .query_one(&format!("SELECT count(*) FROM {table}"), &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(left, 0, "{table}");
    }
}

#[tokio::test]
async fn an_upload_being_ingested_cannot_be_deleted() {
    let (app, captured) = captured_upload("busy@sales.example", EXAMPLE.as_bytes()).await;
    let (db, api, token, id) = (&app.db, &app.api, &captured.token, &captured.id);
    db.superuser()
        .await
        .execute(
            "UPDATE data_uploads SET status = 'processing', claim_id = gen_random_uuid(), heartbeat_at = now()",
            &[],
        )
        .await
        .unwrap();
    let reply = api
        .send(
            api.raw()
                .delete(format!("{}/uploads/{id}", api.base))
                .bearer_auth(token),
        )
        .await;
    assert_eq!(reply.status, 409, "{:?}", reply.body);
    assert_eq!(reply.body["type"], "https://flux.dev/problems/conflict");
}
