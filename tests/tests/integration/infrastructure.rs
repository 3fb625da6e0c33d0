//! No drift between the code and the infrastructure: Terraform wires every
//! route the code serves to the function that serves it, routes nothing
//! else, and has a Lambda for every function crate. Also parses every .tf
//! file, since `terraform validate` cannot run here.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

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
fn protected_routes_use_the_jwt_authorizer() {
    let routes = terraform_locals()["routes"].clone();
    for protected in [
        "GET /auth/me",
        "POST /uploads",
        "GET /uploads",
        "GET /uploads/{id}",
        "GET /uploads/{id}/errors",
        "DELETE /uploads/{id}",
        "POST /uploads/{id}/url",
        "GET /sales/summary",
        "GET /sales/transactions/{id}",
    ] {
        assert_eq!(routes[protected]["authorized"], true, "{protected}");
    }
    for public in [
        "GET /health",
        "POST /auth/login",
        "POST /auth/register",
        "GET /.well-known/jwks.json",
    ] {
        assert_eq!(routes[public]["authorized"], false, "{public}");
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
