//! Seed 002, UiPath Automation Suite: allocate licenses to users.
//!
//! `POST /{organizationName}/lease_/api/account/{accountId}/user-license`
//! with `{"userIds": [...], "userBundleCodes": [...], "useExternalLicense":
//! bool}` and `Authorization: Bearer {access_token}` (the admin token).
//! Every user gets one unit of every bundle (a license definition's code,
//! among the licenses sold to the account), or nothing changes: 404 when
//! the account has no license for a bundle, 409 when the units bought are
//! all allocated. The answer is the document's: one element per user,
//! `[{"userId", "organizationId", "useExternalLicense", "userBundleCodes"}]`.
//! The rules are the admin API's (`users::assign::allocate`); this module only
//! renames.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::Router;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::ApiError;
use crate::http::{Answer, JsonBody};
use crate::route_table::RouteList;
use crate::state::App;
use crate::users::assign::{allocate, Allocation};

/// The request body, in the document's field names.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct UserLicense {
    user_ids: Vec<String>,
    user_bundle_codes: Vec<String>,
    /// Echoed in the answer; the server keeps no external licenses, so it
    /// changes nothing (docs/COMPAT.md).
    #[serde(default)]
    use_external_license: bool,
}

/// The route, behind the admin token as the document's bearer token.
/// The routes, and the list of what they serve.
pub(super) fn table() -> (Router<Arc<App>>, RouteList) {
    crate::route_table::route_table! {
        "/{organization}/lease_/api/account/{account}/user-license" => post(user_license_call),
    }
}

pub(super) fn routes(app: &Arc<App>) -> Router<Arc<App>> {
    table().0.route_layer(axum::middleware::from_fn_with_state(
        Arc::clone(app),
        crate::http::authenticate_admin,
    ))
}

async fn user_license_call(
    State(app): State<Arc<App>>,
    Path((organization, account)): Path<(String, String)>,
    JsonBody(body): JsonBody<UserLicense>,
) -> Result<Answer, ApiError> {
    let allocated = allocate(
        &app,
        &account,
        Allocation {
            user_ids: body.user_ids,
            bundle_codes: body.user_bundle_codes,
        },
    )
    .await?;
    Ok(Answer(Value::from(
        allocated
            .into_iter()
            .map(|(user, codes)| {
                json!({
                    "userId": user,
                    "organizationId": organization,
                    "useExternalLicense": body.use_external_license,
                    "userBundleCodes": codes,
                })
            })
            .collect::<Vec<_>>(),
    )))
}
