//! The seed documents' own APIs (`../shared/seeds/`, docs/COMPAT.md), each
//! a thin translation onto the admin API's operations: the same data model
//! and the same rules (limits, 404 and 409, all or nothing), in the field
//! names, paths, answers and errors its document writes. One module per
//! seed; each puts its own authentication in front.

use std::sync::Arc;

use axum::response::{IntoResponse, Response};
use axum::Router;

use crate::error::ApiError;
use crate::state::App;

mod genesys;
mod licensespring;
mod oidc;
mod salesforce;
mod soql;
mod uipath;

/// Every seed's routes, at the paths their documents give (mounted at the
/// server's root).
pub(crate) fn routes(app: &Arc<App>) -> Router<Arc<App>> {
    uipath::routes(app)
        .merge(salesforce::routes(app))
        .merge(genesys::routes(app))
        .merge(licensespring::routes())
}

/// The router's fallbacks' answer (no such path, no such method) for
/// `path`: in its seed's shape when a seed owns the path, else Tessera's.
pub(crate) fn refusal(path: &str, e: ApiError) -> Response {
    if salesforce::owns(path) {
        salesforce::SfError::from(e).into_response()
    } else {
        e.into_response()
    }
}
