//! The [`Router`] of every endpoint, and the server's accept loop.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::http::{StatusCode, Uri};
use axum::response::Response;
use axum::routing::get;
use axum::{middleware, Router};

use crate::error::ApiError;
use crate::http::{authenticate_admin, authenticate_client, sign_every_response};
use crate::state::App;
use crate::{admin, api};

/// Every (method, path) the server serves, the methods in upper case.
pub(crate) fn served_routes() -> Vec<(String, String)> {
    let (_, api) = api::routes();
    let (_, admin) = admin::routes();
    let mut all = vec![
        ("GET".to_owned(), "/openapi.json".to_owned()),
        ("GET".to_owned(), "/downloads/{name}".to_owned()),
    ];
    let tables = [("/api/v1", api), ("/admin/v1", admin)].into_iter();
    #[cfg(feature = "compat")]
    let tables = tables.chain(crate::compat::seeds().map(|s| ("", s.served)));
    for (prefix, served) in tables {
        for (methods, path) in served {
            for method in *methods {
                all.push((method.to_uppercase(), format!("{prefix}{path}")));
            }
        }
    }
    all
}

/// Every endpoint: the client API under `/api/v1`, the admin API under
/// `/admin/v1`, the seeds' APIs at their own paths, the OpenAPI document; anything else is 404, an undeclared
/// method 405, and every answer goes through [`sign_every_response`].
pub(crate) fn router(app: Arc<App>) -> Router {
    let api = api::routes().0.route_layer(middleware::from_fn_with_state(
        Arc::clone(&app),
        authenticate_client,
    ));
    let admin = admin::routes()
        .0
        .route_layer(middleware::from_fn_with_state(
            Arc::clone(&app),
            authenticate_admin,
        ));
    let router = Router::new().nest("/api/v1", api).nest("/admin/v1", admin);
    // The seeds' own APIs (docs/COMPAT.md), at their documents' paths, each
    // with its own authentication in front (the `compat` feature, on by
    // default); in the OpenAPI document under their own tags.
    #[cfg(feature = "compat")]
    let router = router.merge(crate::compat::routes(&app));
    router
        .route("/openapi.json", get(openapi))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn(refuse_nul))
        .layer(middleware::from_fn_with_state(
            Arc::clone(&app),
            sign_every_response,
        ))
        // The hosted releases' files, streamed and unsigned (the vendor's
        // signed release vouches for them): outside the answer signature,
        // which reads a whole answer.
        .route(
            "/downloads/{name}",
            get(crate::releases::downloads::download_call),
        )
        // The web faces (docs/CONSOLE.md): HTML, outside the answer
        // signature too, with their own headers and CSRF guard.
        .merge(crate::web::assets())
        .merge(crate::console::routes(&app))
        .merge(crate::portal::routes(&app))
        .with_state(app)
}

async fn openapi() -> Response {
    crate::http::json_response(StatusCode::OK, crate::openapi::served().to_vec())
}

/// Refuses a request whose path or query spells a NUL character (`%00`)
/// before any route reads it, in the form of the API the path belongs to.
async fn refuse_nul(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let uri = req.uri();
    let spells_nul = |t: &str| t.as_bytes().windows(3).any(|w| w == b"%00");
    if spells_nul(uri.path()) || uri.query().is_some_and(spells_nul) {
        return refusal(uri.path(), crate::http::nul_refused());
    }
    next.run(req).await
}

/// A fallback's answer for `path`: in the shape of the seed that owns the
/// path (with the `compat` feature), else Tessera's.
fn refusal(path: &str, e: ApiError) -> Response {
    #[cfg(feature = "compat")]
    return crate::compat::refusal(path, e);
    #[cfg(not(feature = "compat"))]
    {
        let _ = path;
        axum::response::IntoResponse::into_response(e)
    }
}

async fn not_found(uri: Uri) -> Response {
    let e = ApiError::not_found("not_found", "no such endpoint");
    refusal(uri.path(), e)
}

async fn method_not_allowed(uri: Uri) -> Response {
    let e = ApiError::new(
        405,
        "method_not_allowed",
        "the endpoint does not take this method",
    );
    refusal(uri.path(), e)
}

/// Listens on `listen`, with TLS when an acceptor is given, until Ctrl-C.
pub(crate) async fn serve(
    app: Arc<App>,
    listen: SocketAddr,
    tls: Option<tokio_rustls::TlsAcceptor>,
) -> Result<(), String> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let admission = crate::admission::Admission::new(
        app.max_connections,
        app.max_connections_per_address,
        app.trusted_proxies.clone(),
    );
    eprintln!(
        "tessera-server listening on {scheme}://{local} (key {}, at most {} connections)",
        app.key.id(),
        admission.max_total()
    );
    let idle = app.idle_timeout;
    crate::events::delivery::start(Arc::clone(&app));
    let router = router(app);
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    match tls {
        Some(acceptor) => {
            let listener = crate::tls::TlsListener::new(listener, acceptor, idle, admission)
                .map_err(|e| e.to_string())?;
            axum::serve(
                listener,
                router.into_make_service_with_connect_info::<crate::connections::Peer>(),
            )
            .with_graceful_shutdown(shutdown)
            .await
        }
        None => {
            let listener = crate::connections::TimedListener {
                inner: listener,
                idle,
                admission,
            };
            axum::serve(
                listener,
                router.into_make_service_with_connect_info::<crate::connections::Peer>(),
            )
            .with_graceful_shutdown(shutdown)
            .await
        }
    }
    .map_err(|e| e.to_string())
}
