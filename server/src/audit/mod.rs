//! The admin audit log: the admin API's reading of it.

pub(crate) mod context;
pub(crate) mod db;

use axum::extract::{Query, State};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::body::Reply;
use crate::http::Answer;
use crate::state::AppState;

/// `GET /audit?limit=`: the newest changes made through the admin API.
#[derive(Deserialize)]
pub(crate) struct AuditQuery {
    limit: Option<u32>,
}

pub(crate) async fn audit_call(State(app): AppState, Query(q): Query<AuditQuery>) -> Reply {
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let list = app
        .with_db(move |_, conn| {
            Ok(Value::from(
                db::audit_log(conn, limit)?
                    .into_iter()
                    .map(|(at, actor, action, status)| {
                        json!({
                            "at": tessera::format::license::ts::format(
                                &chrono::DateTime::from_timestamp(at, 0).unwrap_or_default()
                            ),
                            "actor": actor,
                            "action": action,
                            "status": status,
                        })
                    })
                    .collect::<Vec<_>>(),
            ))
        })
        .await?;
    Ok(Answer(list))
}
