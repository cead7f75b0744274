//! Product releases: publishing and listing them (admin API) and the
//! update check (client API).

pub(crate) mod db;
pub(crate) mod downloads;
pub(crate) mod versions;

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use schemars::JsonSchema;
use serde::Deserialize;

use tessera::protocol::bodies::{LatestReleaseAnswer, ReleaseRequest};

use tessera::protocol::bodies::LicenseAndDevice;

use crate::activations::require_activated;
use crate::body::{check_code, invalid, plain_text, Reply};
use crate::database;
use crate::device_call::{DeviceBody, DeviceCall, Handler, Purpose, Unsigned};
use crate::error::ApiError;
use crate::http::to_value;
use crate::http::{Answer, JsonBody};
use crate::products::db as products_db;
use crate::state::{App, AppState};

impl DeviceBody for ReleaseRequest {
    /// The installed version and the channel.
    type Rest = (Option<String>, Option<String>);
    fn split(self) -> (LicenseAndDevice, Self::Rest) {
        (self.who, (self.current_version, self.channel))
    }
}

pub(crate) async fn latest_release_call(
    call: DeviceCall<ReleaseRequest>,
) -> Result<Answer, ApiError> {
    let (current_version, channel) = (call.rest.0.clone(), call.rest.1.clone());
    let current = match &current_version {
        None => None,
        Some(v) => Some(versions::parse_version(v).ok_or_else(|| {
            ApiError::bad_request(
                "invalid_version",
                "current_version must be a dotted number such as 2.1.0",
            )
        })?),
    };
    let handler: Box<Handler> = Box::new(move |app, tx, row, who, _| {
        require_activated(tx, row, &who.fingerprint.id)?;
        let parsed = app.license_of(row)?;
        let releases = db::releases_of(tx, &row.product, channel.as_deref())?;
        let until = versions::covered_until(&parsed.1);
        let latest = versions::latest_for(until, &releases, current.as_deref());
        Ok(Unsigned::Ready(to_value(&LatestReleaseAnswer::new(
            latest.map(versions::to_release),
        ))?))
    });
    call.run(Purpose::Use, handler).await
}

/// A release to publish (`POST /products/{code}/releases`).
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewRelease {
    version: String,
    #[serde(default)]
    channel: Option<String>,
    #[serde(default)]
    environment: String,
    /// RFC 3339; now when left out.
    #[serde(default)]
    release_date: Option<String>,
    #[serde(default)]
    requires_version: String,
    /// Where the product downloads it: an `https://` URL, or a path on
    /// this server (`/downloads/NAME`, a file of its `downloads` folder).
    installation_file: String,
    /// The file's MD5, for seed 003's answer only (nothing verifies with
    /// it); empty when left out.
    #[serde(default)]
    hash_md5: String,
    size: u64,
    /// The file's SHA-256, 64 lowercase hex digits; taken from `manifest`
    /// when left out.
    #[serde(default)]
    sha256: String,
    /// The vendor's signed release (`tessera release sign`, docs/FORMAT.md
    /// section 13), signed by the server's key or one of its
    /// `release_keys`. Its product, version, channel, size and SHA-256
    /// must be this release's. Without it the SDK's download helper
    /// refuses the release.
    #[serde(default)]
    manifest: String,
    #[serde(default)]
    eula_link: String,
    #[serde(default)]
    release_notes_link: String,
}

pub(crate) async fn new_release_call(
    State(app): AppState,
    Path(product): Path<String>,
    JsonBody(r): JsonBody<NewRelease>,
) -> Reply {
    Answer::of(publish(&app, product, r).await?)
}

/// Publishes a release of `product` (the admin API's and the console's).
pub(crate) async fn publish(
    app: &Arc<App>,
    product: String,
    r: NewRelease,
) -> Result<tessera::protocol::bodies::Release, ApiError> {
    let row = release_row(app, product, r)?;
    let answer = versions::to_release(&row);
    app.with_db(move |_, conn| {
        database::write(conn, |tx| db::insert_release(tx, &row)).map_err(ApiError::from)
    })
    .await?;
    Ok(answer)
}

/// Checks a release to publish, field by field.
fn release_row(app: &App, product: String, r: NewRelease) -> Result<db::ReleaseRow, ApiError> {
    use versions::parse_version;
    if parse_version(&r.version).is_none() {
        return Err(invalid("version must be a dotted number such as 2.1.0"));
    }
    if !r.requires_version.is_empty() && parse_version(&r.requires_version).is_none() {
        return Err(invalid("requires_version must be empty or a dotted number"));
    }
    let channel = r.channel.clone().unwrap_or_else(|| "stable".to_owned());
    check_code(&channel, "channel")?;
    if !r.environment.is_empty() {
        check_code(&r.environment, "environment")?;
    }
    let hex = |s: &str, n: usize| {
        s.len() == n && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    };
    if !r.hash_md5.is_empty() && !hex(&r.hash_md5, 32) {
        return Err(invalid(
            "hash_md5 must be empty or 32 lowercase hexadecimal digits",
        ));
    }
    if !r.sha256.is_empty() && !hex(&r.sha256, 64) {
        return Err(invalid(
            "sha256 must be empty or 64 lowercase hexadecimal digits",
        ));
    }
    let sha256 = if r.manifest.is_empty() {
        r.sha256
    } else {
        signed_release(app, &product, &channel, &r)?
    };
    for (name, text, required) in [
        ("installation_file", &r.installation_file, true),
        ("eula_link", &r.eula_link, false),
        ("release_notes_link", &r.release_notes_link, false),
    ] {
        if (required && text.is_empty()) || !plain_text(text, 2048) {
            return Err(invalid(format!(
                "{name} must be {}at most 2048 characters without control characters",
                if required {
                    "1 to 2048 characters, "
                } else {
                    ""
                }
            )));
        }
    }
    if i64::try_from(r.size).is_err() {
        return Err(invalid("size is too large"));
    }
    let release_date = match &r.release_date {
        None => app.now().timestamp(),
        Some(d) => chrono::DateTime::parse_from_rfc3339(d)
            .map_err(|_| invalid("release_date must be an RFC 3339 time"))?
            .timestamp(),
    };
    Ok(db::ReleaseRow {
        product,
        channel,
        version: r.version,
        environment: r.environment,
        release_date,
        requires_version: r.requires_version,
        installation_file: r.installation_file,
        hash_md5: r.hash_md5,
        size: r.size,
        eula_link: r.eula_link,
        release_notes_link: r.release_notes_link,
        sha256,
        manifest: r.manifest,
    })
}

/// Checks the vendor's signed release against the server's release keys
/// and the release it is published with; answers the file's SHA-256.
fn signed_release(
    app: &App,
    product: &str,
    channel: &str,
    r: &NewRelease,
) -> Result<String, ApiError> {
    use tessera::format::release::SignedRelease;
    let refused = |m: String| ApiError::bad_request("invalid_manifest", m);
    let signed = SignedRelease::verify(r.manifest.as_bytes(), &app.release_keys).map_err(|e| {
        refused(match e {
            tessera::Error::UnknownKeyId(_) => "the manifest is signed by a key this server does \
                 not know: sign it with the server's key or add its public key to release_keys"
                .to_owned(),
            other => format!("the manifest does not verify: {other}"),
        })
    })?;
    let m = signed.manifest();
    let differs = |field: &str| {
        Err(refused(format!(
            "the manifest's {field} is not this release's"
        )))
    };
    if m.product != product {
        return differs("product");
    }
    if m.version != r.version {
        return differs("version");
    }
    if m.channel != channel {
        return differs("channel");
    }
    if m.size != r.size {
        return differs("size");
    }
    if !r.sha256.is_empty() && m.sha256 != r.sha256 {
        return differs("sha256");
    }
    Ok(m.sha256.clone())
}

/// `GET /products/{code}/releases?channel=`.
#[derive(Deserialize, JsonSchema)]
pub(crate) struct ReleasesQuery {
    /// One channel's releases (every channel's when left out).
    channel: Option<String>,
}

pub(crate) async fn releases_call(
    State(app): AppState,
    Path(product): Path<String>,
    Query(q): Query<ReleasesQuery>,
) -> Reply {
    let channel = q.channel;
    let list = app
        .with_db(move |_, conn| {
            if products_db::product_key(conn, &product)?.is_none() {
                return Err(ApiError::not_found("product_not_found", "no such product"));
            }
            let mut rows = db::releases_of(conn, &product, channel.as_deref())?;
            rows.sort_by(|a, b| {
                let v =
                    |r: &db::ReleaseRow| versions::parse_version(&r.version).unwrap_or_default();
                a.channel
                    .cmp(&b.channel)
                    .then(versions::compare(&v(a), &v(b)))
            });
            Ok(rows.iter().map(versions::to_release).collect::<Vec<_>>())
        })
        .await?;
    Answer::of(list)
}
