//! The admin audit log: the admin API's reading of it.

pub(crate) mod context;
pub(crate) mod db;
pub(crate) mod request;

use axum::extract::{Query, State};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::body::Reply;
use crate::http::Answer;
use crate::state::AppState;

/// `GET /audit?limit=`: the newest changes made through the admin API.
#[derive(Deserialize, JsonSchema)]
pub(crate) struct AuditQuery {
    /// How many entries (values outside 1..1000 are brought into it).
    #[schemars(extend("default" = 100))]
    limit: Option<u32>,
}

/// One change made through the admin API.
#[derive(Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub(crate) struct AuditEntry {
    #[schemars(extend("format" = "date-time"))]
    at: String,
    /// Who made it (the admin token's name).
    actor: String,
    /// The method and the path.
    action: String,
    /// The answer's status.
    status: u16,
}

pub(crate) async fn audit_call(State(app): AppState, Query(q): Query<AuditQuery>) -> Reply {
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let list = app
        .with_db(move |_, conn| {
            Ok(db::audit_log(conn, limit)?
                .into_iter()
                .map(|(at, actor, action, status)| AuditEntry {
                    at: tessera::format::license::ts::format(
                        &chrono::DateTime::from_timestamp(at, 0).unwrap_or_default(),
                    ),
                    actor,
                    action,
                    status,
                })
                .collect::<Vec<_>>())
        })
        .await?;
    Answer::of(list)
}
