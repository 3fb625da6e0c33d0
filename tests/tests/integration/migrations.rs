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
