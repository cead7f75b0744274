//! The console's licenses: the search, the form that makes one, a
//! license's page, and what staff do to a license (each through the admin
//! API's own operation, audited under their name).

use std::sync::Arc;

use askama::Template;
use axum::extract::{Multipart, Path, Query, State};
use serde::Deserialize;
use serde_json::{json, Value};

use super::queries::{self, AuditLine, DeviceLine, LicenseLine, SeatLine};
use super::signed_in::{notice, Staff};
use super::staff::Role;
use crate::error::ApiError;
use crate::licenses;
use crate::state::{App, AppState};
use crate::web::Chrome;
use crate::web::{encode, page, see_other, Fields, PageResult, Pager, Time, WebError};

#[derive(Deserialize, Default)]
pub(crate) struct ListQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    product: String,
    #[serde(default)]
    sort: String,
    #[serde(default)]
    dir: String,
    #[serde(default)]
    page: Option<u64>,
    #[serde(default)]
    done: Option<String>,
}

/// A column header that sorts the table.
pub(crate) struct SortLink {
    pub(crate) label: &'static str,
    pub(crate) href: String,
    /// `ascending`, `descending` or `none` (aria-sort).
    pub(crate) state: &'static str,
}

#[derive(Template)]
#[template(path = "console/licenses.html")]
struct LicensesPage {
    chrome: Chrome,
    q: String,
    product: String,
    products: Vec<String>,
    lines: Vec<LicenseLine>,
    pager: Pager,
    sorts: Vec<SortLink>,
    can_create: bool,
    definitions: Vec<(String, String, String)>,
}

pub(crate) async fn list(
    State(app): AppState,
    staff: Staff,
    Query(q): Query<ListQuery>,
) -> PageResult {
    let descending = q.dir == "desc";
    let sort = if queries::LICENSE_SORTS.iter().any(|(n, _)| *n == q.sort) {
        q.sort.clone()
    } else {
        "id".into()
    };
    let query = crate::web::query_of(&[
        ("q", &q.q),
        ("product", &q.product),
        ("sort", &sort),
        ("dir", if descending { "desc" } else { "" }),
    ]);
    let (text, product, wanted) = (q.q.clone(), q.product.clone(), q.page.unwrap_or(1));
    let sort_by = sort.clone();
    let (lines, total, products, definitions) = app
        .with_db(move |_, conn| {
            let first = Pager::new(wanted, u64::MAX, String::new()).offset();
            let (lines, total) =
                queries::licenses(conn, &text, &product, &sort_by, descending, first)?;
            let products = crate::store::all(
                conn,
                "SELECT code FROM products ORDER BY code",
                crate::store::args![],
                |r| r.get(0),
            )?;
            let definitions = crate::products::db::definitions(conn, None)?
                .into_iter()
                .map(|d| (d.product, d.code, d.name))
                .collect();
            Ok((lines, total, products, definitions))
        })
        .await?;
    let pager = Pager::new(wanted, total, query);
    let sorts = queries::LICENSE_SORTS
        .iter()
        .map(|(name, _)| {
            let active = *name == sort;
            let next_desc = active && !descending;
            SortLink {
                label: match *name {
                    "id" => "License",
                    "product" => "Product",
                    "customer" => "Customer",
                    "devices" => "Devices",
                    _ => "Status",
                },
                href: format!(
                    "?{}",
                    crate::web::query_of(&[
                        ("q", &q.q),
                        ("product", &q.product),
                        ("sort", name),
                        ("dir", if next_desc { "desc" } else { "" }),
                    ])
                ),
                state: match (active, descending) {
                    (false, _) => "none",
                    (true, false) => "ascending",
                    (true, true) => "descending",
                },
            }
        })
        .collect();
    page(&LicensesPage {
        chrome: staff.chrome("/console/licenses", notice(q.done.as_deref())),
        q: q.q,
        product: q.product,
        products,
        lines,
        pager,
        sorts,
        can_create: staff.row.role >= Role::Admin,
        definitions,
    })
}

/// A new license from the console's form: a definition with overrides,
/// through the admin API's own `POST /licenses`.
pub(crate) async fn create(State(app): AppState, staff: Staff, form: Fields) -> PageResult {
    staff.require(Role::Admin)?;
    let (product, code) = form
        .required("definition", "the license definition")?
        .split_once('/')
        .ok_or_else(|| WebError::Refused(400, "choose a license definition".into()))?;
    let mut spec = serde_json::Map::new();
    if let Some(d) = date_field(&form, "ends")? {
        spec.insert("validity_period".into(), json!(d));
    }
    if !form.get("max_activations").is_empty() {
        let n: u32 = form
            .get("max_activations")
            .parse()
            .map_err(|_| WebError::Refused(400, "devices must be a whole number".into()))?;
        spec.insert("max_activations".into(), json!(n));
    }
    let mut body = json!({
        "definition": { "product": product, "code": code },
        "spec": Value::Object(spec),
    });
    if !form.get("account").is_empty() {
        body["account"] = json!(form.get("account"));
    }
    if !form.get("license_key").is_empty() {
        body["license_key"] = json!(form.get("license_key"));
    }
    let request: licenses::NewLicense =
        serde_json::from_value(body).map_err(|e| WebError::Refused(400, e.to_string()))?;
    let made = staff
        .audited(&app, "POST /console/licenses".into(), async {
            Ok(licenses::new_license(&app, request).await?)
        })
        .await?;
    Ok(see_other(&format!(
        "/console/licenses/{}?done=created",
        encode(made.id())
    )))
}

/// A date field (`YYYY-MM-DD`) as the end of that day in UTC (RFC 3339);
/// None when empty.
fn date_field(form: &Fields, name: &str) -> Result<Option<String>, WebError> {
    let v = form.get(name);
    if v.is_empty() {
        return Ok(None);
    }
    chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d")
        .map(|d| Some(format!("{}T23:59:59Z", d.format("%Y-%m-%d"))))
        .map_err(|_| WebError::Refused(400, "a date is written 2027-01-31".into()))
}

#[derive(Template)]
#[template(path = "console/license.html")]
struct LicensePage {
    chrome: Chrome,
    id: String,
    product: String,
    key_prefix: String,
    enabled: bool,
    account: String,
    kind: String,
    ends: String,
    maintenance: String,
    max_activations: String,
    transfers: u32,
    max_transfers: u32,
    floating: String,
    features: Vec<String>,
    trial: bool,
    devices: Vec<DeviceLine>,
    device_pager: Pager,
    seats: Vec<SeatLine>,
    consumption: Vec<(String, i64)>,
    users: Vec<(String, String)>,
    history: Vec<(Time, String, String)>,
    trail: Vec<AuditLine>,
    role: Role,
}

impl LicensePage {
    fn may(&self, role: &str) -> bool {
        Role::parse(role).is_some_and(|r| self.role >= r)
    }
}

#[derive(Deserialize, Default)]
pub(crate) struct ShowQuery {
    #[serde(default)]
    page: Option<u64>,
    #[serde(default)]
    done: Option<String>,
}

pub(crate) async fn show(
    State(app): AppState,
    staff: Staff,
    Path(id): Path<String>,
    Query(q): Query<ShowQuery>,
) -> PageResult {
    let now = app.now().timestamp();
    let wanted = q.page.unwrap_or(1);
    let page_data = app
        .with_db(move |app, conn| {
            let row = crate::licenses::db::license_by_id(conn, &id)?;
            let parsed = app.license_of(&row)?;
            let offset = Pager::new(wanted, u64::MAX, String::new()).offset();
            let (devices, device_total) = queries::devices(conn, &row.id, offset)?;
            let seats = queries::seats(conn, &row.id, now)?;
            let consumption = crate::consumption::db::consumption_totals(conn, &row.id)?;
            let users = crate::users::db::users_of_license(conn, &row.id)?
                .into_iter()
                .map(|u| (u.username, u.email))
                .collect();
            let history = queries::history(conn, &row.id)?;
            let (trail, _) = queries::audit(conn, "", &row.id, "", (i64::MIN, i64::MAX), 0)?;
            let trial = parsed.1.is_trial || queries::is_trial(conn, &row.id)?;
            Ok((
                row,
                parsed,
                devices,
                device_total,
                seats,
                consumption,
                users,
                history,
                trail,
                trial,
            ))
        })
        .await?;
    let (row, parsed, devices, device_total, seats, consumption, users, history, trail, trial) =
        page_data;
    let license = &parsed.1;
    page(&LicensePage {
        chrome: staff.chrome("/console/licenses", notice(q.done.as_deref())),
        key_prefix: crate::web::key_prefix(&row.license_key),
        product: row.product.clone(),
        enabled: row.enabled,
        account: row.account.clone().unwrap_or_default(),
        kind: format!("{:?}", license.license_type).to_lowercase(),
        ends: crate::web::day(license.validity_period),
        maintenance: if license.enable_maintenance_period {
            crate::web::day(license.maintenance_period)
        } else {
            "not sold".into()
        },
        max_activations: if license.allow_unlimited_activations {
            "unlimited".into()
        } else {
            license.max_activations.to_string()
        },
        transfers: row.transfer_count,
        max_transfers: license.max_transfers,
        floating: if license.is_floating || license.is_floating_cloud {
            format!(
                "{} seats, {} min timeout",
                license.floating_users, license.floating_timeout
            )
        } else {
            "no".into()
        },
        features: license
            .product_features
            .iter()
            .map(|f| f.code.clone())
            .collect(),
        trial,
        devices,
        device_pager: Pager::new(wanted, device_total, String::new()),
        seats,
        consumption,
        users,
        history,
        trail,
        role: staff.row.role,
        id: row.id,
    })
}

/// Runs one of the admin API's operations on license `id` as `staff`'s
/// audited request, then goes back to the license's page.
async fn act<T>(
    app: &Arc<App>,
    staff: &Staff,
    id: &str,
    verb: &str,
    done: &str,
    work: impl std::future::Future<Output = Result<T, ApiError>>,
) -> PageResult {
    staff
        .audited(app, format!("POST /console/licenses/{id}/{verb}"), async {
            Ok(work.await?)
        })
        .await?;
    Ok(see_other(&format!(
        "/console/licenses/{}?done={done}",
        encode(id)
    )))
}

pub(crate) async fn suspend(
    State(app): AppState,
    staff: Staff,
    Path(id): Path<String>,
) -> PageResult {
    staff.require(Role::Admin)?;
    let work = licenses::set_enabled(&app, id.clone(), false);
    act(&app, &staff, &id, "suspend", "suspended", work).await
}

pub(crate) async fn resume(
    State(app): AppState,
    staff: Staff,
    Path(id): Path<String>,
) -> PageResult {
    staff.require(Role::Admin)?;
    let work = licenses::set_enabled(&app, id.clone(), true);
    act(&app, &staff, &id, "resume", "resumed", work).await
}

/// A license's new end (`validity_period`), through `PATCH /licenses/{id}`.
pub(crate) async fn renew(
    State(app): AppState,
    staff: Staff,
    Path(id): Path<String>,
    form: Fields,
) -> PageResult {
    staff.require(Role::Admin)?;
    let ends = date_field(&form, "ends")?
        .ok_or_else(|| WebError::Refused(400, "the new end date is required".into()))?;
    let update: licenses::LicenseUpdate =
        serde_json::from_value(json!({ "spec": { "validity_period": ends } }))
            .map_err(|e| WebError::Refused(400, e.to_string()))?;
    let work = licenses::update_license(&app, &id, update);
    act(&app, &staff, &id, "renew", "renewed", work).await
}

/// An admin edits a license's customer and how many devices it allows,
/// through `PATCH /licenses/{id}`.
pub(crate) async fn edit(
    State(app): AppState,
    staff: Staff,
    Path(id): Path<String>,
    form: Fields,
) -> PageResult {
    staff.require(Role::Admin)?;
    let mut body = json!({});
    let account = form.get("account");
    if !account.is_empty() {
        body["account"] = json!(account);
    }
    match form.get("max_activations") {
        "" => {}
        n => {
            let n: u32 = n
                .parse()
                .map_err(|_| WebError::Refused(400, "devices must be a whole number".into()))?;
            body["spec"] = json!({ "max_activations": n });
        }
    }
    let update: licenses::LicenseUpdate =
        serde_json::from_value(body).map_err(|e| WebError::Refused(400, e.to_string()))?;
    let work = licenses::update_license(&app, &id, update);
    act(&app, &staff, &id, "edit", "edited", work).await
}

/// Support extends a trial by some days (1 to 90) from its end or from
/// now, whichever is later.
pub(crate) async fn extend_trial(
    State(app): AppState,
    staff: Staff,
    Path(id): Path<String>,
    form: Fields,
) -> PageResult {
    staff.require(Role::Support)?;
    let days: i64 = form
        .get("days")
        .parse()
        .ok()
        .filter(|d| (1..=90).contains(d))
        .ok_or_else(|| WebError::Refused(400, "extend by 1 to 90 days".into()))?;
    let looked_up = id.clone();
    let now = app.now();
    let ends = app
        .with_db(move |app, conn| {
            let row = crate::licenses::db::license_by_id(conn, &looked_up)?;
            if !app.license_of(&row)?.1.is_trial && !queries::is_trial(conn, &row.id)? {
                return Err(ApiError::conflict(
                    "not_a_trial",
                    "this license is not a trial: an admin renews it instead",
                ));
            }
            let current: Option<chrono::DateTime<chrono::Utc>> =
                app.license_of(&row)?.1.validity_period.map(Into::into);
            Ok(current.map_or(now, |c| c.max(now)) + chrono::Duration::days(days))
        })
        .await?;
    let update: licenses::LicenseUpdate = serde_json::from_value(json!({
        "spec": { "validity_period": tessera::format::license::ts::format(&ends) }
    }))
    .map_err(|e| WebError::Refused(400, e.to_string()))?;
    let work = licenses::update_license(&app, &id, update);
    act(&app, &staff, &id, "extend-trial", "extended", work).await
}

pub(crate) async fn reset_transfers(
    State(app): AppState,
    staff: Staff,
    Path(id): Path<String>,
) -> PageResult {
    staff.require(Role::Support)?;
    let work = licenses::reset_transfers(&app, id.clone());
    act(&app, &staff, &id, "reset-transfers", "transfers", work).await
}

/// Support frees a lost machine's slot (not counted as a transfer), as
/// `DELETE /licenses/{id}/devices/{device}` does.
pub(crate) async fn free_device(
    State(app): AppState,
    staff: Staff,
    Path((id, device)): Path<(String, String)>,
) -> PageResult {
    staff.require(Role::Support)?;
    let work = crate::activations::remove_device(&app, id.clone(), device, false);
    act(&app, &staff, &id, "free-device", "freed", work).await
}

/// An offline activation for an air-gapped customer: the device's request
/// file in, the signed answer file out (a deactivation's request frees the
/// slot instead).
pub(crate) async fn offline(
    State(app): AppState,
    staff: Staff,
    Path(id): Path<String>,
    multipart: Multipart,
) -> PageResult {
    staff.require(Role::Admin)?;
    let text = crate::web::uploaded_file(multipart).await?;
    let license = id.clone();
    let answer = staff
        .audited(
            &app,
            format!("POST /console/licenses/{id}/offline"),
            async { Ok(crate::activations::offline::by_hand(&app, text, license, None).await?) },
        )
        .await?;
    Ok(match answer {
        Some(file) => crate::web::download("activation.response", file),
        None => see_other(&format!(
            "/console/licenses/{}?done=deactivated",
            encode(&id)
        )),
    })
}
