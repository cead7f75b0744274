//! The vendor's console (`/console/`, docs/CONSOLE.md): staff sign in
//! (Argon2 password, the sign-in throttle, an optional TOTP second
//! factor) and look after products, licenses, devices, customers,
//! releases and the audit log. Every change goes through the admin API's
//! own operations and lands in the audit log under the staff member's
//! name (crate::audit::request::audited).

mod account;
pub(crate) use account::create_owner;
mod licenses;
mod overview;
mod pages;
pub(crate) mod queries;
mod releases;
pub(crate) mod signed_in;
pub(crate) mod staff;

use std::sync::Arc;

use axum::routing::{get, post};
use axum::{middleware, Router};

use crate::state::App;

/// The console's routes, behind its CSRF guard.
pub(crate) fn routes(app: &Arc<App>) -> Router<Arc<App>> {
    Router::new()
        .route(
            "/console",
            get(|| async { crate::web::see_other("/console/") }),
        )
        .route("/console/", get(overview::overview))
        .route(
            "/console/sign-in",
            get(account::sign_in_page).post(account::sign_in),
        )
        .route(
            "/console/sign-in/code",
            get(account::code_page).post(account::code),
        )
        .route(
            "/console/setup",
            get(account::setup_page).post(account::setup),
        )
        .route("/console/sign-out", post(account::sign_out))
        .route(
            "/console/sign-out-everywhere",
            post(account::sign_out_everywhere),
        )
        .route("/console/account", get(account::account_page))
        .route("/console/account/password", post(account::change_password))
        .route(
            "/console/account/second-factor",
            post(account::second_factor),
        )
        .route(
            "/console/staff",
            get(account::staff_page).post(account::add_staff),
        )
        .route("/console/staff/{id}/role", post(account::set_role))
        .route("/console/staff/{id}/remove", post(account::remove_staff))
        .route(
            "/console/licenses",
            get(licenses::list).post(licenses::create),
        )
        .route("/console/licenses/{id}", get(licenses::show))
        .route("/console/licenses/{id}/suspend", post(licenses::suspend))
        .route("/console/licenses/{id}/resume", post(licenses::resume))
        .route("/console/licenses/{id}/renew", post(licenses::renew))
        .route("/console/licenses/{id}/edit", post(licenses::edit))
        .route(
            "/console/licenses/{id}/extend-trial",
            post(licenses::extend_trial),
        )
        .route(
            "/console/licenses/{id}/reset-transfers",
            post(licenses::reset_transfers),
        )
        .route(
            "/console/licenses/{id}/devices/{device}/free",
            post(licenses::free_device),
        )
        .route("/console/licenses/{id}/offline", post(licenses::offline))
        .route(
            "/console/products",
            get(pages::products).post(pages::new_product),
        )
        .route("/console/definitions", post(pages::new_definition))
        .route("/console/customers", get(pages::customers))
        .route("/console/users", get(pages::users))
        .route(
            "/console/releases",
            get(releases::releases).post(releases::publish),
        )
        .route("/console/sso", get(pages::sso))
        .route("/console/audit", get(pages::audit))
        .route("/console/trials", get(pages::trials))
        .route_layer(middleware::from_fn_with_state(
            Arc::clone(app),
            crate::web::guard::console,
        ))
}
