//! The OpenAPI document as the contract every server test holds the server
//! to: each call the tests make goes through [`check`], which finds its
//! operation in `server/openapi.json` and validates the answer (and, when
//! the server took it, the request body) against the document's schemas.
//! An operation, a status or a field the document does not declare fails
//! the test that met it.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde_json::{json, Value};

/// One documented operation.
struct Operation {
    method: String,
    /// The path as the document writes it.
    template: String,
    segments: Vec<String>,
    request: Option<jsonschema::Validator>,
    /// By status key: "200", "4XX", "default"; None where no body is
    /// described.
    responses: HashMap<String, Option<jsonschema::Validator>>,
}

pub struct Contract {
    operations: Vec<Operation>,
}

/// The operations this process saw answered with a success, as
/// "METHOD /template".
static SUCCEEDED: std::sync::Mutex<std::collections::BTreeSet<String>> =
    std::sync::Mutex::new(std::collections::BTreeSet::new());

/// Every documented operation, as "METHOD /template".
pub fn documented() -> std::collections::BTreeSet<String> {
    contract()
        .operations
        .iter()
        .map(|op| format!("{} {}", op.method, op.template))
        .collect()
}

/// The documented operations this process has seen succeed.
pub fn succeeded() -> std::collections::BTreeSet<String> {
    SUCCEEDED.lock().unwrap_or_else(|p| p.into_inner()).clone()
}

/// OpenAPI 3.0's `nullable` in JSON Schema's words: `type` with "null".
fn json_schema(mut v: Value) -> Value {
    fn walk(v: &mut Value) {
        match v {
            Value::Object(map) => {
                if map.remove("nullable") == Some(Value::Bool(true)) {
                    if let Some(t) = map.get("type").cloned() {
                        map.insert("type".into(), json!([t, "null"]));
                    }
                }
                map.values_mut().for_each(walk);
            }
            Value::Array(items) => items.iter_mut().for_each(walk),
            _ => {}
        }
    }
    walk(&mut v);
    v
}

fn validator(schema: &Value, components: &Value) -> jsonschema::Validator {
    let root = json!({"allOf": [schema], "components": components});
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .build(&root)
        .unwrap_or_else(|e| panic!("the document's schema does not compile: {e}: {schema}"))
}

fn json_body_schema(holder: &Value) -> Option<&Value> {
    holder
        .get("content")?
        .get("application/json")?
        .get("schema")
}

pub fn contract() -> &'static Contract {
    static CONTRACT: OnceLock<Contract> = OnceLock::new();
    CONTRACT.get_or_init(|| {
        let doc: Value = json_schema(
            serde_json::from_str(include_str!("../../openapi.json")).expect("openapi.json"),
        );
        let components = doc["components"].clone();
        let resolve = |v: &Value| -> Value {
            // A response or request body given by reference.
            match v.get("$ref").and_then(Value::as_str) {
                Some(r) => {
                    let mut at = &doc;
                    for part in r.trim_start_matches("#/").split('/') {
                        at = &at[part];
                    }
                    at.clone()
                }
                None => v.clone(),
            }
        };
        let mut operations = Vec::new();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for (method, op) in item.as_object().expect("path item") {
                if !["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                    continue;
                }
                let request = op
                    .get("requestBody")
                    .map(resolve)
                    .and_then(|b| json_body_schema(&b).map(|s| validator(s, &components)));
                let responses = op["responses"]
                    .as_object()
                    .expect("responses")
                    .iter()
                    .map(|(status, r)| {
                        let r = resolve(r);
                        (
                            status.clone(),
                            json_body_schema(&r).map(|s| validator(s, &components)),
                        )
                    })
                    .collect();
                operations.push(Operation {
                    method: method.to_uppercase(),
                    template: path.clone(),
                    segments: path.split('/').map(str::to_owned).collect(),
                    request,
                    responses,
                });
            }
        }
        Contract { operations }
    })
}

impl Contract {
    /// The documented operation `method path` is, preferring the template
    /// with the most literal segments (`/users/batch` over `/users/{id}`).
    fn operation(&self, method: &str, path: &str) -> Option<&Operation> {
        let parts: Vec<&str> = path.split('/').collect();
        self.operations
            .iter()
            .filter(|op| op.method == method && op.segments.len() == parts.len())
            .filter(|op| {
                op.segments
                    .iter()
                    .zip(&parts)
                    .all(|(s, p)| s.starts_with('{') || s == p)
            })
            .max_by_key(|op| op.segments.iter().filter(|s| !s.starts_with('{')).count())
    }
}

fn errors(v: &jsonschema::Validator, instance: &Value) -> Vec<String> {
    v.iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

/// Holds one exchange to the document: `method path_and_query` sent with
/// `request` (None: no body), answered `status` with `response`.
pub fn check(
    method: &str,
    path_and_query: &str,
    request: Option<&str>,
    status: u16,
    response: &Value,
) {
    let path = path_and_query.split('?').next().unwrap_or("");
    let Some(op) = contract().operation(method, path) else {
        // Only an undeclared route or method may be undocumented.
        assert!(
            status == 404 || status == 405,
            "{method} {path} answered {status} but the OpenAPI document does not declare it"
        );
        return;
    };
    let class = format!("{}XX", status / 100);
    let key = [status.to_string(), class, "default".to_owned()]
        .into_iter()
        .find(|k| op.responses.contains_key(k))
        .unwrap_or_else(|| {
            panic!("{method} {path} answered {status}, which the OpenAPI document does not declare")
        });
    if let Some(v) = &op.responses[&key] {
        let found = errors(v, response);
        assert!(
            found.is_empty(),
            "{method} {path} {status}: the answer does not match the document: {found:?}\n{response}"
        );
    }
    if (200..300).contains(&status) {
        SUCCEEDED
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(format!("{method} {}", op.template));
        if let (Some(v), Some(body)) = (&op.request, request.filter(|b| !b.is_empty())) {
            let body: Value = serde_json::from_str(body)
                .unwrap_or_else(|e| panic!("{method} {path} took a body that is not JSON: {e}"));
            let found = errors(v, &body);
            assert!(
                found.is_empty(),
                "{method} {path}: the server took a body the document refuses: {found:?}\n{body}"
            );
        }
    }
}
