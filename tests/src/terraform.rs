//! What `terraform show -json` says was applied: every managed resource,
//! modules included, for the tests that read an applied state.

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

    pub fn one(&self, kind: &str, key: &str, value: &str) -> &Value {
        let found: Vec<&Value> = self.of_type(kind).filter(|r| r[key] == value).collect();
        assert_eq!(found.len(), 1, "one {kind} with {key} = {value}: {found:?}");
        found[0]
    }
}
