//! No drift between the code and the infrastructure: Terraform wires every
//! route the code serves to the function that serves it, routes nothing
//! else, and has a Lambda for every function crate. Also parses every .tf
//! file, since `terraform validate` cannot run here.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use flux_shared::config::Recording;
use flux_shared::secrets::{ExposeSecret, Secrets};

use flux_shared::routes::Route;

/// Each function crate and the routes it serves (none: not behind the API).
fn code_functions() -> BTreeMap<&'static str, &'static [Route]> {
    BTreeMap::from([
        ("auth", flux_auth::ROUTES),
        ("csv-ingest", &[][..]),
        ("data-upload", flux_data_upload::ROUTES),
        ("health", flux_health::ROUTES),
        ("migrate", &[][..]),
        ("sales", flux_sales::ROUTES),
    ])
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn terraform_locals() -> serde_json::Value {
    let text = std::fs::read_to_string(root().join("infrastructure/routes.tf")).unwrap();
    let value: serde_json::Value = hcl::from_str(&text).expect("routes.tf parses");
    value["locals"].clone()
}

#[test]
fn every_function_crate_has_a_lambda_and_no_lambda_lacks_a_crate() {
    let crates: BTreeSet<String> = std::fs::read_dir(root().join("functions"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let code: BTreeSet<String> = code_functions().keys().map(|k| k.to_string()).collect();
    let terraform: BTreeSet<String> = terraform_locals()["functions"]
        .as_object()
        .expect("locals.functions")
        .keys()
        .cloned()
        .collect();
    assert_eq!(crates, code, "functions/ and this test's table disagree");
    assert_eq!(
        crates, terraform,
        "functions/ and infrastructure/routes.tf disagree"
    );
}

#[test]
fn api_gateway_routes_match_the_handlers_exactly() {
    let wired: BTreeMap<String, String> = terraform_locals()["routes"]
        .as_object()
        .expect("locals.routes")
        .iter()
        .map(|(key, route)| {
            (
                key.clone(),
                route["function"].as_str().expect("function").to_string(),
            )
        })
        .collect();
    let served: BTreeMap<String, String> = code_functions()
        .into_iter()
        .flat_map(|(function, routes)| routes.iter().map(move |r| (r.key(), function.to_string())))
        .collect();
    for (key, function) in &served {
        assert_eq!(
            wired.get(key),
            Some(function),
            "{key} is served by {function} but API Gateway sends it to {:?}",
            wired.get(key)
        );
    }
    for key in wired.keys() {
        assert!(
            served.contains_key(key),
            "API Gateway routes {key}, which no handler serves"
        );
    }
}

#[test]
fn routes_are_authorized_exactly_where_the_api_is_not_public() {
    let routes = terraform_locals()["routes"].clone();
    for key in code_functions()
        .values()
        .flat_map(|r| r.iter().map(Route::key))
    {
        let public = flux_tests::PUBLIC_ROUTES.contains(&key.as_str());
        assert_eq!(
            routes[&key]["authorized"],
            !public,
            "{key} must be {}",
            if public {
                "public"
            } else {
                "behind the JWT authorizer"
            }
        );
    }
}

/// Each function's declared environment, as its crate exports it.
fn environments() -> BTreeMap<&'static str, &'static [&'static str]> {
    BTreeMap::from([
        ("auth", flux_auth::ENVIRONMENT),
        ("csv-ingest", flux_csv_ingest::ENVIRONMENT),
        ("data-upload", flux_data_upload::ENVIRONMENT),
        ("health", flux_health::ENVIRONMENT),
        ("migrate", flux_migrate::ENVIRONMENT),
        ("sales", flux_sales::ENVIRONMENT),
    ])
}

#[test]
fn each_function_gets_the_secrets_its_environment_names() {
    let locals = terraform_locals();
    for (name, environment) in environments() {
        let needed: BTreeSet<String> = environment
            .iter()
            .filter_map(|v| v.strip_suffix("_SECRET_ID"))
            .map(str::to_lowercase)
            .collect();
        let given: BTreeSet<String> = locals["functions"][name]["secrets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_string())
            .collect();
        assert_eq!(
            given, needed,
            "{name}: routes.tf secrets vs its ENVIRONMENT"
        );
    }
}

/// A state built, or why not.
fn started<T, E: std::fmt::Display>(built: Result<T, E>) -> Result<(), String> {
    built.map(drop).map_err(|e| e.to_string())
}

/// What each function's `main.rs` builds, from `vars` only.
async fn start(name: &str, vars: &Recording<HashMap<String, String>>) -> Result<(), String> {
    let secrets = Arc::new(Secrets::from_env(vars).await.map_err(|e| e.to_string())?);
    let started = match name {
        "auth" => started(flux_auth::AuthState::from_env(vars, &secrets).await),
        "csv-ingest" => started(flux_csv_ingest::IngestState::from_env(vars, &secrets).await),
        "data-upload" => started(flux_data_upload::UploadState::from_env(vars, &secrets).await),
        "health" => started(flux_health::HealthState::from_env(vars, &secrets).await),
        "migrate" => started(flux_migrate::Migrator::from_env(vars, &secrets).await),
        "sales" => started(flux_sales::SalesState::from_env(vars, &secrets).await),
        other => panic!("unknown function {other}"),
    };
    started
}

/// A function started with exactly its declared environment starts, and
/// reads every variable of it (RUST_LOG is the tracing subscriber's), so
/// Terraform, which sets exactly that (tests/tests/terraform_contract.rs),
/// sets nothing unused and misses nothing required.
#[tokio::test]
async fn each_function_starts_on_its_declared_environment_and_reads_all_of_it() {
    let dir = tempfile::tempdir().unwrap();
    let keys = flux_shared::tokens::keys::generate_secret("k1");
    let public = flux_shared::tokens::keys::AuthKeys::from_secret(&keys)
        .unwrap()
        .public_keys;
    let db = r#"{"username": "flux_app", "password": "pw"}"#;
    for (file, value) in [
        ("auth-keys", keys.expose_secret().to_string()),
        ("auth-public-keys", serde_json::to_string(&public).unwrap()),
        ("db-app", db.to_string()),
        ("db-owner", db.to_string()),
    ] {
        std::fs::write(dir.path().join(file), value).unwrap();
    }
    let value = |var: &str| -> String {
        match var {
            "SECRETS_SOURCE" => format!("dir:{}", dir.path().display()),
            "DB_HOST" => "db.internal.example".into(),
            "DB_PORT" => "5432".into(),
            "DB_TLS" => "verify".into(),
            "DB_STATEMENT_TIMEOUT_MS" | "DB_LOCK_TIMEOUT_MS" => "10000".into(),
            "DB_POOL_MAX" => "3".into(),
            "AUTH_ISSUER" => "https://api.flux.example".into(),
            "DB_APP_SECRET_ID" => "db-app".into(),
            "DB_OWNER_SECRET_ID" => "db-owner".into(),
            "AUTH_KEYS_SECRET_ID" => "auth-keys".into(),
            "AUTH_PUBLIC_KEYS_SECRET_ID" => "auth-public-keys".into(),
            _ => "flux".into(),
        }
    };
    for (name, environment) in environments() {
        let vars = Recording {
            vars: environment
                .iter()
                .map(|v| (v.to_string(), value(v)))
                .collect::<HashMap<_, _>>(),
            read: Default::default(),
        };
        start(name, &vars)
            .await
            .unwrap_or_else(|e| panic!("{name} did not start: {e}"));
        let read = vars.read.lock().unwrap().clone();
        let unread: Vec<&&str> = environment
            .iter()
            .filter(|v| **v != "RUST_LOG" && !read.contains(**v))
            .collect();
        assert!(
            unread.is_empty(),
            "{name} declares but never reads {unread:?}"
        );
        // Each required variable, removed, stops it with a message naming it.
        for var in environment
            .iter()
            .filter(|v| v.ends_with("_SECRET_ID") || **v == "DB_HOST")
        {
            let mut without = vars.vars.clone();
            without.remove(*var);
            let vars = Recording {
                vars: without,
                read: Default::default(),
            };
            let error = start(name, &vars).await.expect_err(var);
            assert!(error.contains(var), "{name} without {var}: {error}");
        }
    }
}

#[test]
fn every_terraform_file_parses() {
    let mut files = Vec::new();
    let mut dirs = vec![root().join("infrastructure")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "tf" || e == "tfvars") {
                files.push(path);
            }
        }
    }
    assert!(files.len() > 20, "found only {files:?}");
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        if let Err(e) = hcl::parse(&text) {
            panic!("{}: {e}", file.display());
        }
    }
}

#[test]
fn every_module_documents_its_inputs_and_outputs() {
    for entry in std::fs::read_dir(root().join("infrastructure/modules")).unwrap() {
        let module = entry.unwrap().path();
        let readme = std::fs::read_to_string(module.join("README.md"))
            .unwrap_or_else(|_| panic!("{} has no README.md", module.display()));
        for (file, kind) in [("variables.tf", "variable"), ("outputs.tf", "output")] {
            let text = std::fs::read_to_string(module.join(file)).unwrap_or_default();
            let body = hcl::parse(&text).unwrap();
            for block in body.blocks().filter(|b| b.identifier() == kind) {
                let name = block.labels()[0].as_str();
                assert!(
                    readme.contains(&format!("`{name}`")),
                    "{}/README.md does not document {kind} `{name}`",
                    module.display()
                );
            }
        }
    }
}

#[test]
fn the_openapi_document_describes_exactly_the_served_routes() {
    let text = std::fs::read_to_string(root().join("docs/openapi.json")).unwrap();
    let spec: serde_json::Value = serde_json::from_str(&text).unwrap();
    let documented: BTreeSet<String> = spec["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, ops)| {
            ops.as_object()
                .unwrap()
                .keys()
                .map(move |m| format!("{} {path}", m.to_uppercase()))
        })
        .collect();
    let served: BTreeSet<String> = code_functions()
        .values()
        .flat_map(|routes| routes.iter().map(|r| r.key()))
        .collect();
    assert_eq!(documented, served);
}
