//! The seed documents' own APIs (`../shared/seeds/`, docs/COMPAT.md), each
//! a thin translation onto the admin API's operations: the same data model
//! and the same rules (limits, 404 and 409, all or nothing), in the field
//! names, paths and answers its document writes. One module per seed.

use std::sync::Arc;

use axum::Router;

use crate::state::App;

mod uipath;

/// Every seed's routes, at the paths their documents give (mounted at the
/// server's root), and what each serves. The caller puts the seed's
/// authentication in front.
pub(crate) fn routes() -> (Router<Arc<App>>, crate::served::Served) {
    uipath::routes()
}
