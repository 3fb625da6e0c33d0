//! What a browser needs (API.md "Conventions"): CORS on the API and on the
//! S3 endpoint presigned URLs point at, the same rule as the bucket's in
//! Terraform.

use flux_tests::{owner_token, TestApp};
use serde_json::json;

const APP: &str = "http://localhost:5173";

#[tokio::test]
async fn the_s3_endpoint_answers_browsers_as_the_bucket_rule_says() {
    let app = TestApp::spawn().await;
    let stack = &app.stack;
    let api = &app.api;
    let token = owner_token(api, "cors@bistro.example", "Bistro").await;
    let created = api
        .post_auth(
            "/uploads",
            &token,
            &json!({"filename": "a.csv", "size_bytes": 3}),
        )
        .await
        .body;
    let url = created["upload_url"].as_str().unwrap();
    let client = api.raw();

    // The preflight of the presigned PUT: no signature needed for it.
    let preflight = client
        .request(reqwest::Method::OPTIONS, url)
        .header("origin", APP)
        .header("access-control-request-method", "PUT")
        .header(
            "access-control-request-headers",
            "content-type,if-none-match",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status().as_u16(), 200);
    let h = preflight.headers();
    assert_eq!(h["access-control-allow-origin"], APP);
    assert!(h["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .contains("PUT"));
    assert!(h["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .contains("if-none-match"));

    for (origin, method) in [("https://evil.example", "PUT"), (APP, "DELETE")] {
        let refused = client
            .request(reqwest::Method::OPTIONS, url)
            .header("origin", origin)
            .header("access-control-request-method", method)
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status().as_u16(), 403, "{origin} {method}");
        if origin != APP {
            assert!(!refused
                .headers()
                .contains_key("access-control-allow-origin"));
        }
    }

    // The PUT itself, and an error: both tell the page it may read them.
    let mut put = client.put(url).header("origin", APP).body("a,b");
    for (name, value) in created["upload_headers"].as_object().unwrap() {
        put = put.header(name.as_str(), value.as_str().unwrap());
    }
    let put = put.send().await.unwrap();
    assert_eq!(put.status().as_u16(), 200);
    assert_eq!(put.headers()["access-control-allow-origin"], APP);
    assert!(put.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .contains("etag"));
    assert!(put.headers().contains_key("etag"));
    let unsigned = client
        .put(format!(
            "{}/{}/uploads/x.csv",
            stack.s3.url, stack.s3.bucket
        ))
        .header("origin", APP)
        .body("x")
        .send()
        .await
        .unwrap();
    assert!(unsigned.status().is_client_error());
    assert_eq!(unsigned.headers()["access-control-allow-origin"], APP);
    let body = unsigned.text().await.unwrap();
    assert!(
        body.contains("<Message>"),
        "S3 errors carry a message: {body}"
    );
}

#[test]
fn the_local_cors_rule_is_the_buckets_in_terraform() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap();
    let text =
        std::fs::read_to_string(root.join("infrastructure/modules/storage/main.tf")).unwrap();
    let body: hcl::Body = hcl::from_str(&text).unwrap();
    let rule = body
        .blocks()
        .find(|b| {
            b.identifier() == "resource"
                && b.labels()[0].as_str() == "aws_s3_bucket_cors_configuration"
        })
        .and_then(|b| b.body().blocks().find(|b| b.identifier() == "cors_rule"))
        .expect("the bucket has a CORS rule")
        .body()
        .clone();
    let strings = |name: &str| -> Vec<String> {
        let attribute = rule.attributes().find(|a| a.key() == name).unwrap();
        match attribute.expr() {
            hcl::Expression::Array(items) => items
                .iter()
                .map(|i| match i {
                    hcl::Expression::String(s) => s.clone(),
                    other => panic!("{name}: {other:?}"),
                })
                .collect(),
            other => panic!("{name}: {other:?}"),
        }
    };
    assert_eq!(strings("allowed_methods"), flux_local::s3::CORS_METHODS);
    assert_eq!(strings("allowed_headers"), flux_local::s3::CORS_HEADERS);
    assert_eq!(strings("expose_headers"), flux_local::s3::CORS_EXPOSE);
    let max_age = rule
        .attributes()
        .find(|a| a.key() == "max_age_seconds")
        .unwrap();
    assert_eq!(
        max_age.expr().to_string(),
        flux_local::s3::CORS_MAX_AGE.to_string()
    );
    let origins = rule
        .attributes()
        .find(|a| a.key() == "allowed_origins")
        .unwrap();
    assert_eq!(
        origins.expr().to_string(),
        "var.allowed_origins",
        "the same origins as the API"
    );
}

#[tokio::test]
async fn the_api_lets_pages_read_what_they_need_and_delete() {
    let app = TestApp::spawn().await;
    let api = &app.api;
    let preflight = api
        .raw()
        .request(
            reqwest::Method::OPTIONS,
            format!("{}/uploads/abc", api.base),
        )
        .header("origin", APP)
        .header("access-control-request-method", "DELETE")
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success());
    assert!(preflight.headers()["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .contains("DELETE"));
    let reply = api
        .send(
            api.raw()
                .get(format!("{}/auth/me", api.base))
                .header("origin", APP),
        )
        .await;
    assert_eq!(reply.status, 401);
    let exposed = reply.header("access-control-expose-headers");
    for header in ["x-request-id", "retry-after", "www-authenticate"] {
        assert!(exposed.contains(header), "{exposed}");
    }
    let openapi = api.get("/openapi.json", None).await;
    assert_eq!(openapi.status, 200);
    assert!(openapi.body["paths"]["/sales/summary"].is_object());
}
