use flux_tests::TestDb;

#[tokio::test]
async fn migrations_are_recorded_and_a_second_run_applies_nothing() {
    let db = TestDb::new().await;
    let mut owner = flux_tests::connect(&db.owner_url).await;
    let report = flux_migrate::migrate(&mut owner).await.unwrap();
    assert!(report.applied.is_empty(), "{report:?}");
    let migrations = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../migrations"))
        .unwrap()
        .count() as i32;
    assert_eq!(report.version, Some(migrations));
}

#[tokio::test]
async fn the_app_password_is_set_without_sending_it_in_clear() {
    let db = TestDb::new().await;
    let owner = flux_tests::connect(&db.owner_url).await;
    let password = flux_shared::secrets::SecretString::from("correct-horse-battery".to_string());
    flux_migrate::set_app_password(&owner, &password)
        .await
        .unwrap();
    let superuser = db.superuser().await;
    let stored: String = superuser
        .query_one(
            "SELECT rolpassword FROM pg_authid WHERE rolname = 'flux_app'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(stored.starts_with("SCRAM-SHA-256$4096:"), "{stored}");
    assert!(!stored.contains("correct-horse"));
}

/// Sales stored before the bigint model (V4) move over with their uploads,
/// line order and rollups.
#[tokio::test]
async fn sales_from_before_the_bulk_model_move_over_with_their_rollups() {
    let db = flux_tests::TestDb::empty().await;
    let mut owner = flux_tests::connect(&db.owner_url).await;
    flux_migrate::migrate_to(&mut owner, Some(3)).await.unwrap();
    let superuser = db.superuser().await;
    superuser
        .batch_execute(
            "INSERT INTO restaurants (id, name, timezone) VALUES ('00000000-0000-0000-0000-00000000000a', 'A', 'Europe/Paris');
             INSERT INTO users (id, restaurant_id, email, email_key, password_hash, role)
                 VALUES ('00000000-0000-0000-0000-0000000000a1', '00000000-0000-0000-0000-00000000000a', 'a@x.co', 'a@x.co', 'x', 'owner');
             INSERT INTO data_uploads (id, restaurant_id, user_id, filename, s3_key, size_bytes, status, url_expires_at)
                 VALUES ('00000000-0000-0000-0000-0000000000f1', '00000000-0000-0000-0000-00000000000a',
                         '00000000-0000-0000-0000-0000000000a1', 'a.csv', 'uploads/a/f1.csv', 10, 'completed', now());
             INSERT INTO transactions (id, restaurant_id, upload_id, order_id, ordered_at, subtotal, discount, tax, total, item_count, payment_method)
                 VALUES ('018f0000-0000-7000-8000-000000000001', '00000000-0000-0000-0000-00000000000a',
                         '00000000-0000-0000-0000-0000000000f1', 'A-1', '2026-01-29 23:30:00+00', 31.00, 1.00, 2.60, 32.60, 2, 'card');
             INSERT INTO transaction_items (restaurant_id, transaction_id, item_name, category, quantity, unit_price, discount, tax, line_total) VALUES
                 ('00000000-0000-0000-0000-00000000000a', '018f0000-0000-7000-8000-000000000001', 'Margherita', 'Pizza', 2, 12.50, 0, 2.10, 25.00),
                 ('00000000-0000-0000-0000-00000000000a', '018f0000-0000-7000-8000-000000000001', 'Tiramisu', 'Dessert', 1, 6.00, 1.00, 0.50, 6.00);",
        )
        .await
        .unwrap();
    flux_migrate::migrate(&mut owner).await.unwrap();
    let lines: Vec<(i32, String)> = superuser
        .query(
            "SELECT i.line_no, i.item_name FROM transaction_items i JOIN transactions t ON t.id = i.transaction_id
             WHERE t.order_id = 'A-1' ORDER BY i.line_no",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(
        lines,
        [(1, "Margherita".to_string()), (2, "Tiramisu".to_string())]
    );
    // 23:30 UTC is the 30th in Paris: the rollup is per local day.
    let day: (chrono::NaiveDate, i64, rust_decimal::Decimal) = superuser
        .query_one("SELECT day, orders, gross FROM sales_days", &[])
        .await
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .unwrap();
    assert_eq!(day.0.to_string(), "2026-01-30");
    assert_eq!((day.1, day.2.to_string()), (1, "31.00".to_string()));
    let (block, shares): (Option<i64>, i64) = superuser
        .query_one(
            "SELECT transaction_block, (SELECT count(*) FROM sales_rollup_shares) FROM data_uploads",
            &[],
        )
        .await
        .map(|r| (r.get(0), r.get(1)))
        .unwrap();
    assert!(block.is_some());
    assert_eq!(
        shares, 6,
        "the upload can be undone: a share of each rollup"
    );
}

/// The Rust enums bind to and read from PostgreSQL's enums, label for label.
#[tokio::test]
async fn upload_status_and_role_match_their_postgresql_enums() {
    use flux_shared::tokens::Role;
    use flux_shared::uploads::UploadStatus;

    let db = TestDb::new().await;
    let owner = flux_tests::connect(&db.owner_url).await;
    let statuses = [
        UploadStatus::AwaitingUpload,
        UploadStatus::Processing,
        UploadStatus::Completed,
        UploadStatus::CompletedWithErrors,
        UploadStatus::Failed,
    ];
    let labels = statuses.map(UploadStatus::as_str);
    assert_same_enum(&owner, "upload_status", &statuses, &labels).await;
    let roles = [Role::Owner, Role::Manager, Role::Staff];
    let labels = roles.map(Role::as_str);
    assert_same_enum(&owner, "user_role", &roles, &labels).await;
}

/// `values`, spelled `labels`, are exactly `enum_type`'s labels in order,
/// and each goes to PostgreSQL and comes back as itself.
async fn assert_same_enum<T>(
    client: &tokio_postgres::Client,
    enum_type: &str,
    values: &[T],
    labels: &[&str],
) where
    T: tokio_postgres::types::ToSql
        + for<'a> tokio_postgres::types::FromSql<'a>
        + Sync
        + PartialEq
        + std::fmt::Debug,
{
    let sql = format!("SELECT unnest(enum_range(NULL::{enum_type}))::text");
    let rows = client.query(&sql, &[]).await.unwrap();
    let stored: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
    assert_eq!(stored, labels, "{enum_type}");
    for value in values {
        let sql = format!("SELECT $1::{enum_type}");
        let back: T = client.query_one(&sql, &[value]).await.unwrap().get(0);
        assert_eq!(&back, value);
    }
}
