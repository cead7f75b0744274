//! What the two web faces share (docs/CONSOLE.md): the vendor's console
//! (`/console/`, crate::console) and the customers' portal (`/portal/`,
//! crate::portal). Pages are HTML rendered on the server from templates
//! checked at compile time (askama, escaped by default), under a
//! Content-Security-Policy that runs no inline script and no script from
//! elsewhere; the one script, `/assets/time.js`, only shows times in the
//! viewer's time zone. Sessions live in the database (crate::web::session).

pub(crate) mod guard;
pub(crate) mod plot;
pub(crate) mod session;
pub(crate) mod totp;

use std::sync::Arc;

use askama::Template;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::error::ApiError;
use crate::state::App;

/// What every page is served under: no script but the server's own file,
/// no style but its own sheet, no frame around it, forms only to itself.
pub(crate) const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The two faces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Face {
    Console,
    Portal,
}

impl Face {
    /// The name sessions are stored under.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Face::Console => "console",
            Face::Portal => "portal",
        }
    }
    /// Where the face lives (its cookies' path).
    pub(crate) fn root(self) -> &'static str {
        match self {
            Face::Console => "/console/",
            Face::Portal => "/portal/",
        }
    }
    /// Its session cookie.
    pub(crate) fn cookie(self) -> &'static str {
        match self {
            Face::Console => "tessera_console",
            Face::Portal => "tessera_portal",
        }
    }
    /// The cookie a signed-out form carries its CSRF token in.
    pub(crate) fn form_cookie(self) -> &'static str {
        match self {
            Face::Console => "tessera_console_form",
            Face::Portal => "tessera_portal_form",
        }
    }
    pub(crate) fn sign_in(self) -> &'static str {
        match self {
            Face::Console => "/console/sign-in",
            Face::Portal => "/portal/sign-in",
        }
    }
}

/// Why a page is not shown: the visitor must sign in first, or the
/// request is refused (with the status and a message for people).
#[derive(Debug)]
pub(crate) enum WebError {
    SignIn(Face),
    Refused(u16, String),
}

impl From<ApiError> for WebError {
    fn from(e: ApiError) -> WebError {
        let message = if e.status == 429 {
            e.message
        } else if e.status >= 500 {
            "something went wrong on the server; its log has the details".into()
        } else {
            e.message
        };
        WebError::Refused(e.status, message)
    }
}

impl From<crate::store::DbError> for WebError {
    fn from(e: crate::store::DbError) -> WebError {
        WebError::from(ApiError::from(e))
    }
}

/// The page of a refusal.
#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    status: u16,
    title: &'static str,
    message: String,
    home: &'static str,
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        match self {
            WebError::SignIn(face) => see_other(face.sign_in()),
            WebError::Refused(status, message) => {
                let title = match status {
                    400 | 422 => "That did not work",
                    401 => "Sign in again",
                    403 => "Not allowed",
                    404 => "Not found",
                    409 => "That cannot be done now",
                    429 => "Too many attempts",
                    _ => "Something went wrong",
                };
                let page = ErrorPage {
                    status,
                    title,
                    message,
                    home: "/",
                };
                let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
                match page.render() {
                    Ok(body) => html(status, body),
                    Err(_) => html(status, "<!doctype html><title>Error</title>".into()),
                }
            }
        }
    }
}

/// A page's answer.
pub(crate) type PageResult = Result<Response, WebError>;

/// An HTML answer with the faces' headers: the CSP, no sniffing, no
/// framing, no referrer, no caching (pages show a session's data).
pub(crate) fn html(status: StatusCode, body: String) -> Response {
    let mut response = (status, body).into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    secure_headers(h);
    response
}

fn secure_headers(h: &mut axum::http::HeaderMap) {
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

/// Renders `page` as a 200 answer.
pub(crate) fn page(page: &impl Template) -> PageResult {
    let body = page
        .render()
        .map_err(|e| WebError::from(ApiError::internal(e.to_string())))?;
    Ok(html(StatusCode::OK, body))
}

/// 303: go to `to` (after a form's POST).
pub(crate) fn see_other(to: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    secure_headers(response.headers_mut());
    response
}

/// A file to download (an offline activation's answer): never rendered.
pub(crate) fn download(name: &str, body: String) -> Response {
    let mut response = body.into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    secure_headers(h);
    response
}

/// The faces' two files: the style sheet and the script that shows times
/// in the viewer's zone.
pub(crate) fn assets() -> Router<Arc<App>> {
    Router::new()
        .route("/assets/style.css", get(style))
        .route("/assets/time.js", get(script))
}

async fn style() -> Response {
    asset(
        "text/css; charset=utf-8",
        include_str!("../../assets/style.css"),
    )
}

async fn script() -> Response {
    asset(
        "text/javascript; charset=utf-8",
        include_str!("../../assets/time.js"),
    )
}

fn asset(kind: &'static str, body: &'static str) -> Response {
    let mut response = body.into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// A time as the pages show it: UTC in the text and on hover, turned into
/// the viewer's zone by `/assets/time.js` where scripts run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Time(pub i64);

impl Time {
    /// RFC 3339, for `<time datetime>`.
    pub(crate) fn iso(&self) -> String {
        chrono::DateTime::from_timestamp(self.0, 0)
            .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
            .unwrap_or_default()
    }
    /// For people: `2026-12-06 14:05 UTC`.
    pub(crate) fn utc(&self) -> String {
        chrono::DateTime::from_timestamp(self.0, 0)
            .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
            .unwrap_or_default()
    }
}

/// A page of a long table: which page, how many, and the query that
/// leads to the others (sort and filters kept).
#[derive(Debug, Clone)]
pub(crate) struct Pager {
    pub(crate) page: u64,
    pub(crate) pages: u64,
    pub(crate) total: u64,
    /// The query string without `page`, `&`-joined and URL-encoded.
    pub(crate) query: String,
}

/// Rows per page of every table.
pub(crate) const PAGE_SIZE: u64 = 50;

impl Pager {
    pub(crate) fn new(page: u64, total: u64, query: String) -> Pager {
        let pages = total.div_ceil(PAGE_SIZE).max(1);
        Pager {
            page: page.clamp(1, pages),
            pages,
            total,
            query,
        }
    }
    /// The first row's offset.
    pub(crate) fn offset(&self) -> u64 {
        (self.page - 1).saturating_mul(PAGE_SIZE)
    }
    pub(crate) fn prev(&self) -> Option<String> {
        (self.page > 1).then(|| self.link(self.page - 1))
    }
    pub(crate) fn next(&self) -> Option<String> {
        (self.page < self.pages).then(|| self.link(self.page + 1))
    }
    fn link(&self, page: u64) -> String {
        if self.query.is_empty() {
            format!("?page={page}")
        } else {
            format!("?{}&page={page}", self.query)
        }
    }
}

/// `value` URL-encoded for a query string.
pub(crate) fn encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// A query string of the pairs whose value is not empty.
pub(crate) fn query_of(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={}", encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// A license's date as its pages show it (`2027-01-31`), or `never`.
pub(crate) fn day(t: Option<tessera::Time>) -> String {
    t.map(|t| {
        let t: chrono::DateTime<chrono::Utc> = t.into();
        t.format("%Y-%m-%d").to_string()
    })
    .unwrap_or_else(|| "never".into())
}

/// A file's size for people: `64.0 KiB`, `2.0 MiB`.
pub(crate) fn human_size(bytes: i64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} bytes");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// The license key as a page may show it: its first 8 characters.
pub(crate) fn key_prefix(key: &str) -> String {
    let prefix: String = key.chars().take(8).collect();
    if key.chars().count() > 8 {
        format!("{prefix}…")
    } else {
        prefix
    }
}

/// A posted form's fields (URL-encoded), read whole (the guard has
/// bounded its size); a field sent twice keeps its first value.
pub(crate) struct Fields(std::collections::HashMap<String, String>);

impl<S: Send + Sync> axum::extract::FromRequest<S> for Fields {
    type Rejection = WebError;

    async fn from_request(req: axum::extract::Request, _: &S) -> Result<Self, WebError> {
        let bytes = axum::body::to_bytes(req.into_body(), guard::MAX_FORM)
            .await
            .map_err(|_| WebError::Refused(413, "the form is too large".into()))?;
        let mut fields = std::collections::HashMap::new();
        for (k, v) in url::form_urlencoded::parse(&bytes) {
            fields
                .entry(k.into_owned())
                .or_insert_with(|| v.into_owned());
        }
        Ok(Fields(fields))
    }
}

impl Fields {
    /// The field's value, trimmed ("" when absent).
    pub(crate) fn get(&self, name: &str) -> &str {
        self.0.get(name).map_or("", |v| v.trim())
    }
    /// The field's value exactly as sent (a password).
    pub(crate) fn raw(&self, name: &str) -> &str {
        self.0.get(name).map_or("", String::as_str)
    }
    /// The field's value, or a 400 that names it.
    pub(crate) fn required(&self, name: &str, label: &str) -> Result<&str, WebError> {
        match self.get(name) {
            "" => Err(WebError::Refused(400, format!("{label} is required"))),
            v if v.len() > 1000 => Err(WebError::Refused(400, format!("{label} is too long"))),
            v => Ok(v),
        }
    }
}

/// A page's answer with cookies set on it.
pub(crate) fn with_cookies(mut response: Response, cookies: &[String]) -> Response {
    for c in cookies {
        if let Ok(v) = HeaderValue::from_str(c) {
            response.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    response
}

/// The text of the one file a form uploads (`multipart/form-data`, field
/// `file`): an offline request file, at most [`guard::MAX_FORM`] bytes of
/// UTF-8.
pub(crate) async fn uploaded_file(mut form: axum::extract::Multipart) -> Result<String, WebError> {
    let refused = |m: &str| WebError::Refused(400, m.to_owned());
    while let Some(field) = form
        .next_field()
        .await
        .map_err(|_| refused("the upload could not be read"))?
    {
        if field.name() != Some("file") {
            continue;
        }
        let bytes = field
            .bytes()
            .await
            .map_err(|_| refused("the upload could not be read"))?;
        if bytes.len() > guard::MAX_FORM {
            return Err(WebError::Refused(413, "the file is too large".into()));
        }
        let text = String::from_utf8(bytes.to_vec())
            .map_err(|_| refused("that is not a request file (it is not text)"))?;
        if text.trim().is_empty() {
            return Err(refused("choose the request file first"));
        }
        return Ok(text);
    }
    Err(refused("choose the request file first"))
}

/// A page's frame (templates/base.html).
pub(crate) struct Chrome {
    pub(crate) brand: &'static str,
    pub(crate) home: &'static str,
    pub(crate) sign_out: &'static str,
    pub(crate) who: String,
    pub(crate) csrf: String,
    pub(crate) nav: Vec<NavItem>,
    /// What the last action did, for the person who did it.
    pub(crate) notice: Option<String>,
}

/// A menu entry.
pub(crate) struct NavItem {
    pub(crate) href: &'static str,
    pub(crate) label: &'static str,
    pub(crate) active: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(human_size(0), "0 bytes");
        assert_eq!(human_size(1023), "1023 bytes");
        assert_eq!(human_size(65_543), "64.0 KiB");
        assert_eq!(human_size(2_097_152), "2.0 MiB");
        assert_eq!(human_size(i64::MAX), "8388608.0 TiB");
    }

    #[test]
    fn a_pager_keeps_its_query_and_stays_in_range() {
        let p = Pager::new(9, 120, "q=ab&sort=id".into());
        assert_eq!((p.page, p.pages), (3, 3));
        assert_eq!(p.offset(), 100);
        assert_eq!(p.prev().as_deref(), Some("?q=ab&sort=id&page=2"));
        assert_eq!(p.next(), None);
        assert_eq!(Pager::new(0, 0, String::new()).offset(), 0);
    }

    #[test]
    fn a_license_key_shows_its_prefix_only() {
        assert_eq!(key_prefix("ABCDE-FGHIJ-KLMNO"), "ABCDE-FG…");
        assert_eq!(key_prefix("SHORT"), "SHORT");
    }
}
