//! Tenancy is enforced by PostgreSQL itself: the app role sees only the
//! restaurant set for its transaction, even when a query forgets its WHERE.

use flux_shared::tenant::{with_tenant, RestaurantId};
use flux_tests::TestDb;
use uuid::Uuid;

async fn create_restaurant(client: &mut tokio_postgres::Client, name: &str) -> RestaurantId {
    let restaurant = RestaurantId(Uuid::new_v4());
    with_tenant(client, restaurant, async |tx| {
        tx.execute(
            "INSERT INTO restaurants (id, name) VALUES ($1, $2)",
            &[&restaurant.0, &name],
        )
        .await?;
        tx.execute(
            "INSERT INTO users (id, restaurant_id, email, password_hash, role)
             VALUES ($1, $2, $3, 'x', 'owner')",
            &[&Uuid::new_v4(), &restaurant.0, &format!("owner@{name}.example")],
        )
        .await?;
        let upload = Uuid::new_v4();
        tx.execute(
            "INSERT INTO data_uploads (id, restaurant_id, user_id, filename, s3_key, size_bytes, url_expires_at)
             SELECT $1, $2, id, 'sales.csv', 'uploads/' || $2::uuid || '/' || $1::uuid || '.csv', 10, now()
             FROM users WHERE restaurant_id = $2::uuid",
            &[&upload, &restaurant.0],
        )
        .await?;
        tx.execute(
            "INSERT INTO transactions (id, restaurant_id, upload_id, order_id, ordered_at, subtotal, total, item_count)
             VALUES ((nextval('transaction_blocks') << 32) + 1, $1, $2, 'A-1', now(), 10, 10, 1)",
            &[&restaurant.0, &upload],
        )
        .await?;
        Ok::<_, tokio_postgres::Error>(())
    })
    .await
    .unwrap();
    restaurant
}

fn db_message(err: &tokio_postgres::Error) -> String {
    err.as_db_error()
        .map(|e| e.message().to_string())
        .unwrap_or_default()
}

async fn count_all(
    client: &mut tokio_postgres::Client,
    restaurant: Option<RestaurantId>,
    table: &str,
) -> i64 {
    let sql = format!("SELECT count(*) FROM {table}");
    match restaurant {
        Some(r) => with_tenant(client, r, async |tx| {
            Ok::<_, tokio_postgres::Error>(tx.query_one(&sql, &[]).await?.get(0))
        })
        .await
        .unwrap(),
        None => client.query_one(&sql, &[]).await.unwrap().get(0),
    }
}

#[tokio::test]
async fn the_app_role_sees_zero_rows_of_another_restaurant() {
    let db = TestDb::new().await;
    let mut app = db.app().await;
    let a = create_restaurant(&mut app, "alpha").await;
    let b = create_restaurant(&mut app, "bravo").await;

    for table in ["restaurants", "users", "data_uploads", "transactions"] {
        // A query without any WHERE, as restaurant A: only A's row.
        assert_eq!(count_all(&mut app, Some(a), table).await, 1, "{table} as A");
        assert_eq!(count_all(&mut app, Some(b), table).await, 1, "{table} as B");
        // No restaurant set at all: nothing.
        assert_eq!(
            count_all(&mut app, None, table).await,
            0,
            "{table} without a tenant"
        );
    }
    let names: Vec<String> = with_tenant(&mut app, a, async |tx| {
        Ok::<_, tokio_postgres::Error>(
            tx.query("SELECT name FROM restaurants", &[])
                .await?
                .iter()
                .map(|r| r.get(0))
                .collect(),
        )
    })
    .await
    .unwrap();
    assert_eq!(names, vec!["alpha"]);

    // The data is there: a superuser sees both.
    let superuser = db.superuser().await;
    let total: i64 = superuser
        .query_one("SELECT count(*) FROM users", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(total, 2);
}

#[tokio::test]
async fn the_app_role_cannot_write_into_or_update_across_restaurants() {
    let db = TestDb::new().await;
    let mut app = db.app().await;
    let a = create_restaurant(&mut app, "alpha").await;
    let b = create_restaurant(&mut app, "bravo").await;

    let err = with_tenant(&mut app, a, async |tx| {
        tx.execute(
            "INSERT INTO transactions (id, restaurant_id, order_id, ordered_at, subtotal, total, item_count)
             VALUES (nextval('transaction_blocks') << 32, $1, 'B-1', now(), 1, 1, 1)",
            &[&b.0],
        )
        .await
    })
    .await
    .unwrap_err();
    assert!(db_message(&err).contains("row-level security"), "{err:?}");

    let updated = with_tenant(&mut app, a, async |tx| {
        tx.execute("UPDATE restaurants SET name = 'hijacked'", &[])
            .await
    })
    .await
    .unwrap();
    assert_eq!(updated, 1, "only A's own row is visible to the update");
    let b_name: String = with_tenant(&mut app, b, async |tx| {
        Ok::<_, tokio_postgres::Error>(
            tx.query_one("SELECT name FROM restaurants", &[])
                .await?
                .get(0),
        )
    })
    .await
    .unwrap();
    assert_eq!(b_name, "bravo");
}

#[tokio::test]
async fn the_app_role_owns_nothing_and_cannot_bypass_rls() {
    let db = TestDb::new().await;
    let app = db.app().await;
    let row = app
        .query_one(
            "SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user",
            &[],
        )
        .await
        .unwrap();
    assert!(!row.get::<_, bool>(0) && !row.get::<_, bool>(1));
    let owned: i64 = app
        .query_one("SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tableowner = current_user", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(owned, 0);
    // Turning row security off is refused rather than silently bypassed.
    app.batch_execute("SET row_security = off").await.unwrap();
    let err = app.query("SELECT * FROM users", &[]).await.unwrap_err();
    assert!(db_message(&err).contains("row-level security"), "{err:?}");

    // Every tenant table is under forced RLS.
    let superuser = db.superuser().await;
    let unprotected: Vec<String> = superuser
        .query(
            "SELECT c.relname FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid
             WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r'
               AND a.attname IN ('restaurant_id') AND NOT (c.relrowsecurity AND c.relforcerowsecurity)",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(
        unprotected.is_empty(),
        "tenant tables without forced RLS: {unprotected:?}"
    );
}
