//! The CSRF check in front of every form of a face: a POST carries the
//! token of the session its cookie names (a hidden field `csrf`; for a
//! file upload, the query's `csrf`), or, on the pages that sign in, the
//! token of the signed-out form's own cookie (a double submit). Anything
//! else is refused before a handler runs.

use std::sync::Arc;

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::state::App;
use crate::web::session::{self, cookie, same};
use crate::web::{Face, WebError};

/// The largest form a face takes (an offline request file fits easily).
pub(crate) const MAX_FORM: usize = 256 * 1024;

/// The paths a signed-out visitor may post to.
fn signed_out_form(path: &str) -> bool {
    matches!(
        path,
        "/console/sign-in" | "/console/setup" | "/portal/sign-in" | "/portal/sso"
    )
}

/// The console's guard.
pub(crate) async fn console(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    guard(app, Face::Console, req, next).await
}

/// The portal's guard.
pub(crate) async fn portal(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    guard(app, Face::Portal, req, next).await
}

async fn guard(app: Arc<App>, face: Face, req: Request, next: Next) -> Response {
    if req.method() != axum::http::Method::POST {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    // The address the sign-in throttle counts failures against.
    let peer = crate::http::client_address(&app, &parts.headers, &parts.extensions);
    let now = app.now().timestamp();
    let headers = parts.headers.clone();
    let found = app
        .with_db(move |_, conn| Ok(session::find(conn, face, &headers, now)?))
        .await;
    // The tokens a form may carry: its session's; on the pages that sign
    // in, also the signed-out form's own (a person with a session, or a
    // half one waiting for its code, may sign in again).
    let signing_in = signed_out_form(parts.uri.path());
    let form_token = cookie(&parts.headers, face.form_cookie()).filter(|_| signing_in);
    let expected: Vec<String> = match found {
        Ok(session) => session
            .map(|s| s.csrf)
            .into_iter()
            .chain(form_token)
            .collect(),
        Err(e) => return WebError::from(e).into_response(),
    };
    if expected.is_empty() {
        return if signing_in {
            refuse()
        } else {
            WebError::SignIn(face).into_response()
        };
    }
    let matches = |given: &str| expected.iter().any(|e| same(given, e));
    let multipart = parts
        .headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    if multipart {
        let given = parts
            .uri
            .query()
            .and_then(|q| field(q.as_bytes(), "csrf"))
            .unwrap_or_default();
        if !matches(&given) {
            // Read what was sent (bounded) so the client hears the refusal.
            let _ = to_bytes(body, MAX_FORM).await;
            return refuse();
        }
        let run = next.run(Request::from_parts(parts, body));
        return crate::users::sign_in::PEER.scope(peer, run).await;
    }
    let Ok(bytes) = to_bytes(body, MAX_FORM).await else {
        return WebError::Refused(413, "the form is too large".into()).into_response();
    };
    let given = field(&bytes, "csrf").unwrap_or_default();
    if !matches(&given) {
        return refuse();
    }
    let run = next.run(Request::from_parts(parts, Body::from(bytes)));
    crate::users::sign_in::PEER.scope(peer, run).await
}

/// The value of `name` in a URL-encoded form.
fn field(form: &[u8], name: &str) -> Option<String> {
    url::form_urlencoded::parse(form)
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

fn refuse() -> Response {
    WebError::Refused(
        403,
        "the form had expired or did not come from this site: reload the page and try again".into(),
    )
    .into_response()
}
