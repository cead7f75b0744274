//! The portal's pages: the user's licenses, a license's devices and
//! seats, freeing a device, the offline activation, the downloads.

use askama::Template;
use axum::extract::{Multipart, Path, Query, State};
use serde::Deserialize;

use super::session::Customer;
use crate::error::ApiError;
use crate::state::AppState;
use crate::web::{day, encode, page, see_other, Chrome, PageResult, Time};

/// One of the user's licenses, as the portal lists it.
struct LicenseCard {
    id: String,
    product: String,
    key_prefix: String,
    enabled: bool,
    ends: String,
    maintenance: String,
    devices: i64,
    max_devices: String,
    seats_in_use: i64,
    seats: String,
}

#[derive(Template)]
#[template(path = "portal/home.html")]
struct HomePage {
    chrome: Chrome,
    licenses: Vec<LicenseCard>,
}

/// What a license's maintenance covers, for its holder.
fn maintenance(l: &tessera::License) -> String {
    if l.enable_maintenance_period {
        format!("updates until {}", day(l.maintenance_period))
    } else {
        "every update".into()
    }
}

pub(crate) async fn home(State(app): AppState, customer: Customer) -> PageResult {
    let (user, now) = (customer.user.id.clone(), app.now().timestamp());
    let licenses = app
        .with_db(move |app, conn| {
            let rows = crate::users::db::licenses_of_user_all(conn, &user)?;
            let mut cards = Vec::new();
            for row in rows {
                let parsed = app.license_of(&row)?;
                let l = &parsed.1;
                let count = |sql: &str, args: &[crate::store::Arg<'_>]| -> Result<i64, ApiError> {
                    Ok(conn
                        .row(sql, args)?
                        .map(|r| r.get(0))
                        .transpose()?
                        .unwrap_or(0))
                };
                let devices = count(
                    "SELECT COUNT(*) FROM activations WHERE license_id = ?1",
                    crate::store::args![row.id],
                )?;
                let seats_in_use = count(
                    "SELECT COUNT(*) FROM leases WHERE license_id = ?1 AND expires_at > ?2",
                    crate::store::args![row.id, now],
                )?;
                cards.push(LicenseCard {
                    key_prefix: crate::web::key_prefix(&row.license_key),
                    product: row.product.clone(),
                    enabled: row.enabled,
                    ends: day(l.validity_period),
                    maintenance: maintenance(l),
                    devices,
                    max_devices: if l.allow_unlimited_activations {
                        "unlimited".into()
                    } else {
                        l.max_activations.to_string()
                    },
                    seats_in_use,
                    seats: if l.is_floating || l.is_floating_cloud {
                        l.floating_users.to_string()
                    } else {
                        String::new()
                    },
                    id: row.id,
                });
            }
            Ok(cards)
        })
        .await?;
    page(&HomePage {
        chrome: customer.chrome("/portal/", None),
        licenses,
    })
}

#[derive(Template)]
#[template(path = "portal/license.html")]
struct LicensePage {
    chrome: Chrome,
    id: String,
    product: String,
    key_prefix: String,
    enabled: bool,
    ends: String,
    maintenance: String,
    transfers: u32,
    max_transfers: u32,
    devices: Vec<crate::console::queries::DeviceLine>,
    seats: Vec<crate::console::queries::SeatLine>,
}

#[derive(Deserialize, Default)]
pub(crate) struct Done {
    #[serde(default)]
    done: Option<String>,
}

fn notice(done: Option<&str>) -> Option<&'static str> {
    Some(match done? {
        "freed" => "The device was freed: the license can be activated on another one.",
        "deactivated" => "The offline deactivation was taken: the device's slot is free.",
        _ => return None,
    })
}

pub(crate) async fn license(
    State(app): AppState,
    customer: Customer,
    Path(id): Path<String>,
    Query(q): Query<Done>,
) -> PageResult {
    let row = customer.own_license(&app, &id).await?;
    let now = app.now().timestamp();
    let license_id = row.id.clone();
    let (devices, seats) = app
        .with_db(move |_, conn| {
            let (devices, _) = crate::console::queries::devices(conn, &license_id, 0)?;
            let seats = crate::console::queries::seats(conn, &license_id, now)?;
            Ok((devices, seats))
        })
        .await?;
    let parsed = app.license_of(&row)?;
    let l = &parsed.1;
    page(&LicensePage {
        chrome: customer.chrome("/portal/", notice(q.done.as_deref())),
        key_prefix: crate::web::key_prefix(&row.license_key),
        product: row.product.clone(),
        enabled: row.enabled,
        ends: day(l.validity_period),
        maintenance: maintenance(l),
        transfers: row.transfer_count,
        max_transfers: l.max_transfers,
        devices,
        seats,
        id: row.id,
    })
}

/// The user frees one of the license's devices: a transfer, as the
/// device's own deactivation would be.
pub(crate) async fn free_device(
    State(app): AppState,
    customer: Customer,
    Path((id, device)): Path<(String, String)>,
) -> PageResult {
    let row = customer.own_license(&app, &id).await?;
    crate::audit::request::audited(
        &app,
        customer.actor(),
        format!("POST /portal/licenses/{id}/devices/{device}/free"),
        crate::activations::remove_device(&app, row.id.clone(), device.clone(), true),
        |r| r.as_ref().map_or_else(|e| e.status, |_| 200),
    )
    .await?;
    Ok(see_other(&format!(
        "/portal/licenses/{}?done=freed",
        encode(&id)
    )))
}

/// An offline activation (or deactivation) by request file.
pub(crate) async fn offline(
    State(app): AppState,
    customer: Customer,
    Path(id): Path<String>,
    multipart: Multipart,
) -> PageResult {
    let row = customer.own_license(&app, &id).await?;
    let text = crate::web::uploaded_file(multipart).await?;
    let user = customer.user.clone();
    let answer = crate::audit::request::audited(
        &app,
        customer.actor(),
        format!("POST /portal/licenses/{id}/offline"),
        crate::activations::offline::by_hand(&app, text, row.id.clone(), Some(user)),
        |r| r.as_ref().map_or_else(|e| e.status, |_| 200),
    )
    .await?;
    Ok(match answer {
        Some(file) => crate::web::download("activation.response", file),
        None => see_other(&format!(
            "/portal/licenses/{}?done=deactivated",
            encode(&id)
        )),
    })
}

/// A release the user's licenses may install.
struct Download {
    product: String,
    version: String,
    channel: String,
    date: Time,
    href: String,
    size: String,
    sha256: String,
}

#[derive(Template)]
#[template(path = "portal/releases.html")]
struct ReleasesPage {
    chrome: Chrome,
    downloads: Vec<Download>,
}

/// The releases of the user's products that their licenses' maintenance
/// covers (a release after the maintenance's end is not theirs).
pub(crate) async fn releases(State(app): AppState, customer: Customer) -> PageResult {
    let user = customer.user.id.clone();
    let downloads = app
        .with_db(move |app, conn| {
            let mut covered: std::collections::BTreeMap<String, Option<i64>> = Default::default();
            for row in crate::users::db::licenses_of_user_all(conn, &user)? {
                if !row.enabled {
                    continue;
                }
                let until = crate::releases::versions::covered_until(&app.license_of(&row)?.1);
                let entry = covered.entry(row.product.clone()).or_insert(until);
                *entry = match (*entry, until) {
                    (None, _) | (_, None) => None,
                    (Some(a), Some(b)) => Some(a.max(b)),
                };
            }
            let mut out = Vec::new();
            for (product, until) in covered {
                let rows = crate::store::all(
                    conn,
                    "SELECT version, channel, release_date, installation_file, size, sha256
                     FROM releases WHERE product = ?1 AND release_date <= ?2
                     ORDER BY release_date DESC, channel, version DESC LIMIT 50",
                    crate::store::args![product, until.unwrap_or(i64::MAX)],
                    |r| {
                        Ok(Download {
                            product: product.clone(),
                            version: r.get(0)?,
                            channel: r.get(1)?,
                            date: Time(r.get(2)?),
                            // A link the vendor's own server or an https:
                            // address (the admin API checks it already).
                            href: Some(r.get::<String>(3)?)
                                .filter(|h| {
                                    h.starts_with("https://") || h.starts_with("/downloads/")
                                })
                                .unwrap_or_default(),
                            size: crate::web::human_size(r.get(4)?),
                            sha256: r.get(5)?,
                        })
                    },
                )?;
                out.extend(rows);
            }
            Ok(out)
        })
        .await?;
    page(&ReleasesPage {
        chrome: customer.chrome("/portal/releases", None),
        downloads,
    })
}
