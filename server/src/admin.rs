//! The vendor's admin API, behind the admin token: products, license
//! definitions, licenses, users and their licenses (one at a time, in
//! batches with a status per item, and as bundles for an account), seat
//! counts and feature toggles.

use std::sync::Arc;

use axum::extract::State;
use axum::Router;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::activations::{devices_call, remove_device_call};
use crate::audit::audit_call;
use crate::body::{invalid, Reply};
use crate::events;
use crate::http::{Answer, JsonBody};
use crate::products::{definition_call, definitions_call, new_definition_call, new_product_call};
use crate::releases::{new_release_call, releases_call};
use crate::seats::seats_call;
use crate::sso::{set_sso_call, sso_call};
use crate::state::{App, AppState};
use crate::users::assign::{allocate_call, assign_user_call, assignments_call, revoke_user_call};
use crate::users::{
    license_users_call, new_user_call, unlock_user_call, user_call, users_batch_call, users_call,
};

use crate::licenses::{
    disable_call, enable_call, license_call, new_license_call, toggle_get_call, toggle_set_call,
    update_license_call,
};

/// The server's clock to set (a test server's, `--test-clock`).
#[derive(Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Clock {
    /// RFC 3339.
    now: String,
}

/// The admin API, mounted under `/admin/v1` behind the admin token.
pub(crate) fn routes() -> (Router<Arc<App>>, crate::route_table::RouteList) {
    crate::route_table::route_table! {
        "/products" => post(new_product_call),
        "/products/{code}/releases" => post(new_release_call).get(releases_call),
        "/definitions" => post(new_definition_call).get(definitions_call),
        "/definitions/{product}/{code}" => get(definition_call),
        "/licenses" => post(new_license_call),
        "/licenses/{id}" => get(license_call).patch(update_license_call),
        "/licenses/{id}/disable" => post(disable_call),
        "/licenses/{id}/enable" => post(enable_call),
        "/licenses/{id}/transfers/reset" => post(crate::licenses::reset_transfers_call),
        "/licenses/{id}/seats" => get(seats_call),
        "/licenses/{id}/devices" => get(devices_call),
        "/licenses/{id}/relays" => get(crate::relays::relays_call),
        "/relay_usage" => post(crate::relays::import_call),
        "/licenses/{id}/devices/{device}" => delete(remove_device_call),
        "/audit" => get(audit_call),
        "/licenses/{id}/toggles/{feature}" => get(toggle_get_call).post(toggle_set_call),
        "/licenses/{id}/users" => get(license_users_call),
        "/licenses/{id}/users/{user}" => post(assign_user_call).delete(revoke_user_call),
        "/assignments" => post(assignments_call),
        "/accounts/{account}/user-license" => post(allocate_call),
        "/accounts/{account}/sso" => put(set_sso_call).get(sso_call),
        "/users" => post(new_user_call).get(users_call),
        "/users/batch" => post(users_batch_call),
        "/users/{id}" => get(user_call),
        "/users/{id}/unlock" => post(unlock_user_call),
        "/clock" => post(clock_call),
        "/webhooks" => post(events::new_webhook_call).get(events::webhooks_call),
        "/webhooks/{id}" => get(events::webhook_call).patch(events::update_webhook_call).delete(events::delete_webhook_call),
        "/webhooks/{id}/resume" => post(events::resume_webhook_call),
        "/webhooks/{id}/deliveries" => get(events::attempts_call),
        "/events" => get(events::events_call),
        "/reports/usage" => get(crate::reports::usage_call),
        "/reports/usage.csv" => get(crate::reports::usage_csv_call),
        "/settings/consumption-thresholds" => get(events::thresholds_call).put(events::set_thresholds_call),
        "/compat/licensespring/chain" => get(licensespring_chain_call),
        "/compat/licensespring/offline" => post(licensespring_offline_call),
    }
}

/// The certificate chain that vouches for the key signing LicenseSpring's
/// answers (seed 003): what a product built on LicenseSpring's SDK passes
/// to its `FSSignatureVerifier` (docs/COMPAT.md).
#[derive(Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub(crate) struct LicenseSpringChain {
    /// PEM: the leaf certificate (the RSA key's), the intermediate, the root.
    chain: String,
}

/// A request file of LicenseSpring's SDK (`activate_offline.req` or
/// `deactivate_offline.req`), brought by the vendor from a device offline.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct LicenseSpringRequestFile {
    /// The file's text.
    request: String,
}

/// What the server did with a request file.
#[derive(Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub(crate) struct LicenseSpringOfflineAnswer {
    /// `activation` or `deactivation`.
    request: String,
    /// For an activation, the response file's text to give the device
    /// (`LicenseManager.activate_license_offline`); null for a deactivation.
    response: Option<String>,
}

/// LicenseSpring's offline portal: activates or deactivates the device as
/// its request file asks (docs/COMPAT.md).
async fn licensespring_offline_call(
    State(app): State<Arc<App>>,
    JsonBody(file): JsonBody<LicenseSpringRequestFile>,
) -> Reply {
    #[cfg(feature = "compat")]
    {
        let (activation, response) =
            crate::compat::licensespring::offline::portal(app, &file.request).await?;
        Answer::of(LicenseSpringOfflineAnswer {
            request: if activation {
                "activation"
            } else {
                "deactivation"
            }
            .to_owned(),
            response,
        })
    }
    #[cfg(not(feature = "compat"))]
    {
        let _ = (app, file.request);
        Err(crate::error::ApiError::not_found(
            "not_found",
            "this server does not serve LicenseSpring's API",
        ))
    }
}

async fn licensespring_chain_call(State(app): AppState) -> Reply {
    #[cfg(feature = "compat")]
    if let Some(signer) = &app.licensespring_signer {
        return Answer::of(LicenseSpringChain {
            chain: signer.chain().to_owned(),
        });
    }
    let _ = app;
    Err(crate::error::ApiError::not_found(
        "not_found",
        "this server does not serve LicenseSpring's API, or signs none of its answers",
    ))
}

async fn clock_call(State(app): AppState, JsonBody(c): JsonBody<Clock>) -> Reply {
    let at = tessera::format::license::ts::parse(&c.now)
        .ok_or_else(|| invalid("now must be an RFC 3339 time"))?;
    app.set_clock(at)?;
    Answer::of(c)
}
