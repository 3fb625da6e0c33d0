//! What `terraform show -json` says was applied: every managed resource,
//! modules included, for the tests that read an applied state.

use std::collections::BTreeMap;

use serde_json::Value;

/// Every resource of a `terraform show -json` document, modules included.
pub struct State {
    resources: Vec<Value>,
    /// The document as written, to search for what must never be in it.
    pub raw: String,
}

impl State {
    pub fn read(path: &std::path::Path) -> Self {
        let raw = std::fs::read_to_string(path).unwrap();
        let doc: Value = serde_json::from_str(&raw).unwrap();
        let mut resources = Vec::new();
        let mut modules = vec![doc["values"]["root_module"].clone()];
        while let Some(module) = modules.pop() {
            resources.extend(module["resources"].as_array().cloned().unwrap_or_default());
            modules.extend(
                module["child_modules"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default(),
            );
        }
        Self { resources, raw }
    }

    pub fn of_type(&self, kind: &str) -> impl Iterator<Item = &Value> {
        let kind = kind.to_string();
        self.resources
            .iter()
            .filter(move |r| r["type"] == kind.as_str() && r["mode"] == "managed")
            .map(|r| &r["values"])
    }

    /// The Lambda of `function`, by its `<name>-<function>` suffix.
    pub fn lambda(&self, function: &str) -> &Value {
        let suffix = format!("-{function}");
        let found: Vec<&Value> = self
            .of_type("aws_lambda_function")
            .filter(|f| f["function_name"].as_str().unwrap().ends_with(&suffix))
            .collect();
        assert_eq!(found.len(), 1, "one Lambda for {function}");
        found[0]
    }

    pub fn one(&self, kind: &str, key: &str, value: &str) -> &Value {
        let found: Vec<&Value> = self.of_type(kind).filter(|r| r[key] == value).collect();
        assert_eq!(found.len(), 1, "one {kind} with {key} = {value}: {found:?}");
        found[0]
    }
}

/// A Lambda's environment variables.
pub fn environment(lambda: &Value) -> BTreeMap<String, String> {
    lambda["environment"][0]["variables"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
        .collect()
}
