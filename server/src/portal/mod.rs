//! The customers' portal (`/portal/`, docs/CONSOLE.md): a customer's user
//! signs in (the password the vendor set, under the same throttle as the
//! SDK's user sign-in) and sees the licenses assigned to them, who holds
//! their seats, their devices and what maintenance covers; frees one of
//! their devices (a transfer, within `max_transfers`), runs an offline
//! activation or deactivation by request file, and downloads the releases
//! their licenses may install. A user sees only their own licenses: every
//! page and action checks the assignment.

mod pages;
mod session;
mod sso;

use std::sync::Arc;

use axum::routing::{get, post};
use axum::{middleware, Router};

use crate::state::App;
use crate::web::see_other;

pub(crate) fn routes(app: &Arc<App>) -> Router<Arc<App>> {
    Router::new()
        .route("/portal", get(|| async { see_other("/portal/") }))
        .route("/portal/", get(pages::home))
        .route(
            "/portal/sign-in",
            get(session::sign_in_page).post(session::sign_in),
        )
        .route("/portal/sign-out", post(session::sign_out))
        .route("/portal/sso", post(sso::start))
        .route("/portal/sso/callback", get(sso::callback))
        .route("/portal/licenses/{id}", get(pages::license))
        .route(
            "/portal/licenses/{id}/devices/{device}/free",
            post(pages::free_device),
        )
        .route("/portal/licenses/{id}/offline", post(pages::offline))
        .route("/portal/releases", get(pages::releases))
        .route_layer(middleware::from_fn_with_state(
            Arc::clone(app),
            crate::web::guard::portal,
        ))
}
