//! The error body every failure answers with: `{status, code, message}`.

use schemars::JsonSchema;
use serde::Serialize;

use crate::database;

/// A failed request.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[schemars(rename = "Error", deny_unknown_fields)]
pub(crate) struct ApiError {
    /// The HTTP status.
    pub status: u16,
    /// A stable short code (`license_not_found`, `no_seat_available`, ...).
    pub code: &'static str,
    /// What was wrong, for people. Never a key, license key or password.
    pub message: String,
    /// For a 429: seconds until a new attempt is taken (also the
    /// `Retry-After` header).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub(crate) fn new(status: u16, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }
    /// 429: too many attempts; try again in `seconds`.
    pub(crate) fn too_many(
        code: &'static str,
        message: impl Into<String>,
        seconds: u64,
    ) -> ApiError {
        ApiError {
            retry_after: Some(seconds),
            ..ApiError::new(429, code, message)
        }
    }
    pub(crate) fn bad_request(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(400, code, message)
    }
    pub(crate) fn unauthorized(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(401, code, message)
    }
    pub(crate) fn not_found(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(404, code, message)
    }
    pub(crate) fn conflict(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(409, code, message)
    }
    pub(crate) fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(500, "internal", message)
    }
}

impl From<tessera::Error> for ApiError {
    fn from(e: tessera::Error) -> ApiError {
        match e {
            tessera::Error::InvalidSpec(_) => ApiError::new(422, "invalid_spec", e.to_string()),
            tessera::Error::InvalidKey(_) => ApiError::bad_request("invalid_key", e.to_string()),
            tessera::Error::Io { .. } => {
                eprintln!("tessera-server: {e}");
                ApiError::internal("an internal error; the server's log has the details")
            }
            _ => ApiError::bad_request(e.name(), e.to_string()),
        }
    }
}

impl From<database::DbError> for ApiError {
    fn from(e: database::DbError) -> ApiError {
        use database::DbError;
        match e {
            DbError::NotFound(code, message) => ApiError::not_found(code, message),
            DbError::Exists(code, message) => ApiError::conflict(code, message),
            DbError::Invalid(message) => ApiError::bad_request("invalid_body", message),
            // The database's words stay in the server's log: they name
            // tables, columns and constraints a client has no business with.
            e @ (DbError::Sqlite(_)
            | DbError::Postgres(_)
            | DbError::Pool(_)
            | DbError::Column(..)) => {
                eprintln!("tessera-server: database: {e}");
                ApiError::internal("an internal error; the server's log has the details")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_failure_tells_the_client_nothing_about_the_database() {
        let e = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(19),
            Some("UNIQUE constraint failed: consumption.license_id, consumption.seq".into()),
        );
        let answer = ApiError::from(database::DbError::Sqlite(e));
        assert_eq!((answer.status, answer.code), (500, "internal"));
        for word in ["UNIQUE", "consumption", "constraint", "sqlite", "database"] {
            assert!(
                !answer.message.to_lowercase().contains(&word.to_lowercase()),
                "{}",
                answer.message
            );
        }
    }
}
