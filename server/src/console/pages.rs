//! The console's other pages: products and definitions, customers, users,
//! trials, single sign-on and the audit log.

use askama::Template;
use axum::extract::{Query, State};
use serde::Deserialize;
use serde_json::json;

use super::queries::{self, AuditLine};
use super::signed_in::{notice, Staff};
use super::staff::Role;
use crate::state::AppState;
use crate::store::{all, args};
use crate::web::Chrome;
use crate::web::{page, see_other, Fields, PageResult, Pager, Time, WebError, PAGE_SIZE};

/// Seconds in a day: the audit filter's last date counts whole.
const DAY: i64 = 86_400;

#[derive(Deserialize, Default)]
pub(crate) struct Listing {
    #[serde(default)]
    q: String,
    #[serde(default)]
    page: Option<u64>,
    #[serde(default)]
    pub(crate) done: Option<String>,
}

/// A product in the list.
pub(crate) struct ProductLine {
    code: String,
    name: String,
    licenses: i64,
}

#[derive(Template)]
#[template(path = "console/products.html")]
struct ProductsPage {
    chrome: Chrome,
    products: Vec<ProductLine>,
    definitions: Vec<(String, String, String, String)>,
    can_create: bool,
    codes: Vec<String>,
    /// A product just made: its code and its API key, shown this once.
    made: Option<(String, String)>,
}

pub(crate) async fn products(
    State(app): AppState,
    staff: Staff,
    Query(q): Query<Listing>,
) -> PageResult {
    let (products, definitions) = products_data(&app).await?;
    page(&ProductsPage {
        codes: products.iter().map(|p| p.code.clone()).collect(),
        chrome: staff.chrome("/console/products", notice(q.done.as_deref())),
        products,
        definitions,
        can_create: staff.row.role >= Role::Admin,
        made: None,
    })
}

type ProductsData = (Vec<ProductLine>, Vec<(String, String, String, String)>);

async fn products_data(app: &std::sync::Arc<crate::state::App>) -> Result<ProductsData, WebError> {
    Ok(app
        .with_db(|_, conn| {
            let products = all(
                conn,
                "SELECT p.code, p.name, (SELECT COUNT(*) FROM licenses l WHERE l.product = p.code)
                 FROM products p ORDER BY p.code",
                args![],
                |r| {
                    Ok(ProductLine {
                        code: r.get(0)?,
                        name: r.get(1)?,
                        licenses: r.get(2)?,
                    })
                },
            )?;
            let definitions = crate::products::db::definitions(conn, None)?
                .into_iter()
                .map(|d| {
                    let trial = d
                        .trial_days
                        .map_or_else(String::new, |t| format!("{t}-day trial"));
                    (d.product, d.code, d.name, trial)
                })
                .collect();
            Ok((products, definitions))
        })
        .await?)
}

/// A new product, through the admin API's `POST /products`; its key is
/// shown on the answer page once, as the admin API shows it once.
pub(crate) async fn new_product(State(app): AppState, staff: Staff, form: Fields) -> PageResult {
    staff.require(Role::Admin)?;
    let request: crate::products::NewProduct = serde_json::from_value(json!({
        "code": form.required("code", "the product code")?,
        "name": form.required("name", "the product name")?,
    }))
    .map_err(|e| WebError::Refused(400, e.to_string()))?;
    let made = staff
        .audited(&app, "POST /console/products".into(), async {
            Ok(crate::products::new_product(&app, request).await?)
        })
        .await?;
    let (products, definitions) = products_data(&app).await?;
    page(&ProductsPage {
        codes: products.iter().map(|p| p.code.clone()).collect(),
        chrome: staff.chrome("/console/products", Some("Created.")),
        products,
        definitions,
        can_create: true,
        made: Some((form.get("code").to_owned(), made.api_key().to_owned())),
    })
}

/// A license definition from the console's form (the common fields; the
/// admin API takes any spec), through the admin API's `POST /definitions`.
pub(crate) async fn new_definition(State(app): AppState, staff: Staff, form: Fields) -> PageResult {
    staff.require(Role::Admin)?;
    let product = form.required("product", "the product")?;
    let number = |name: &str, label: &str| -> Result<Option<u32>, WebError> {
        match form.get(name) {
            "" => Ok(None),
            v => v
                .parse()
                .map(Some)
                .map_err(|_| WebError::Refused(400, format!("{label} must be a whole number"))),
        }
    };
    let mut spec = json!({
        "license_type": form.required("license_type", "the license type")?,
        "product_details": {"short_code": product},
    });
    if let Some(n) = number("max_activations", "devices")? {
        spec["max_activations"] = json!(n);
    }
    if let Some(n) = number("max_transfers", "transfers")? {
        spec["max_transfers"] = json!(n);
    }
    if let Some(n) = number("floating_users", "floating seats")? {
        spec["is_floating"] = json!(true);
        spec["floating_users"] = json!(n);
        spec["floating_timeout"] = json!(30);
    }
    let mut body = json!({
        "product": product,
        "code": form.required("code", "the definition code")?,
        "name": form.required("name", "the definition name")?,
        "spec": spec,
    });
    if let Some(days) = number("trial_days", "trial days")? {
        body["trial_days"] = json!(days);
    }
    let request: crate::products::Definition =
        serde_json::from_value(body).map_err(|e| WebError::Refused(400, e.to_string()))?;
    staff
        .audited(&app, "POST /console/definitions".into(), async {
            Ok(crate::products::new_definition(&app, request).await?)
        })
        .await?;
    Ok(see_other("/console/products?done=created"))
}

#[derive(Template)]
#[template(path = "console/customers.html")]
struct CustomersPage {
    chrome: Chrome,
    q: String,
    customers: Vec<(String, i64, i64)>,
    pager: Pager,
}

pub(crate) async fn customers(
    State(app): AppState,
    staff: Staff,
    Query(q): Query<Listing>,
) -> PageResult {
    let wanted = q.page.unwrap_or(1);
    let pattern = format!("{}%", q.q.to_lowercase().replace(['%', '_'], ""));
    let (customers, total) = app
        .with_db(move |_, conn| {
            let total: i64 = conn
                .row(
                    "SELECT COUNT(DISTINCT account) FROM licenses
                     WHERE account IS NOT NULL AND LOWER(account) LIKE ?1",
                    args![pattern],
                )?
                .map(|r| r.get(0))
                .transpose()?
                .unwrap_or(0);
            let offset =
                Pager::new(wanted, u64::try_from(total).unwrap_or(0), String::new()).offset();
            let rows = all(
                conn,
                "SELECT account, COUNT(*), CAST(SUM(activations) AS BIGINT) FROM licenses
                 WHERE account IS NOT NULL AND LOWER(account) LIKE ?1
                 GROUP BY account ORDER BY account LIMIT ?3 OFFSET ?2",
                args![
                    pattern,
                    i64::try_from(offset).unwrap_or(0),
                    i64::try_from(PAGE_SIZE).unwrap_or(50)
                ],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )?;
            Ok((rows, u64::try_from(total).unwrap_or(0)))
        })
        .await?;
    page(&CustomersPage {
        chrome: staff.chrome("/console/customers", None),
        pager: Pager::new(wanted, total, crate::web::query_of(&[("q", &q.q)])),
        q: q.q,
        customers,
    })
}

/// A user in the list (never the password's hash).
pub(crate) struct UserLine {
    username: String,
    email: String,
    name: String,
    licenses: i64,
    created: Time,
}

#[derive(Template)]
#[template(path = "console/users.html")]
struct UsersPage {
    chrome: Chrome,
    q: String,
    users: Vec<UserLine>,
    pager: Pager,
}

pub(crate) async fn users(
    State(app): AppState,
    staff: Staff,
    Query(q): Query<Listing>,
) -> PageResult {
    let wanted = q.page.unwrap_or(1);
    let pattern = format!("{}%", q.q.to_lowercase().replace(['%', '_'], ""));
    let (users, total) = app
        .with_db(move |_, conn| {
            let filter = "username LIKE ?1 OR LOWER(email) LIKE ?1";
            let total: i64 = conn
                .row(&format!("SELECT COUNT(*) FROM users WHERE {filter}"), args![pattern])?
                .map(|r| r.get(0))
                .transpose()?
                .unwrap_or(0);
            let offset = Pager::new(wanted, u64::try_from(total).unwrap_or(0), String::new()).offset();
            let rows = all(
                conn,
                &format!(
                    "SELECT username, email, first_name || ' ' || last_name,
                        (SELECT COUNT(*) FROM user_licenses ul WHERE ul.user_id = users.id), created_at
                     FROM users WHERE {filter} ORDER BY username LIMIT ?3 OFFSET ?2"
                ),
                args![
                    pattern,
                    i64::try_from(offset).unwrap_or(0),
                    i64::try_from(PAGE_SIZE).unwrap_or(50)
                ],
                |r| {
                    Ok(UserLine {
                        username: r.get(0)?,
                        email: r.get(1)?,
                        name: r.get(2)?,
                        licenses: r.get(3)?,
                        created: Time(r.get(4)?),
                    })
                },
            )?;
            Ok((rows, u64::try_from(total).unwrap_or(0)))
        })
        .await?;
    page(&UsersPage {
        chrome: staff.chrome("/console/users", None),
        pager: Pager::new(wanted, total, crate::web::query_of(&[("q", &q.q)])),
        q: q.q,
        users,
    })
}

/// A trial a device took.
pub(crate) struct TrialLine {
    product: String,
    device: String,
    license: String,
    started: Option<Time>,
    converted: bool,
}

#[derive(Template)]
#[template(path = "console/trials.html")]
struct TrialsPage {
    chrome: Chrome,
    trials: Vec<TrialLine>,
    pager: Pager,
    can_extend: bool,
}

pub(crate) async fn trials(
    State(app): AppState,
    staff: Staff,
    Query(q): Query<Listing>,
) -> PageResult {
    let wanted = q.page.unwrap_or(1);
    let (trials, total) = app
        .with_db(move |_, conn| {
            let total: i64 = conn
                .row("SELECT COUNT(*) FROM trials", args![])?
                .map(|r| r.get(0))
                .transpose()?
                .unwrap_or(0);
            let offset =
                Pager::new(wanted, u64::try_from(total).unwrap_or(0), String::new()).offset();
            let rows = all(
                conn,
                "SELECT t.product, t.device, t.license_id, a.activated_at,
                    EXISTS (SELECT 1 FROM activations a2 JOIN licenses l2 ON l2.id = a2.license_id
                            WHERE a2.device = t.device AND l2.product = t.product
                            AND a2.license_id <> t.license_id)
                 FROM trials t
                 LEFT JOIN activations a ON a.license_id = t.license_id AND a.device = t.device
                 ORDER BY a.activated_at DESC, t.device LIMIT ?2 OFFSET ?1",
                args![
                    i64::try_from(offset).unwrap_or(0),
                    i64::try_from(PAGE_SIZE).unwrap_or(50)
                ],
                |r| {
                    Ok(TrialLine {
                        product: r.get(0)?,
                        device: r.get(1)?,
                        license: r.get(2)?,
                        started: r.get::<Option<i64>>(3)?.map(Time),
                        converted: r.get::<bool>(4)?,
                    })
                },
            )?;
            Ok((rows, u64::try_from(total).unwrap_or(0)))
        })
        .await?;
    page(&TrialsPage {
        chrome: staff.chrome("/console/trials", None),
        pager: Pager::new(wanted, total, String::new()),
        trials,
        can_extend: staff.row.role >= Role::Support,
    })
}

#[derive(Template)]
#[template(path = "console/sso.html")]
struct SsoPage {
    chrome: Chrome,
    accounts: Vec<(String, String, String, String, String)>,
}

/// The accounts' identity providers (never a client secret).
pub(crate) async fn sso(State(app): AppState, staff: Staff) -> PageResult {
    let accounts = app
        .with_db(|_, conn| {
            Ok(all(
                conn,
                "SELECT account, issuer, client_id, redirect_uri, domains FROM account_sso
                 ORDER BY account LIMIT 500",
                args![],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )?)
        })
        .await?;
    page(&SsoPage {
        chrome: staff.chrome("/console/sso", None),
        accounts,
    })
}

#[derive(Deserialize, Default)]
pub(crate) struct AuditQuery {
    #[serde(default)]
    actor: String,
    #[serde(default)]
    license: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    page: Option<u64>,
}

#[derive(Template)]
#[template(path = "console/audit.html")]
struct AuditPage {
    chrome: Chrome,
    actor: String,
    license: String,
    action: String,
    from: String,
    to: String,
    lines: Vec<AuditLine>,
    pager: Pager,
}

pub(crate) async fn audit(
    State(app): AppState,
    staff: Staff,
    Query(q): Query<AuditQuery>,
) -> PageResult {
    let day = |d: &str, end: bool| -> Result<Option<i64>, WebError> {
        if d.is_empty() {
            return Ok(None);
        }
        let date = chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d")
            .map_err(|_| WebError::Refused(400, "a date is written 2027-01-31".into()))?;
        let start = date
            .and_hms_opt(0, 0, 0)
            .map(|t| t.and_utc().timestamp())
            .unwrap_or(0);
        Ok(Some(if end { start + DAY } else { start }))
    };
    let span = (
        day(&q.from, false)?.unwrap_or(i64::MIN),
        day(&q.to, true)?.unwrap_or(i64::MAX),
    );
    let wanted = q.page.unwrap_or(1);
    let (actor, license, action) = (q.actor.clone(), q.license.clone(), q.action.clone());
    let (lines, total) = app
        .with_db(move |_, conn| {
            let offset = Pager::new(wanted, u64::MAX, String::new()).offset();
            Ok(queries::audit(
                conn, &actor, &license, &action, span, offset,
            )?)
        })
        .await?;
    let query = crate::web::query_of(&[
        ("actor", &q.actor),
        ("license", &q.license),
        ("action", &q.action),
        ("from", &q.from),
        ("to", &q.to),
    ]);
    page(&AuditPage {
        chrome: staff.chrome("/console/audit", None),
        pager: Pager::new(wanted, total, query),
        actor: q.actor,
        license: q.license,
        action: q.action,
        from: q.from,
        to: q.to,
        lines,
    })
}
