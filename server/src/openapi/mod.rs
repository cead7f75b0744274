//! The OpenAPI document, made from what the server is: the operations'
//! table ([`operations`]: each route's summary, parameters and refusals,
//! beside its body and answer types) and the types themselves, whose JSON
//! Schemas schemars derives from their serde attributes and doc comments.
//! A body's type is the type the handler reads and the SDK sends; an
//! answer's is the type the handler answers with, so the document cannot
//! say what the server does not do.
//!
//! `server/openapi.json` is this document committed, for readers and for
//! schemathesis; `scripts/openapi.sh` writes it and the test command fails
//! when it is stale (as it does for the C header). The server serves the
//! same document at `/openapi.json`.

mod operations;
#[cfg(feature = "compat")]
mod seeds;

use std::sync::OnceLock;

use schemars::generate::{SchemaGenerator, SchemaSettings};
use schemars::{JsonSchema, Schema};
use serde_json::{json, Map, Value};

/// How a schema is made: from a type, by the generator that gathers the
/// document's shared schemas.
pub(crate) type SchemaFn = fn(&mut SchemaGenerator) -> Schema;

/// The schema of `T` (a reference, where `T` is a named type).
pub(crate) fn of<T: JsonSchema>(g: &mut SchemaGenerator) -> Schema {
    g.subschema_for::<T>()
}

/// The schema of `T` written out (a query's fields).
pub(crate) fn fields<T: JsonSchema>(g: &mut SchemaGenerator) -> Schema {
    T::json_schema(g)
}

/// Who may call an operation.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Auth {
    /// The client API: the product's HMAC, the Date and the nonce, and the
    /// device's proof where its activation recorded a key.
    Device,
    /// The admin API: the bearer token.
    Admin,
}

/// One operation of Tessera's own API.
pub(crate) struct Operation {
    /// Lower case: `get`, `post`, ...
    method: &'static str,
    /// The full path, as the router writes it (`/admin/v1/users/{id}`).
    path: &'static str,
    summary: &'static str,
    auth: Auth,
    /// Descriptions of path parameters, by name (each `{name}` of the path
    /// is a required string parameter).
    path_params: Vec<(&'static str, &'static str)>,
    /// The query's type, written out ([`fields`]): each of its fields is
    /// a query parameter.
    query: Option<SchemaFn>,
    /// The body's type (a JSON body is required where one is given).
    body: Option<SchemaFn>,
    /// The answer's type on success (200).
    answer: SchemaFn,
    /// Refusals worth naming beside the API's standard ones
    /// ([`refusal::standard`]); one of the same status replaces it.
    refusals: &'static [(u16, &'static str)],
    /// The answer on success is CSV text, not JSON.
    csv: bool,
}

/// A call of the client API (`POST`, authorized by the product's HMAC).
pub(crate) fn device(
    path: &'static str,
    summary: &'static str,
    body: SchemaFn,
    answer: SchemaFn,
) -> Operation {
    Operation {
        method: "post",
        path,
        summary,
        auth: Auth::Device,
        path_params: Vec::new(),
        query: None,
        body: Some(body),
        answer,
        refusals: &[],
        csv: false,
    }
}

/// A call of the admin API (the bearer token), without a body.
pub(crate) fn admin(
    method: &'static str,
    path: &'static str,
    summary: &'static str,
    answer: SchemaFn,
) -> Operation {
    Operation {
        method,
        path,
        summary,
        auth: Auth::Admin,
        path_params: Vec::new(),
        query: None,
        body: None,
        answer,
        refusals: &[],
        csv: false,
    }
}

impl Operation {
    /// Answering CSV text on success (`text/csv`).
    pub(crate) fn csv(mut self) -> Operation {
        self.csv = true;
        self
    }

    /// With a JSON body of this type.
    pub(crate) fn body(mut self, body: SchemaFn) -> Operation {
        self.body = Some(body);
        self
    }

    /// With query parameters: the fields of this type.
    pub(crate) fn query(mut self, query: SchemaFn) -> Operation {
        self.query = Some(query);
        self
    }

    /// With a description of the path parameter `name`.
    pub(crate) fn path_param(mut self, name: &'static str, description: &'static str) -> Operation {
        self.path_params.push((name, description));
        self
    }

    /// With these refusals beside (or instead of) the standard ones.
    pub(crate) fn refuses(mut self, refusals: &'static [(u16, &'static str)]) -> Operation {
        self.refusals = refusals;
        self
    }
}

/// The standard refusals' words, shared by the table's rows.
pub(crate) mod refusal {
    pub(crate) const BODY: (u16, &str) = (400, "malformed or invalid body");
    pub(crate) const REQUEST: (u16, &str) = (400, "malformed or invalid request");
    pub(crate) const DEVICE_AUTH: (u16, &str) = (401, "missing, stale or wrong authorization");
    pub(crate) const ADMIN_AUTH: (u16, &str) = (401, "missing or wrong admin token");
    pub(crate) const UNKNOWN_LICENSE: (u16, &str) = (404, "unknown license, product or endpoint");
    pub(crate) const UNKNOWN_ID: (u16, &str) = (404, "unknown id or endpoint");
    pub(crate) const TOO_LARGE: (u16, &str) = (413, "body larger than 64 KiB");
    pub(crate) const ADMIN_LOCKOUT: (u16, &str) = (
        429,
        "too many wrong admin tokens from this address lately (Retry-After says when to try again)",
    );

    /// What every operation of the API may answer.
    pub(crate) fn standard(auth: super::Auth) -> &'static [(u16, &'static str)] {
        match auth {
            super::Auth::Device => &[BODY, DEVICE_AUTH, UNKNOWN_LICENSE, TOO_LARGE],
            super::Auth::Admin => &[BODY, ADMIN_AUTH, UNKNOWN_ID, TOO_LARGE, ADMIN_LOCKOUT],
        }
    }
}

const REFUSED: &str = "refused: the body says why (docs/PROTOCOL.md lists the codes)";
const FAILED: &str = "the server failed (a database that cannot be reached or written, an admin \
                      change whose audit row cannot be written): nothing changed";

/// The document, made once; the bytes `/openapi.json` serves.
pub(crate) fn served() -> &'static [u8] {
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    BYTES.get_or_init(|| text().into_bytes())
}

/// The document as `server/openapi.json` holds it: pretty, ending in a
/// newline.
pub(crate) fn text() -> String {
    let mut text = serde_json::to_string_pretty(&document()).unwrap_or_default();
    text.push('\n');
    text
}

/// The whole document.
pub(crate) fn document() -> Value {
    let mut settings = SchemaSettings::openapi3();
    settings.definitions_path = "/components/schemas/".into();
    let mut g = settings.into_generator();
    let error = g.subschema_for::<crate::error::ApiError>();
    let mut paths = Map::new();
    for op in operations::all() {
        let item = paths
            .entry(op.path)
            .or_insert_with(|| json!({}))
            .as_object_mut();
        if let Some(item) = item {
            item.insert(op.method.to_owned(), operation(&mut g, &op, &error));
        }
    }
    paths.insert(
        "/openapi.json".into(),
        json!({"get": {
            "summary": "This document",
            "tags": ["Tessera"],
            "responses": {
                "200": {"description": "OpenAPI 3.0 document",
                        "content": {"application/json": {"schema": {"type": "object"}}}},
                "4XX": answer_of(REFUSED, &error),
                "5XX": answer_of(FAILED, &error),
            },
        }}),
    );
    paths.insert(
        "/downloads/{name}".into(),
        json!({"get": {
            "summary": "A file of the server's downloads folder (a release it hosts), whole or \
                        from a byte on (Range: bytes=N- or N-M); not signed: the vendor's \
                        signed release is what the SDK checks the file against",
            "tags": ["Tessera"],
            "parameters": [
                {"name": "name", "in": "path", "required": true,
                 "schema": {"type": "string"}, "description": "a plain file name"},
                {"name": "Range", "in": "header", "required": false,
                 "schema": {"type": "string"}, "description": "bytes=N- or bytes=N-M"},
            ],
            "responses": {
                "200": {"description": "the whole file",
                        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}},
                "206": {"description": "the range asked for (Content-Range names it)",
                        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}},
                "404": answer_of("no such file, or the server hosts no downloads", &error),
                "416": {"description": "the range starts past the file's end"},
            },
        }}),
    );
    #[cfg(feature = "compat")]
    let tags = seeds::add(&mut paths);
    #[cfg(not(feature = "compat"))]
    let tags: Vec<Value> = Vec::new();
    let mut all_tags = vec![
        json!({"name": "Tessera", "description": "Tessera's client API (/api/v1, docs/PROTOCOL.md)"}),
        json!({"name": "Tessera admin", "description": "The vendor's admin API (/admin/v1)"}),
    ];
    all_tags.extend(tags);
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "Tessera reference license server",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Client API (authorized per product with Tessera-HMAC-SHA256) and \
                            admin API (bearer token). Every response, errors included, is \
                            signed: see docs/PROTOCOL.md. The seeds' APIs (docs/COMPAT.md) are \
                            listed under their own tags. Generated from the server's types \
                            (server/src/openapi/).",
        },
        "tags": all_tags,
        "paths": paths,
        "components": {
            "securitySchemes": {
                "TesseraHmac": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Authorization",
                    "description": "Tessera-HMAC-SHA256 product=<code>, signature=<base64 \
                                    HMAC-SHA256 under the product's key of date\\nMETHOD\\npath\\n\
                                    hex(SHA-256(body))\\nnonce>",
                },
                "AdminToken": {"type": "http", "scheme": "bearer"},
            },
            "parameters": {
                "Date": {
                    "name": "Date", "in": "header", "required": true,
                    "schema": {"type": "string"},
                    "description": "HTTP date; more than 300 s from the server's clock is stale (401)",
                },
                "Nonce": {
                    "name": "Tessera-Nonce", "in": "header", "required": true,
                    "schema": {"type": "string", "pattern": "^[0-9A-Za-z_-]{16,64}$"},
                    "description": "echoed in the response and covered by its signature",
                },
                "DeviceSignature": {
                    "name": "Tessera-Device-Signature", "in": "header", "required": false,
                    "schema": {"type": "string"},
                    "description": "the device's proof: base64 Ed25519 signature of \
                                    \"tessera/v1/device-proof\\u0000\" followed by the request \
                                    string, by the key recorded at the activation; required on \
                                    every call about an activation that recorded one (401 \
                                    device_proof)",
                },
            },
            "schemas": g.take_definitions(true),
        },
    })
}

/// A response described by `description` whose body is `schema`.
fn answer_of(description: &str, schema: &Schema) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": schema}}})
}

fn operation(g: &mut SchemaGenerator, op: &Operation, error: &Schema) -> Value {
    let mut parameters: Vec<Value> = Vec::new();
    if op.auth == Auth::Device {
        for p in ["Date", "Nonce", "DeviceSignature"] {
            parameters.push(json!({"$ref": format!("#/components/parameters/{p}")}));
        }
    }
    for name in op
        .path
        .split('/')
        .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
    {
        let mut p = json!({"name": name, "in": "path", "required": true,
                           "schema": {"type": "string"}});
        if let Some((_, d)) = op.path_params.iter().find(|(n, _)| *n == name) {
            p["description"] = json!(d);
        }
        parameters.push(p);
    }
    if let Some(query) = op.query {
        parameters.extend(query_parameters(g, query));
    }
    let mut responses = Map::new();
    responses.insert(
        "200".into(),
        if op.csv {
            json!({"description": "OK, as CSV (signed: Tessera-Signature)",
                   "content": {"text/csv": {"schema": {"type": "string"}}}})
        } else {
            answer_of("OK (signed: Tessera-Signature)", &(op.answer)(g))
        },
    );
    for (status, description) in refusal::standard(op.auth).iter().chain(op.refusals) {
        responses.insert(status.to_string(), answer_of(description, error));
    }
    responses.insert("4XX".into(), answer_of(REFUSED, error));
    responses.insert("5XX".into(), answer_of(FAILED, error));
    let (tag, security) = match op.auth {
        Auth::Device => ("Tessera", json!([{"TesseraHmac": []}])),
        Auth::Admin => ("Tessera admin", json!([{"AdminToken": []}])),
    };
    let mut out = json!({
        "summary": op.summary,
        "tags": [tag],
        "security": security,
        "parameters": parameters,
        "responses": responses,
    });
    if let Some(body) = op.body {
        out["requestBody"] = json!({
            "required": true,
            "content": {"application/json": {"schema": body(g)}},
        });
    }
    out
}

/// A query type's fields as query parameters: none is required unless the
/// type requires it.
fn query_parameters(g: &mut SchemaGenerator, query: SchemaFn) -> Vec<Value> {
    let schema = query(g).to_value();
    let required: Vec<&str> = schema["required"]
        .as_array()
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let mut out = Vec::new();
    for (name, field) in schema["properties"].as_object().into_iter().flatten() {
        let mut field = field.clone();
        let description = field.as_object_mut().and_then(|f| f.remove("description"));
        // A parameter left out is the absent value: neither `nullable`
        // nor a type list (which OpenAPI 3.0 does not have) belongs here.
        if let Some(f) = field.as_object_mut() {
            f.remove("nullable");
            if let Some(Value::Array(types)) = f.get("type") {
                if let [Value::String(t), Value::String(n)] = types.as_slice() {
                    if n == "null" {
                        let t = Value::String(t.clone());
                        f.insert("type".into(), t);
                    }
                }
            }
        }
        let mut p = json!({"name": name, "in": "query",
                           "required": required.contains(&name.as_str()),
                           "schema": field});
        if let Some(d) = description {
            p["description"] = d;
        }
        out.push(p);
    }
    out
}
