//! The seed documents' own APIs (`../shared/seeds/`, docs/COMPAT.md), each
//! a thin translation onto the admin API's operations: the same data model
//! and the same rules (limits, 404 and 409, all or nothing), in the field
//! names, paths, answers and errors its document writes. One module per
//! seed; each puts its own authentication in front.

use std::sync::Arc;

use axum::response::{IntoResponse, Response};
use axum::Router;

use crate::error::ApiError;
use crate::route_table::RouteList;
use crate::state::App;

mod genesys;
pub(crate) mod licensespring;
mod salesforce;
mod soql;
mod uipath;

/// Every seed's routes, at the paths their documents give (mounted at the
/// server's root).
pub(crate) fn routes(app: &Arc<App>) -> Router<Arc<App>> {
    uipath::routes(app)
        .merge(salesforce::routes(app))
        .merge(genesys::routes(app))
        .merge(
            licensespring::table()
                .0
                // Its answers carry LicenseSpring's own signature.
                .layer(axum::middleware::from_fn(
                    licensespring::signature::mark_answers,
                )),
        )
}

/// A seed whose API the server speaks.
pub(crate) struct Seed {
    /// Its tag in the OpenAPI document.
    pub(crate) tag: &'static str,
    /// Which document, and how a caller authenticates.
    pub(crate) description: &'static str,
    /// What it serves, from the table its router is built from.
    pub(crate) served: RouteList,
}

/// Every seed's API, for the OpenAPI document and the list of routes.
pub(crate) fn seeds() -> [Seed; 4] {
    [
        Seed {
            tag: "Salesforce",
            description: "Seed 000: Salesforce's PackageLicense and UserPackageLicense \
                          (docs/COMPAT.md). Bearer: the admin token. Bodies and errors in \
                          Salesforce's shape.",
            served: salesforce::table().1,
        },
        Seed {
            tag: "Genesys Cloud",
            description: "Seed 001: Genesys Cloud's LicenseApi (docs/COMPAT.md). Bearer: the \
                          admin token.",
            served: genesys::table().1,
        },
        Seed {
            tag: "UiPath",
            description: "Seed 002: UiPath Automation Suite's license allocation \
                          (docs/COMPAT.md). Bearer: the admin token.",
            served: uipath::table().1,
        },
        Seed {
            tag: "LicenseSpring",
            description: "Seed 003: LicenseSpring's License API (docs/COMPAT.md). \
                          Authorization: algorithm=\"hmac-sha256\", headers=\"date\", \
                          signature over the Date header with the product's key, or a \
                          bearer id token of the account's identity provider.",
            served: licensespring::table().1,
        },
    ]
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
