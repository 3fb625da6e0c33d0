use flux_local::seed::{seed, DEMO_EMAIL, DEMO_PASSWORD};
use flux_tests::{scratch_dir, TestDb};

#[tokio::test]
async fn seeding_creates_a_demo_owner_once_with_a_working_password() {
    let db = TestDb::new().await;
    let data_dir = scratch_dir("seed");
    let first = seed(&db.app_settings(), &data_dir).await.unwrap();
    assert!(first.created);
    let again = seed(&db.app_settings(), &data_dir).await.unwrap();
    assert!(!again.created);
    assert_eq!(again.user_id, first.user_id);

    let superuser = db.superuser().await;
    let row = superuser
        .query_one(
            "SELECT u.password_hash, u.role::text, r.name FROM users u JOIN restaurants r ON r.id = u.restaurant_id
             WHERE u.email = $1",
            &[&DEMO_EMAIL],
        )
        .await
        .unwrap();
    let verification = flux_shared::passwords::verify(DEMO_PASSWORD.into(), row.get(0))
        .await
        .unwrap();
    assert!(verification.matches);
    assert_eq!(row.get::<_, String>(1), "owner");
    let csv = std::fs::read_to_string(&first.sample_csv).unwrap();
    assert!(csv.starts_with("order_id,ordered_at,item_name"));
}
