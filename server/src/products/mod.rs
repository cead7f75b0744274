//! Products and their license definitions (the templates licenses are
//! made from): the admin API's handlers and bodies.

pub(crate) mod db;

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::body::{check_code, internal, invalid, Reply};
use crate::error::ApiError;
use crate::http::{Answer, JsonBody};
use crate::licenses::spec::{server_fields, validate};
use crate::products::db::DefinitionRow;
use crate::state::{App, AppState};
use crate::{database, device_call};

/// A product to create (`POST /products`).
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewProduct {
    code: String,
    name: String,
}

/// A product made, with the key its requests are signed with: shown this
/// once.
#[derive(Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub(crate) struct ProductCreated {
    code: String,
    name: String,
    /// The product's HMAC key, base64.
    #[schemars(extend("format" = "byte"))]
    api_key: String,
}

impl ProductCreated {
    /// The product's shared key (base64), shown once.
    pub(crate) fn api_key(&self) -> &str {
        &self.api_key
    }
}

/// A license definition: a named spec that licenses are made from
/// (`POST /definitions` takes one, and the admin API answers with it).
#[derive(Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Definition {
    product: String,
    code: String,
    name: String,
    /// A license spec without `id` and `license_key`.
    #[schemars(with = "serde_json::Map<String, Value>")]
    spec: Value,
    /// Set for the product's trial: how many days a trial lasts.
    #[serde(default)]
    trial_days: Option<u32>,
}

pub(crate) async fn new_product_call(
    State(app): AppState,
    JsonBody(p): JsonBody<NewProduct>,
) -> Reply {
    Answer::of(new_product(&app, p).await?)
}

pub(crate) async fn new_definition_call(
    State(app): AppState,
    JsonBody(d): JsonBody<Definition>,
) -> Reply {
    Answer::of(new_definition(&app, d).await?)
}

/// `GET /definitions?product=`.
#[derive(Deserialize, JsonSchema)]
pub(crate) struct DefinitionsQuery {
    /// One product's definitions (all products' when left out).
    pub(crate) product: Option<String>,
}

pub(crate) async fn definitions_call(
    State(app): AppState,
    Query(q): Query<DefinitionsQuery>,
) -> Reply {
    let list = app
        .with_db(move |_, conn| {
            let list = db::definitions(conn, q.product.as_deref())?;
            list.iter()
                .map(definition_json)
                .collect::<Result<Vec<_>, _>>()
        })
        .await?;
    Answer::of(list)
}

pub(crate) async fn definition_call(
    State(app): AppState,
    Path((product, code)): Path<(String, String)>,
) -> Reply {
    let d = app
        .with_db(move |_, conn| {
            let d = db::definition(conn, &product, &code)?
                .ok_or_else(|| ApiError::not_found("definition_not_found", "no such definition"))?;
            definition_json(&d)
        })
        .await?;
    Answer::of(d)
}

pub(crate) async fn new_product(app: &Arc<App>, p: NewProduct) -> Result<ProductCreated, ApiError> {
    check_code(&p.code, "code")?;
    let mut key = [0u8; 32];
    getrandom::getrandom(&mut key).map_err(|_| ApiError::internal("no random source"))?;
    let (code, name) = (p.code.clone(), p.name.clone());
    app.with_db(move |_, conn| {
        database::write(conn, |tx| db::insert_product(tx, &code, &name, &key))
            .map_err(ApiError::from)
    })
    .await?;
    // The shared key is shown once; the product embeds it.
    Ok(ProductCreated {
        code: p.code,
        name: p.name,
        api_key: B64.encode(key),
    })
}

pub(crate) async fn new_definition(app: &Arc<App>, d: Definition) -> Result<Definition, ApiError> {
    check_code(&d.code, "code")?;
    if !d.spec.is_object() {
        return Err(invalid("spec must be an object"));
    }
    server_fields(&d.spec)?;
    for k in ["id", "license_key"] {
        if d.spec.get(k).is_some() {
            return Err(invalid(format!("a definition has no `{k}`")));
        }
    }
    let mut probe = d.spec.clone();
    probe["id"] = json!("definition-check");
    let license = validate(app, &probe)?;
    if license.product() != d.product {
        return Err(ApiError::new(
            422,
            "invalid_spec",
            "the spec's product_details.short_code is another product",
        ));
    }
    if let Some(days) = d.trial_days {
        // The trial license trial_key would make from it must activate:
        // refused now, not when a device asks for a trial.
        if days == 0 {
            return Err(invalid("a trial lasts at least one day"));
        }
        probe["license_key"] = json!("DEFINITION-CHECK");
        probe["is_trial"] = json!(true);
        probe["trial_days"] = json!(days);
        let until = device_call::later(app.now(), chrono::Duration::days(i64::from(days)))?;
        probe["validity_period"] = json!(tessera::format::license::ts::format(&until));
        let trial = validate(app, &probe)?;
        if !trial.is_trial || trial.license_type == tessera::format::license::LicenseType::Perpetual
        {
            return Err(ApiError::new(
                422,
                "invalid_spec",
                "a trial definition needs a license type that ends (time-limited or subscription)",
            ));
        }
    }
    let row = DefinitionRow {
        product: d.product,
        code: d.code,
        name: d.name,
        spec: serde_json::to_string(&d.spec).map_err(internal)?,
        trial_days: d.trial_days,
    };
    let answer = definition_json(&row)?;
    app.with_db(move |_, conn| {
        database::write(conn, |tx| db::insert_definition(tx, &row)).map_err(ApiError::from)
    })
    .await?;
    Ok(answer)
}

fn definition_json(d: &DefinitionRow) -> Result<Definition, ApiError> {
    Ok(Definition {
        product: d.product.clone(),
        code: d.code.clone(),
        name: d.name.clone(),
        spec: serde_json::from_str::<Value>(&d.spec).map_err(internal)?,
        trial_days: d.trial_days,
    })
}
