//! The console's releases: the list, and publishing a file of the
//! server's downloads folder (measured, signed with the server's key,
//! published through the admin API's own operation).

use askama::Template;
use axum::extract::{Query, State};
use serde_json::json;

use super::pages::Listing;
use super::signed_in::{notice, Staff};
use super::staff::Role;
use crate::state::AppState;
use crate::store::{all, args};
use crate::web::{page, see_other, Chrome, Fields, PageResult, Time, WebError};

/// A published release.
pub(crate) struct ReleaseLine {
    product: String,
    channel: String,
    version: String,
    date: Time,
    file: String,
    size: String,
    sha256: String,
    signed: bool,
}

#[derive(Template)]
#[template(path = "console/releases.html")]
struct ReleasesPage {
    chrome: Chrome,
    releases: Vec<ReleaseLine>,
    products: Vec<String>,
    files: Vec<String>,
    can_publish: bool,
}

pub(crate) async fn releases(
    State(app): AppState,
    staff: Staff,
    Query(q): Query<Listing>,
) -> PageResult {
    let (releases, products) = app
        .with_db(|_, conn| {
            let releases = all(
                conn,
                "SELECT product, channel, version, release_date, installation_file, size, sha256,
                        manifest <> ''
                 FROM releases ORDER BY release_date DESC, product LIMIT 200",
                args![],
                |r| {
                    Ok(ReleaseLine {
                        product: r.get(0)?,
                        channel: r.get(1)?,
                        version: r.get(2)?,
                        date: Time(r.get(3)?),
                        file: r.get(4)?,
                        size: crate::web::human_size(r.get(5)?),
                        sha256: r.get(6)?,
                        signed: r.get(7)?,
                    })
                },
            )?;
            let products = all(
                conn,
                "SELECT code FROM products ORDER BY code",
                args![],
                |r| r.get(0),
            )?;
            Ok((releases, products))
        })
        .await?;
    page(&ReleasesPage {
        chrome: staff.chrome("/console/releases", notice(q.done.as_deref())),
        releases,
        products,
        files: hosted_files(&app),
        can_publish: staff.row.role >= Role::Admin,
    })
}

/// The files of the server's `downloads` folder, by name.
fn hosted_files(app: &crate::state::App) -> Vec<String> {
    let Some(dir) = &app.downloads else {
        return Vec::new();
    };
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
                .filter_map(|e| e.file_name().into_string().ok())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names.truncate(500);
    names
}

/// Publishes a file of the `downloads` folder: the server measures its
/// size and SHA-256, signs the release with its key, and publishes it
/// through the admin API's own operation.
pub(crate) async fn publish(State(app): AppState, staff: Staff, form: Fields) -> PageResult {
    staff.require(Role::Admin)?;
    let product = form.required("product", "the product")?.to_owned();
    let version = form.required("version", "the version")?.to_owned();
    let channel = match form.get("channel") {
        "" => "stable".to_owned(),
        c => c.to_owned(),
    };
    let name = form.required("file", "the file")?.to_owned();
    if !hosted_files(&app).contains(&name) {
        return Err(WebError::Refused(
            400,
            "choose a file of the downloads folder".into(),
        ));
    }
    let path = app
        .downloads
        .as_ref()
        .map(|d| d.join(&name))
        .ok_or_else(|| WebError::Refused(400, "the server hosts no files".into()))?;
    let (size, digest) = tokio::task::spawn_blocking(move || measure(&path))
        .await
        .map_err(|_| crate::error::ApiError::internal("the request was cancelled"))?
        .map_err(|e| crate::error::ApiError::internal(e.to_string()))?;
    let manifest = tessera::format::release::ReleaseManifest::new(
        &product, &version, &channel, &name, size, &digest,
    );
    let signed = tessera::format::release::sign(&manifest, &app.key)
        .map_err(|e| WebError::Refused(400, e.to_string()))?;
    let request: crate::releases::NewRelease = serde_json::from_value(json!({
        "version": version,
        "channel": channel,
        "installation_file": format!("/downloads/{name}"),
        "size": size,
        // The SHA-256 is the signed release's (the admin API reads it there).
        "manifest": signed,
    }))
    .map_err(|e| WebError::Refused(400, e.to_string()))?;
    staff
        .audited(&app, format!("POST /console/releases/{product}"), async {
            Ok(crate::releases::publish(&app, product.clone(), request).await?)
        })
        .await?;
    Ok(see_other("/console/releases?done=published"))
}

/// A file's size and SHA-256 (as the CLI's `tessera release sign` measures
/// one).
fn measure(path: &std::path::Path) -> std::io::Result<(u64, [u8; 32])> {
    use sha2::Digest as _;
    use std::io::Read as _;
    let mut file = std::fs::File::open(path)?;
    let mut hasher = sha2::Sha256::new();
    let mut buffer = vec![0u8; 1 << 16];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut buffer)?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
        size = size.saturating_add(u64::try_from(n).unwrap_or(0));
    }
    Ok((size, hasher.finalize().into()))
}
