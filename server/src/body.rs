//! What the admin API's handlers share: the result they return, the
//! checks of body fields (codes, plain text, batch sizes), and the error
//! and encoding helpers.

use serde_json::Value;

use crate::error::ApiError;
use crate::http::Answer;

/// The most items one batch call takes.
pub(crate) const MAX_BATCH: usize = 1000;

pub(crate) fn encode(v: &Value) -> Result<Vec<u8>, ApiError> {
    serde_json::to_vec(v).map_err(|e| ApiError::internal(e.to_string()))
}

pub(crate) fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::internal(e.to_string())
}

pub(crate) fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::bad_request("invalid_body", message)
}

/// A query's whole number `name` from 1 (`value`, or `default` when it is
/// left out): a page's number or size.
pub(crate) fn page_number(name: &str, value: Option<&str>, default: u64) -> Result<u64, ApiError> {
    match value {
        None => Ok(default),
        Some(v) => v
            .parse::<u64>()
            .ok()
            .filter(|n| *n >= 1)
            .ok_or_else(|| invalid(format!("{name} must be a whole number from 1"))),
    }
}

pub(crate) type Reply = Result<Answer, ApiError>;

/// Free text the admin API stores and answers: at most `max` bytes, no
/// control characters.
pub(crate) fn plain_text(text: &str, max: usize) -> bool {
    text.len() <= max && !text.chars().any(char::is_control)
}

/// A code a client names in a header, a path or a counter (`feature:x`):
/// 1 to 64 of ASCII letters, digits, `-`, `_` and `.`. Anything else was
/// accepted once and then unreachable (a comma or non-ASCII breaks the
/// Authorization header, a space a path).
pub(crate) fn check_code(code: &str, what: &str) -> Result<(), ApiError> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    if code.is_empty() || code.len() > 64 || !code.chars().all(allowed) {
        return Err(invalid(format!(
            "{what} must be 1 to 64 ASCII letters, digits, `-`, `_` or `.`"
        )));
    }
    Ok(())
}

/// Refuses a body that names another product than the key that signed
/// the request.
pub(crate) fn same_product(authorized: &str, named: &str) -> Result<(), ApiError> {
    if authorized == named {
        Ok(())
    } else {
        Err(ApiError::new(
            403,
            "wrong_product",
            "the body names another product than the key",
        ))
    }
}
