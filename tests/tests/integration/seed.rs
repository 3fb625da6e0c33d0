use flux_local::seed::{running_api, seed, DEMO_EMAIL, DEMO_PASSWORD};
use flux_tests::{scratch_dir, spawn_stack, Api, TestDb};
use serde_json::json;

#[tokio::test]
async fn seeding_creates_a_demo_owner_once_on_the_running_stack() {
    let db = TestDb::new().await;
    let stack = spawn_stack(&db, None).await;
    // The stack of this data directory, found as `flux-local seed` finds it.
    let api_url = running_api(&stack.data_dir).unwrap();
    assert_eq!(api_url, stack.api_url);
    let first = seed(&api_url, &stack.data_dir).await.unwrap();
    assert!(first.created);
    let again = seed(&api_url, &stack.data_dir).await.unwrap();
    assert!(!again.created);
    assert_eq!(again.user_id, first.user_id);

    // The credentials work against that very stack.
    let api = Api::new(&stack);
    let login = api
        .post(
            "/auth/login",
            &json!({"email": DEMO_EMAIL, "password": DEMO_PASSWORD}),
        )
        .await;
    assert_eq!(login.status, 200, "{:?}", login.body);
    assert_eq!(login.body["user"]["role"], "owner");
    let csv = std::fs::read_to_string(&first.sample_csv).unwrap();
    assert!(csv.starts_with("order_id,ordered_at,item_name"));
}

#[tokio::test]
async fn seeding_without_a_running_stack_says_so() {
    let data_dir = scratch_dir("no-stack");
    let error = running_api(&data_dir).unwrap_err().to_string();
    assert!(
        error.contains("no running stack uses the data directory"),
        "{error}"
    );
    assert!(error.contains("--data-dir"), "{error}");
}
