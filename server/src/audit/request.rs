//! One audited request of whoever changes something: the admin token's
//! holder (crate::http) or a staff member on the console
//! (crate::console), or a customer's user on the portal.

use std::sync::Arc;

use crate::audit::context::{AuditedRequest, REQUEST};
use crate::state::App;

/// Runs `work` as one audited request of `actor` (the admin token's
/// holder, or a staff member on the console): its writes commit with
/// their audit row; a request that changed nothing gets its outcome's row
/// (`status` of what `work` answered) afterwards.
pub(crate) async fn audited<R>(
    app: &Arc<App>,
    actor: String,
    action: String,
    work: impl std::future::Future<Output = R>,
    status: impl FnOnce(&R) -> u16,
) -> R {
    let request = AuditedRequest::new(app.now().timestamp(), actor, action);
    let out = REQUEST.scope(Arc::clone(&request), work).await;
    if !request.changed_something() {
        let status = status(&out);
        if let Err(e) = app
            .with_db(move |_, conn| {
                Ok(crate::audit::db::audit(
                    conn,
                    request.at,
                    &request.actor,
                    &request.action,
                    status,
                )?)
            })
            .await
        {
            // Nothing changed, so nothing goes unaudited.
            eprintln!(
                "tessera-server: the audit log was not written: {}",
                e.message
            );
        }
    }
    out
}
