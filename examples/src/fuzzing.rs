//! Entry points for the fuzz targets in `fuzz/` (feature `fuzzing`; not a stable API): the
//! servers' request decoding, as the handlers call it, without a network or a database.

use axum::extract::Query;
use axum::http::{HeaderMap, HeaderValue, Uri, header};
use haystack_core::Dict;

use crate::haystack::request::{self, OpError};
use crate::haystack::server::{MAX_REQUEST_BYTES, parse_version};

/// How the cart server answers a `Range` request header (with an optional `If-Range`) for a
/// resource of `len` bytes whose entity tag is `etag`: `None` when it sends the whole resource,
/// `Some(Ok((first, last)))` for one part (both inclusive), `Some(Err(()))` for 416. Header
/// values that are not valid header bytes are left out, as the HTTP layer would reject them.
pub fn cart_range(
    range: &[u8],
    if_range: Option<&[u8]>,
    etag: &str,
    len: u64,
) -> Option<Result<(u64, u64), ()>> {
    let mut headers = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_bytes(range) {
        headers.insert(header::RANGE, v);
    }
    if let Some(Ok(v)) = if_range.map(HeaderValue::from_bytes) {
        headers.insert(header::IF_RANGE, v);
    }
    match crate::cart::range_ask(&headers, etag, len) {
        crate::cart::RangeAsk::Whole => None,
        crate::cart::RangeAsk::Part(r) => Some(Ok((*r.start(), *r.end()))),
        crate::cart::RangeAsk::Unsatisfiable => Some(Err(())),
    }
}

/// The request rows the Haystack server reads from a request with query string `query` and,
/// when `body` is not empty, a POST body of the given Content-Type, as its handler does: the
/// body (at most the server's byte limit) by its format within the request bounds, otherwise
/// the query parameters; then the `version` parameter. `Ok(None)` when `query` is not one a
/// URI can carry (the HTTP layer rejects such requests before any handler runs).
pub fn haystack_request(
    query: &str,
    content_type: Option<&str>,
    body: &[u8],
) -> Result<Option<Vec<Dict>>, OpError> {
    let Ok(uri) = format!("/read?{query}").parse::<Uri>() else {
        return Ok(None);
    };
    let Query(params) = Query::<Vec<(String, String)>>::try_from_uri(&uri)
        .map_err(|e| OpError::bad_request(format!("bad query string: {e}")))?;
    let rows = if body.is_empty() {
        vec![request::query_row(&params)]
    } else {
        if body.len() > MAX_REQUEST_BYTES {
            return Err(OpError::bad_request("request body too large"));
        }
        request::read_rows(request::request_format(content_type)?, body)?
    };
    if let Some((_, v)) = params
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("version"))
    {
        parse_version(v).map_err(OpError::bad_request)?;
    }
    if let Some(filter) = rows
        .first()
        .and_then(|r| r.get("filter"))
        .and_then(|v| v.as_str())
    {
        request::parse_filter(filter)?;
    }
    Ok(Some(rows))
}
