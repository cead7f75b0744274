//! The `Date` header of requests and responses: an HTTP date in its
//! preferred form (RFC 9110 IMF-fixdate, `Sun, 06 Nov 1994 08:49:37 GMT`).
//! Both ends write and read only this form.

use chrono::{DateTime, Utc};

/// An HTTP date (`Sun, 06 Nov 1994 08:49:37 GMT`).
pub fn format_http_date(t: DateTime<Utc>) -> String {
    t.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

/// Parses an HTTP date in its preferred form.
pub fn parse_http_date(s: &str) -> Option<DateTime<Utc>> {
    chrono::NaiveDateTime::parse_from_str(s, "%a, %d %b %Y %H:%M:%S GMT")
        .ok()
        .map(|t| t.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_dates_round_trip() {
        let t = crate::format::license::ts::parse("2026-11-23T01:02:03Z").unwrap();
        assert_eq!(format_http_date(t), "Mon, 23 Nov 2026 01:02:03 GMT");
        assert_eq!(parse_http_date(&format_http_date(t)), Some(t));
        assert_eq!(parse_http_date("yesterday"), None);
    }
}
