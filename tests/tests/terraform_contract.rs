//! The effective contract of each function, read from what `terraform apply`
//! created (`terraform show -json`, one file per environment in
//! `$FLUX_TF_STATES`; `.ci/terraform` applies against moto and runs this).
//! Not run by `cargo test` alone: it needs applied states.
//!
//! Per function: its environment is exactly what its code reads
//! (`ENVIRONMENT`); it may read exactly the secrets its variables name; its
//! role allows what it does on the resources it touches and nothing of the
//! others'; API Gateway routes what the code serves, authorized exactly
//! where the API is not public; no secret value is in the state.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use flux_shared::routes::Route;
use flux_tests::terraform::{environment, State};
use serde_json::Value;

struct Function {
    environment: &'static [&'static str],
    routes: &'static [Route],
}

fn functions() -> BTreeMap<&'static str, Function> {
    BTreeMap::from([
        (
            "auth",
            Function {
                environment: flux_auth::ENVIRONMENT,
                routes: flux_auth::ROUTES,
            },
        ),
        (
            "csv-ingest",
            Function {
                environment: flux_csv_ingest::ENVIRONMENT,
                routes: &[],
            },
        ),
        (
            "data-upload",
            Function {
                environment: flux_data_upload::ENVIRONMENT,
                routes: flux_data_upload::ROUTES,
            },
        ),
        (
            "health",
            Function {
                environment: flux_health::ENVIRONMENT,
                routes: flux_health::ROUTES,
            },
        ),
        (
            "migrate",
            Function {
                environment: flux_migrate::ENVIRONMENT,
                routes: &[],
            },
        ),
        (
            "sales",
            Function {
                environment: flux_sales::ENVIRONMENT,
                routes: flux_sales::ROUTES,
            },
        ),
    ])
}

/// A role's inline policy statements, as (actions, resources) of each Allow.
struct Policy(Vec<(Vec<String>, Vec<String>)>);

fn strings(value: &Value) -> Vec<String> {
    match value {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items
            .iter()
            .filter_map(|v| v.as_str().map(String::from))
            .collect(),
        _ => Vec::new(),
    }
}

/// IAM's wildcard match: `*` any run, `?` one character.
fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi].eq_ignore_ascii_case(&t[ti]) && p[pi] != '*') {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

impl Policy {
    fn allows(&self, action: &str, resource: &str) -> bool {
        self.0.iter().any(|(actions, resources)| {
            actions.iter().any(|a| glob(a, action)) && resources.iter().any(|r| glob(r, resource))
        })
    }

    /// Every resource some statement allows `action` on.
    fn resources_for(&self, action: &str) -> BTreeSet<String> {
        self.0
            .iter()
            .filter(|(actions, _)| actions.iter().any(|a| glob(a, action)))
            .flat_map(|(_, resources)| resources.iter().cloned())
            .collect()
    }
}

fn policy_of(state: &State, role_arn: &str) -> Policy {
    let role = role_arn.rsplit('/').next().unwrap();
    let mut statements = Vec::new();
    for policy in state
        .of_type("aws_iam_role_policy")
        .filter(|p| p["role"] == role)
    {
        let doc: Value = serde_json::from_str(policy["policy"].as_str().unwrap()).unwrap();
        for statement in doc["Statement"].as_array().unwrap() {
            assert_eq!(statement["Effect"], "Allow", "{statement}");
            assert!(statement.get("NotAction").is_none() && statement.get("NotResource").is_none());
            statements.push((
                strings(&statement["Action"]),
                strings(&statement["Resource"]),
            ));
        }
    }
    let attached: Vec<&Value> = state
        .of_type("aws_iam_role_policy_attachment")
        .filter(|a| a["role"] == role)
        .collect();
    assert!(
        attached.is_empty(),
        "{role}: only its own inline policy, got {attached:?}"
    );
    assert!(!statements.is_empty(), "{role} has no policy");
    Policy(statements)
}

fn states() -> Vec<(String, State)> {
    let dir = std::env::var("FLUX_TF_STATES").map(PathBuf::from).expect(
        "FLUX_TF_STATES names a directory of `terraform show -json` files; run .ci/terraform",
    );
    let mut states: Vec<(String, State)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| {
            (
                p.file_stem().unwrap().to_string_lossy().into_owned(),
                State::read(&p),
            )
        })
        .collect();
    states.sort_by(|a, b| a.0.cmp(&b.0));
    let names: Vec<&str> = states.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        ["dev", "prod", "staging"],
        "one applied state per environment"
    );
    states
}

#[test]
fn each_function_gets_exactly_the_environment_its_code_reads() {
    for (env, state) in states() {
        let lambdas: Vec<&Value> = state.of_type("aws_lambda_function").collect();
        assert_eq!(lambdas.len(), functions().len(), "{env}");
        for (name, function) in functions() {
            let set: BTreeSet<String> = environment(state.lambda(name)).into_keys().collect();
            let read: BTreeSet<String> =
                function.environment.iter().map(|s| s.to_string()).collect();
            assert_eq!(
                set, read,
                "{env}/{name}: Terraform's variables vs the code's ENVIRONMENT"
            );
        }
    }
}

#[test]
fn each_function_may_read_exactly_the_secrets_its_variables_name() {
    for (env, state) in states() {
        let mut known: BTreeSet<String> = state
            .of_type("aws_secretsmanager_secret")
            .map(|s| s["arn"].as_str().unwrap().to_string())
            .collect();
        for db in state.of_type("aws_db_instance") {
            known.insert(
                db["master_user_secret"][0]["secret_arn"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            );
        }
        let mut readers: BTreeMap<String, BTreeSet<&str>> = BTreeMap::new();
        for (name, _) in functions() {
            let lambda = state.lambda(name);
            let named: BTreeSet<String> = environment(lambda)
                .into_iter()
                .filter(|(k, _)| k.ends_with("_SECRET_ID"))
                .map(|(_, v)| v)
                .collect();
            for arn in &named {
                assert!(
                    known.contains(arn),
                    "{env}/{name}: {arn} is no secret of this stack"
                );
                readers.entry(arn.clone()).or_default().insert(name);
            }
            let policy = policy_of(&state, lambda["role"].as_str().unwrap());
            assert_eq!(
                policy.resources_for("secretsmanager:GetSecretValue"),
                named,
                "{env}/{name}: the secrets it may read vs the ones its variables name"
            );
        }
        // Who reads what: the owner and the signing keys stay narrow.
        let owner = &environment(state.lambda("migrate"))["DB_OWNER_SECRET_ID"];
        assert_eq!(readers[owner], BTreeSet::from(["migrate"]), "{env}");
        let signing = &environment(state.lambda("auth"))["AUTH_KEYS_SECRET_ID"];
        assert_eq!(
            readers[signing],
            BTreeSet::from(["auth", "migrate"]),
            "{env}"
        );
    }
}

#[test]
fn each_role_allows_what_its_function_does_and_no_more() {
    for (env, state) in states() {
        let bucket = state
            .of_type("aws_s3_bucket")
            .find(|b| b["bucket"].as_str().unwrap().contains("uploads"));
        let bucket = bucket.unwrap_or_else(|| panic!("{env}: an uploads bucket"))["bucket"]
            .as_str()
            .unwrap()
            .to_string();
        let object = format!(
            "arn:aws:s3:::{bucket}/uploads/0b9f3c52-3f0e-4e57-8d2a-1f8f0c3b7a10/5d1c2b3a-0e4f-4a5b-9c6d-7e8f9a0b1c2d.csv"
        );
        let outside = format!("arn:aws:s3:::{bucket}/elsewhere/x.csv");
        for (name, _) in functions() {
            let lambda = state.lambda(name);
            let policy = policy_of(&state, lambda["role"].as_str().unwrap());
            let key = lambda["kms_key_arn"].as_str().unwrap();
            // moto does not echo logging_config back; Lambda's default is the same name.
            let function_name = lambda["function_name"].as_str().unwrap();
            let log_group_name = lambda["logging_config"][0]["log_group"]
                .as_str()
                .map_or_else(|| format!("/aws/lambda/{function_name}"), String::from);
            let log_group = state.one("aws_cloudwatch_log_group", "name", &log_group_name);
            let stream = format!(
                "{}:log-stream:2026/11/27/[$LATEST]abc",
                log_group["arn"].as_str().unwrap().trim_end_matches(":*")
            );
            let must = |action: &str, resource: &str| {
                assert!(
                    policy.allows(action, resource),
                    "{env}/{name} may not {action} on {resource}"
                );
            };
            let must_not = |action: &str, resource: &str| {
                assert!(
                    !policy.allows(action, resource),
                    "{env}/{name} may {action} on {resource}"
                );
            };
            // Every function: its own logs, ENIs in the VPC, traces, the key.
            must("logs:CreateLogStream", &stream);
            must("logs:PutLogEvents", &stream);
            must_not(
                "logs:PutLogEvents",
                "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/other:log-stream:x",
            );
            for action in [
                "ec2:CreateNetworkInterface",
                "ec2:DescribeNetworkInterfaces",
                "ec2:DeleteNetworkInterface",
            ] {
                must(action, "*");
            }
            must("xray:PutTraceSegments", "*");
            must("kms:Decrypt", key);
            for (actions, _) in &policy.0 {
                assert!(
                    actions.iter().all(|a| a != "*" && !a.ends_with(":*")),
                    "{env}/{name}: {actions:?}"
                );
            }
            match name {
                "data-upload" => {
                    must("s3:PutObject", &object); // what its presigned URLs do
                    must("s3:DeleteObject", &object);
                    must("kms:GenerateDataKey", key);
                    must_not("s3:PutObject", &outside);
                    must_not("s3:GetObject", &object);
                }
                "csv-ingest" => {
                    must("s3:GetObject", &object);
                    must_not("s3:PutObject", &object);
                    must_not("s3:GetObject", &outside);
                    // What Lambda needs to hand a failed event to the queue.
                    let invoke = state.one(
                        "aws_lambda_function_event_invoke_config",
                        "function_name",
                        lambda["function_name"].as_str().unwrap(),
                    );
                    let queue_arn = invoke["destination_config"][0]["on_failure"][0]["destination"]
                        .as_str()
                        .unwrap();
                    let queue = state.one("aws_sqs_queue", "arn", queue_arn);
                    must("sqs:SendMessage", queue_arn);
                    must(
                        "kms:GenerateDataKey",
                        queue["kms_master_key_id"].as_str().unwrap(),
                    );
                }
                "migrate" => {
                    let vars = environment(lambda);
                    for secret in [
                        "AUTH_KEYS_SECRET_ID",
                        "AUTH_PUBLIC_KEYS_SECRET_ID",
                        "DB_APP_SECRET_ID",
                    ] {
                        must("secretsmanager:PutSecretValue", &vars[secret]);
                    }
                    must("kms:GenerateDataKey", key);
                    must_not("s3:GetObject", &object);
                }
                _ => {
                    must_not("s3:GetObject", &object);
                    must_not("s3:PutObject", &object);
                }
            }
            if name != "migrate" {
                assert!(
                    policy
                        .resources_for("secretsmanager:PutSecretValue")
                        .is_empty(),
                    "{env}/{name} may write secrets"
                );
            }
        }
    }
}

#[test]
fn api_gateway_routes_what_the_code_serves_authorized_where_the_api_is_not_public() {
    for (env, state) in states() {
        let integrations: BTreeMap<String, String> = state
            .of_type("aws_apigatewayv2_integration")
            .map(|i| {
                (
                    i["id"].as_str().unwrap().to_string(),
                    i["integration_uri"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        let routed: BTreeMap<String, (String, String)> = state
            .of_type("aws_apigatewayv2_route")
            .map(|r| {
                let target = r["target"]
                    .as_str()
                    .unwrap()
                    .trim_start_matches("integrations/");
                (
                    r["route_key"].as_str().unwrap().to_string(),
                    (
                        integrations[target].clone(),
                        r["authorization_type"].as_str().unwrap().to_string(),
                    ),
                )
            })
            .collect();
        let mut served = BTreeSet::new();
        for (name, function) in functions() {
            let alias = state.one(
                "aws_lambda_alias",
                "function_name",
                state.lambda(name)["function_name"].as_str().unwrap(),
            );
            for route in function.routes {
                let key = route.key();
                let (uri, authorization) = routed
                    .get(&key)
                    .unwrap_or_else(|| panic!("{env}: {key} is served by {name} but not routed"));
                assert!(
                    uri.contains(alias["arn"].as_str().unwrap()),
                    "{env}: {key} goes to {uri}, not {name}'s live alias"
                );
                let expected = if flux_tests::PUBLIC_ROUTES.contains(&key.as_str()) {
                    "NONE"
                } else {
                    "JWT"
                };
                assert_eq!(authorization, expected, "{env}: {key}");
                served.insert(key);
            }
        }
        let extra: Vec<&String> = routed.keys().filter(|k| !served.contains(*k)).collect();
        assert!(
            extra.is_empty(),
            "{env}: routed but served by nothing: {extra:?}"
        );
        // The authorizer trusts the issuer and audience the functions sign for.
        let auth_env = environment(state.lambda("auth"));
        for authorizer in state.of_type("aws_apigatewayv2_authorizer") {
            let jwt = &authorizer["jwt_configuration"][0];
            assert_eq!(jwt["issuer"], auth_env["AUTH_ISSUER"].as_str(), "{env}");
            assert_eq!(
                jwt["audience"],
                serde_json::json!([auth_env["AUTH_AUDIENCE"]]),
                "{env}"
            );
        }
    }
}

#[test]
fn no_secret_value_is_in_the_state() {
    for (env, state) in states() {
        assert!(
            !state.raw.contains("PRIVATE KEY"),
            "{env}: a private key in the state"
        );
        for version in state.of_type("aws_secretsmanager_secret_version") {
            let value = version["secret_string"].as_str().unwrap_or_default();
            assert!(value.is_empty(), "{env}: a secret value in the state");
        }
        for db in state.of_type("aws_db_instance") {
            assert!(
                db["password"].is_null(),
                "{env}: the master password in the state"
            );
        }
    }
}

#[test]
fn the_uploads_bucket_refuses_plain_http() {
    for (env, state) in states() {
        let policies: Vec<Value> = state
            .of_type("aws_s3_bucket_policy")
            .map(|p| serde_json::from_str(p["policy"].as_str().unwrap()).unwrap())
            .collect();
        let denies_http = policies.iter().any(|policy| {
            policy["Statement"].as_array().unwrap().iter().any(|s| {
                s["Effect"] == "Deny" && s["Condition"]["Bool"]["aws:SecureTransport"] == "false"
            })
        });
        assert!(
            denies_http,
            "{env}: the uploads bucket must deny insecure transport"
        );
    }
}

/// The review's operational fixes, as applied: a revert of any of them fails here.
#[test]
fn timeouts_alarms_keys_and_recovery_are_as_the_review_fixed_them() {
    for (env, state) in states() {
        // A statement ends before its Lambda is killed.
        for (name, _) in functions() {
            let lambda = state.lambda(name);
            let timeout_ms = lambda["timeout"].as_u64().unwrap() * 1000;
            if let Some(statement) = environment(lambda).get("DB_STATEMENT_TIMEOUT_MS") {
                let statement: u64 = statement.parse().unwrap();
                assert!(
                    statement < timeout_ms,
                    "{env}/{name}: statement {statement} ms vs Lambda {timeout_ms} ms"
                );
            }
        }
        // The proxy gives up on a connection before an API function's Lambda does.
        let api_timeout_s = ["auth", "data-upload", "sales", "health"]
            .iter()
            .map(|f| state.lambda(f)["timeout"].as_u64().unwrap())
            .min()
            .unwrap();
        for group in state.of_type("aws_db_proxy_default_target_group") {
            let borrow = group["connection_pool_config"][0]["connection_borrow_timeout"]
                .as_u64()
                .unwrap();
            assert!(
                borrow < api_timeout_s,
                "{env}: proxy borrow timeout {borrow} s"
            );
        }
        // CloudWatch may use the key of the topic it publishes alarms to.
        let cloudwatch_may_encrypt = state.of_type("aws_kms_key").any(|key| {
            let policy: Value = serde_json::from_str(key["policy"].as_str().unwrap()).unwrap();
            policy["Statement"].as_array().unwrap().iter().any(|s| {
                s["Effect"] == "Allow"
                    && strings(&s["Principal"]["Service"])
                        .iter()
                        .any(|p| p == "cloudwatch.amazonaws.com")
                    && strings(&s["Action"])
                        .iter()
                        .any(|a| glob(a, "kms:GenerateDataKey"))
                    && strings(&s["Action"]).iter().any(|a| a == "kms:Decrypt")
            })
        });
        assert!(
            cloudwatch_may_encrypt,
            "{env}: alarms could not publish to the encrypted topic"
        );
        // Someone is told: staging and prod page a person.
        let subscriptions = state.of_type("aws_sns_topic_subscription").count();
        if env != "dev" {
            assert!(subscriptions >= 1, "{env}: alarms reach nobody");
        }
        // A disposable dev re-creates its secrets under the same names at once.
        if env == "dev" {
            for secret in state.of_type("aws_secretsmanager_secret") {
                assert_eq!(
                    secret["recovery_window_in_days"], 0,
                    "{env}: {}",
                    secret["name"]
                );
            }
        }
    }
}
