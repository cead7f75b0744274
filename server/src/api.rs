//! The client API the SDK calls (authenticated per product).

use std::sync::Arc;

use axum::Router;

use crate::activations::offline::{activate_offline_call, deactivate_offline_call};
use crate::activations::{activate_call, check_call, deactivate_call};
use crate::consumption::add_consumption_call;
use crate::releases::latest_release_call;
use crate::seats::{borrow_call, heartbeat_call, register_call, release_call};
use crate::state::App;
use crate::trials::trial_key_call;
use crate::users::user_licenses_call;

/// The client API, mounted under `/api/v1`; every call is a POST.
pub(crate) fn routes() -> (Router<Arc<App>>, crate::route_table::RouteList) {
    crate::route_table::route_table! {
        "/user_licenses" => post(user_licenses_call),
        "/trial_key" => post(trial_key_call),
        "/activate_offline" => post(activate_offline_call),
        "/deactivate_offline" => post(deactivate_offline_call),
        "/floating/borrow" => post(borrow_call),
        "/add_consumption" => post(add_consumption_call),
        "/activate_license" => post(activate_call),
        "/check_license" => post(check_call),
        "/deactivate_license" => post(deactivate_call),
        "/floating/register" => post(register_call),
        "/floating/heartbeat" => post(heartbeat_call),
        "/floating/release" => post(release_call),
        "/latest_release" => post(latest_release_call),
        "/sso/provider" => post(crate::sso::desktop::provider_call),
        "/relay/delegate" => post(crate::relays::delegate_call),
        "/relay/usage" => post(crate::relays::usage_call),
    }
}
