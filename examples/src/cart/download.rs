//! The `GET /{uid}` response: a streamed tar, or a byte range of a pre-built one.

use super::shutdown::DownloadTicket;
use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use cart_core::Download;
use futures::{Stream, StreamExt};
use std::io;
use std::ops::RangeInclusive;
use tokio_util::sync::CancellationToken;

/// What the `Range` header asks of a resource of `len` bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RangeAsk {
    /// No usable range: send everything (no header, a syntax error, several ranges, or an
    /// `If-Range` that does not match).
    Whole,
    /// One satisfiable range.
    Part(RangeInclusive<u64>),
    /// No satisfiable range: 416.
    Unsatisfiable,
}

/// Reads `Range` (and `If-Range` against `etag`) for a resource of `len` bytes. Several ranges
/// are answered with the whole resource, which RFC 9110 allows.
pub(crate) fn range_ask(headers: &HeaderMap, etag: &str, len: u64) -> RangeAsk {
    let Some(range) = headers.get(header::RANGE).and_then(|v| v.to_str().ok()) else {
        return RangeAsk::Whole;
    };
    if let Some(if_range) = headers.get(header::IF_RANGE)
        && if_range.as_bytes() != etag.as_bytes()
    {
        return RangeAsk::Whole;
    }
    let parsed = match http_range_header::parse_range_header(range) {
        Ok(p) => p,
        Err(http_range_header::RangeUnsatisfiableError::Unsatisfiable) => {
            return RangeAsk::Unsatisfiable;
        }
        Err(_) => return RangeAsk::Whole,
    };
    match parsed.validate(len) {
        Ok(mut ranges) if ranges.len() == 1 => ranges.pop().map_or(RangeAsk::Whole, RangeAsk::Part),
        Ok(_) => RangeAsk::Whole,
        Err(http_range_header::RangeUnsatisfiableError::Unsatisfiable) => RangeAsk::Unsatisfiable,
        Err(_) => RangeAsk::Whole,
    }
}

/// Ends `inner` with an error as soon as `deleted` (the cart was deleted) or `cut` (server
/// shutdown) fires, and keeps `hold` alive as long as the stream is.
fn guarded<S, H>(
    inner: S,
    deleted: CancellationToken,
    ticket: DownloadTicket,
    hold: H,
) -> impl Stream<Item = io::Result<Bytes>> + Send + 'static
where
    S: Stream<Item = io::Result<Bytes>> + Send + Unpin + 'static,
    H: Send + 'static,
{
    let state = Some((inner, deleted, ticket, hold));
    futures::stream::unfold(state, |state| async move {
        let (mut inner, deleted, ticket, hold) = state?;
        let cut = ticket.cut_token().clone();
        let next = tokio::select! {
            biased;
            _ = deleted.cancelled() => Some(Err(io::Error::new(
                io::ErrorKind::Interrupted,
                "the cart was deleted during the download",
            ))),
            _ = cut.cancelled() => Some(Err(io::Error::new(
                io::ErrorKind::Interrupted,
                "the server shut down during the download",
            ))),
            item = inner.next() => item,
        };
        match next {
            None => None,
            Some(Err(e)) => {
                tracing::warn!("download ended early: {e}");
                Some((Err(e), None))
            }
            Some(Ok(chunk)) => Some((Ok(chunk), Some((inner, deleted, ticket, hold)))),
        }
    })
}

fn header_value(s: &str) -> HeaderValue {
    // Every caller passes validated ASCII (download names, numbers, uids); a value that is
    // not acceptable anyway becomes empty rather than a panic.
    HeaderValue::from_str(s).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The 200 (or 206, or 416) response for an opened download.
pub(crate) async fn respond(
    download: Download,
    headers: &HeaderMap,
    ticket: DownloadTicket,
) -> Response {
    let len = download.content_length();
    let disposition = download.name().content_disposition();
    let mut out = HeaderMap::new();
    out.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    out.insert(header::CONTENT_DISPOSITION, header_value(&disposition));
    let deleted = download.guard().token().clone();

    if !download.is_prebuilt() {
        out.insert(header::ACCEPT_RANGES, HeaderValue::from_static("none"));
        out.insert(header::CONTENT_LENGTH, header_value(&len.to_string()));
        let body = guarded(Box::pin(download.into_stream()), deleted, ticket, ());
        return (StatusCode::OK, out, Body::from_stream(body)).into_response();
    }

    let cart = download.cart();
    let etag = format!("\"{}-{}-{}\"", cart.uid, cart.created.unix_millis(), len);
    out.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    out.insert(header::ETAG, header_value(&etag));
    let range = match range_ask(headers, &etag, len) {
        RangeAsk::Whole => None,
        RangeAsk::Part(r) => Some(r),
        RangeAsk::Unsatisfiable => {
            out.remove(header::CONTENT_DISPOSITION);
            out.insert(
                header::CONTENT_RANGE,
                header_value(&format!("bytes */{len}")),
            );
            return (StatusCode::RANGE_NOT_SATISFIABLE, out).into_response();
        }
    };
    let (start, count) = match &range {
        Some(r) => (
            *r.start(),
            r.end().saturating_sub(*r.start()).saturating_add(1),
        ),
        None => (0, len),
    };
    // Async reads (of the volume under cart-core's process-wide read bound, or ranged reads of
    // the shared bundle store): no thread is held by a slow client.
    let Some(reader) = download.range_stream(start, count) else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    out.insert(header::CONTENT_LENGTH, header_value(&count.to_string()));
    let status = match range {
        Some(r) => {
            out.insert(
                header::CONTENT_RANGE,
                header_value(&format!("bytes {}-{}/{len}", r.start(), r.end())),
            );
            StatusCode::PARTIAL_CONTENT
        }
        None => StatusCode::OK,
    };
    // The download (and its in-use guard) lives as long as the body, so the cart is not
    // evicted while it is read.
    let body = guarded(reader, deleted, ticket, download);
    (status, out, Body::from_stream(body)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ask(range: Option<&str>, if_range: Option<&str>, len: u64) -> RangeAsk {
        let mut h = HeaderMap::new();
        if let Some(r) = range {
            h.insert(header::RANGE, HeaderValue::from_str(r).unwrap());
        }
        if let Some(r) = if_range {
            h.insert(header::IF_RANGE, HeaderValue::from_str(r).unwrap());
        }
        range_ask(&h, "\"e\"", len)
    }

    #[test]
    fn ranges() {
        assert_eq!(ask(None, None, 100), RangeAsk::Whole);
        assert_eq!(ask(Some("bytes=0-9"), None, 100), RangeAsk::Part(0..=9));
        assert_eq!(ask(Some("bytes=90-"), None, 100), RangeAsk::Part(90..=99));
        assert_eq!(ask(Some("bytes=-10"), None, 100), RangeAsk::Part(90..=99));
        assert_eq!(
            ask(Some("bytes=95-200"), None, 100),
            RangeAsk::Part(95..=99)
        );
        assert_eq!(ask(Some("bytes=100-"), None, 100), RangeAsk::Unsatisfiable);
        assert_eq!(ask(Some("bytes=0-1,5-6"), None, 100), RangeAsk::Whole);
        assert_eq!(ask(Some("lines=0-1"), None, 100), RangeAsk::Whole);
        assert_eq!(ask(Some("bytes=9-0"), None, 100), RangeAsk::Whole);
        assert_eq!(
            ask(Some("bytes=0-9"), Some("\"e\""), 100),
            RangeAsk::Part(0..=9)
        );
        assert_eq!(
            ask(Some("bytes=0-9"), Some("\"old\""), 100),
            RangeAsk::Whole
        );
    }
}
