//! The files of the `downloads` folder at `GET /downloads/{name}`: the
//! releases the server hosts itself. A request may ask for the rest of a
//! file from a byte on (`Range: bytes=N-`, or `N-M`), so a download that
//! broke resumes where it stopped. The answer is not signed: the vendor's
//! signed release (docs/FORMAT.md section 13) is what the SDK checks the
//! file against, whoever serves it.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use tokio::io::{AsyncReadExt as _, AsyncSeekExt as _};

use crate::error::ApiError;
use crate::state::AppState;

/// A name the folder may serve: one plain file name, not hidden.
fn servable(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && !name.starts_with('.')
        && !name.contains(['/', '\\', ':'])
        && !name.chars().any(char::is_control)
}

/// The first and last byte a `Range` header asks for, of a file of `len`
/// bytes: `Ok(None)` for the whole file, `Err(())` for a range it cannot
/// satisfy. One range only; a multi-range request is served whole.
fn range(headers: &HeaderMap, len: u64) -> Result<Option<(u64, u64)>, ()> {
    let Some(value) = headers.get(header::RANGE).and_then(|v| v.to_str().ok()) else {
        return Ok(None);
    };
    let Some(spec) = value.trim().strip_prefix("bytes=") else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None);
    }
    let Some((first, last)) = spec.split_once('-') else {
        return Err(());
    };
    let (first, last) = (first.trim(), last.trim());
    let (start, end) = if first.is_empty() {
        // The last N bytes.
        let n: u64 = last.parse().map_err(|_| ())?;
        if n == 0 || len == 0 {
            return Err(());
        }
        (len.saturating_sub(n), len - 1)
    } else {
        let start: u64 = first.parse().map_err(|_| ())?;
        let end = if last.is_empty() {
            len.checked_sub(1).ok_or(())?
        } else {
            last.parse::<u64>()
                .map_err(|_| ())?
                .min(len.saturating_sub(1))
        };
        (start, end)
    };
    if start >= len || end < start {
        return Err(());
    }
    Ok(Some((start, end)))
}

pub(crate) async fn download_call(
    State(app): AppState,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Response {
    let missing = || ApiError::not_found("file_not_found", "no such file").into_response();
    let Some(dir) = app.downloads.as_ref() else {
        return missing();
    };
    if !servable(&name) {
        return missing();
    }
    let Ok(mut file) = tokio::fs::File::open(dir.join(&name)).await else {
        return missing();
    };
    let len = match file.metadata().await {
        Ok(m) if m.is_file() => m.len(),
        _ => return missing(),
    };
    let (status, start, end) = match range(&headers, len) {
        Ok(None) => (StatusCode::OK, 0, len),
        Ok(Some((start, last))) => (StatusCode::PARTIAL_CONTENT, start, last + 1),
        Err(()) => {
            let mut r = StatusCode::RANGE_NOT_SATISFIABLE.into_response();
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{len}")) {
                r.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            return r;
        }
    };
    if start > 0 && file.seek(std::io::SeekFrom::Start(start)).await.is_err() {
        return missing();
    }
    let body = Body::from_stream(tokio_util::io::ReaderStream::new(file.take(end - start)));
    let mut response = (status, body).into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(end - start));
    if status == StatusCode::PARTIAL_CONTENT {
        if let Ok(v) = HeaderValue::from_str(&format!("bytes {start}-{}/{len}", end - 1)) {
            h.insert(header::CONTENT_RANGE, v);
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asked(value: &str, len: u64) -> Result<Option<(u64, u64)>, ()> {
        let mut h = HeaderMap::new();
        h.insert(header::RANGE, HeaderValue::from_str(value).unwrap());
        range(&h, len)
    }

    #[test]
    fn ranges_are_read_as_rfc_9110_says_or_refused() {
        assert_eq!(range(&HeaderMap::new(), 10), Ok(None));
        assert_eq!(asked("bytes=4-", 10), Ok(Some((4, 9))));
        assert_eq!(asked("bytes=4-6", 10), Ok(Some((4, 6))));
        assert_eq!(asked("bytes=4-99", 10), Ok(Some((4, 9))));
        assert_eq!(asked("bytes=-3", 10), Ok(Some((7, 9))));
        assert_eq!(asked("bytes=-30", 10), Ok(Some((0, 9))));
        assert_eq!(asked("bytes=0-1,4-5", 10), Ok(None));
        assert_eq!(asked("items=1-2", 10), Ok(None));
        for bad in [
            "bytes=10-",
            "bytes=6-4",
            "bytes=x-",
            "bytes=-0",
            "bytes=4",
            "bytes=18446744073709551616-",
        ] {
            assert_eq!(asked(bad, 10), Err(()), "{bad}");
        }
        assert_eq!(asked("bytes=0-", 0), Err(()));
    }

    #[test]
    fn only_plain_visible_names_are_served() {
        assert!(servable("acme-2.1.0.msi"));
        for bad in ["", ".env", "..", "a/b", "a\\b", "c:x", "a\nb"] {
            assert!(!servable(bad), "{bad:?}");
        }
    }
}
