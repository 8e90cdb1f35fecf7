//! Reading a request grid off the wire with explicit bounds: the Content-Type decides the
//! format, the body must be UTF-8, and the grid is bounded in rows, columns and cells (and its
//! filter in `->` path length) before anything is built from the counts it gives.
//!
//! Failing any of these is a 4xx error answered with an error grid; the server keeps serving.

use std::collections::HashSet;

use axum::http::StatusCode;
use haystack_core::filter::{Filter, Node};
use haystack_core::json::{self, Version};
use haystack_core::{Dict, Value};

/// Most rows of a request grid.
pub const MAX_REQUEST_ROWS: usize = 10_000;
/// Most columns of a request grid (for a list of dicts: distinct tag names).
pub const MAX_REQUEST_COLS: usize = 1_000;
/// Most cells of a request grid, nested grids included (rows x columns of each grid).
pub const MAX_REQUEST_CELLS: usize = 200_000;
/// Deepest nesting of lists, dicts and grids in a request.
pub const MAX_REQUEST_DEPTH: usize = 64;
/// Most names in one filter path (`a->b->c` has three).
pub const MAX_FILTER_PATH: usize = 32;

/// A request failure: the HTTP status and the message of the error grid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpError {
    /// 200 for request errors (the spec's error grid), 4xx when the request cannot be read.
    pub status: StatusCode,
    /// The error grid's `dis`.
    pub dis: String,
}

impl OpError {
    /// A request error, answered 200 with an error grid (the HttpApi chapter's rule).
    pub fn op(dis: impl Into<String>) -> Self {
        Self {
            status: StatusCode::OK,
            dis: dis.into(),
        }
    }

    /// An unreadable request: 400 with an error grid.
    pub fn bad_request(dis: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            dis: dis.into(),
        }
    }

    /// A failure of the server itself: 500.
    pub fn internal(dis: impl Into<String>) -> Self {
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            dis: dis.into(),
        }
    }
}

/// The format of a request body, from its Content-Type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestFormat {
    /// `text/zinc` (or `text/plain`).
    Zinc,
    /// `application/json` or `application/vnd.haystack+json;version=4`.
    Json4,
    /// `application/vnd.haystack+json;version=3` (or `application/json;version=3`).
    Json3,
}

/// The request format a Content-Type names: 400 when there is none, 415 when unsupported.
pub fn request_format(content_type: Option<&str>) -> Result<RequestFormat, OpError> {
    let Some(ctype) = content_type.map(str::trim).filter(|c| !c.is_empty()) else {
        return Err(OpError::bad_request(
            "a POST with a body needs a Content-Type (text/zinc or application/json)",
        ));
    };
    let mut parts = ctype.split(';');
    let mime = parts.next().unwrap_or("").trim().to_ascii_lowercase();
    let v3 = parts.any(|p| p.replace(' ', "").eq_ignore_ascii_case("version=3"));
    match mime.as_str() {
        "text/zinc" | "text/plain" => Ok(RequestFormat::Zinc),
        "application/json" | "application/vnd.haystack+json" if v3 => Ok(RequestFormat::Json3),
        "application/json" | "application/vnd.haystack+json" => Ok(RequestFormat::Json4),
        _ => Err(OpError {
            status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
            dis: format!(
                "unsupported request type {ctype:?}: use text/zinc, application/json or \
                 application/vnd.haystack+json;version=4 (or 3)"
            ),
        }),
    }
}

/// A request grid: its meta, its columns (with their meta) and its rows as dicts.
#[derive(Debug, Clone, Default)]
pub struct RequestGrid {
    /// The grid meta (`range` of a batch hisRead, `id` of a hisWrite, `watchId`, ...).
    pub meta: Dict,
    /// The columns with their meta (`v0 id:@a` of a batch hisWrite).
    pub cols: Vec<haystack_core::Col>,
    /// The rows.
    pub rows: Vec<Dict>,
}

/// Reads the rows of a request grid from `body` in `format`, within the bounds above.
pub fn read_rows(format: RequestFormat, body: &[u8]) -> Result<Vec<Dict>, OpError> {
    read_request(format, body).map(|g| g.rows)
}

/// Reads a whole request grid (meta, columns, rows) from `body` in `format`, within the
/// bounds above.
pub fn read_request(format: RequestFormat, body: &[u8]) -> Result<RequestGrid, OpError> {
    let text = std::str::from_utf8(body).map_err(|e| {
        OpError::bad_request(format!(
            "request is not UTF-8 (invalid byte at offset {})",
            e.valid_up_to()
        ))
    })?;
    match format {
        RequestFormat::Zinc => read_zinc(text),
        RequestFormat::Json4 => read_json(text, Version::V4),
        RequestFormat::Json3 => read_json(text, Version::V3),
    }
}

fn limits() -> haystack_zinc::Limits {
    haystack_zinc::Limits {
        max_depth: MAX_REQUEST_DEPTH,
        max_columns: MAX_REQUEST_COLS,
        max_rows: MAX_REQUEST_ROWS,
        max_line_bytes: crate::haystack::server::MAX_REQUEST_BYTES,
    }
}

fn read_zinc(text: &str) -> Result<RequestGrid, OpError> {
    let bad = |e: haystack_zinc::Error| OpError::bad_request(format!("bad request grid: {e}"));
    let mut reader =
        haystack_zinc::GridReader::with_limits(text.as_bytes(), limits()).map_err(bad)?;
    let cols: Vec<_> = reader
        .cols()
        .iter()
        .map(|c| c.shared_name().clone())
        .collect();
    let meta = reader.meta().clone();
    let col_list = reader.cols().to_vec();
    let mut rows = Vec::new();
    let mut cells = 0usize;
    let mut row = Vec::new();
    while reader.read_row(&mut row).map_err(bad)? {
        if rows.len() >= MAX_REQUEST_ROWS {
            return Err(OpError::bad_request(format!(
                "request grid has more than {MAX_REQUEST_ROWS} rows"
            )));
        }
        cells = cells.saturating_add(cols.len());
        if cells > MAX_REQUEST_CELLS {
            return Err(OpError::bad_request(format!(
                "request grid has more than {MAX_REQUEST_CELLS} cells"
            )));
        }
        let mut d = Dict::with_capacity(cols.len());
        for (name, v) in cols.iter().zip(row.drain(..)) {
            if !v.is_null() {
                d.insert_valid(name.clone(), v);
            }
        }
        rows.push(d);
    }
    Ok(RequestGrid {
        meta,
        cols: col_list,
        rows,
    })
}

/// Checks the shape of a JSON request before any Haystack value is built from it: depth, and
/// for every grid (an object with `cols` and `rows` arrays) and every list of objects, rows,
/// columns and cells. Walks the document with an explicit stack (no recursion).
fn check_json_shape(doc: &serde_json::Value) -> Result<(), OpError> {
    let mut cells = 0usize;
    let mut stack: Vec<(&serde_json::Value, usize)> = vec![(doc, 0)];
    let too_many = |what: &str, limit: usize| {
        OpError::bad_request(format!("request grid has more than {limit} {what}"))
    };
    while let Some((v, depth)) = stack.pop() {
        if depth > MAX_REQUEST_DEPTH {
            return Err(OpError::bad_request(format!(
                "request nests deeper than {MAX_REQUEST_DEPTH}"
            )));
        }
        match v {
            serde_json::Value::Object(map) => {
                if let (
                    Some(serde_json::Value::Array(cols)),
                    Some(serde_json::Value::Array(rows)),
                ) = (map.get("cols"), map.get("rows"))
                {
                    if cols.len() > MAX_REQUEST_COLS {
                        return Err(too_many("columns", MAX_REQUEST_COLS));
                    }
                    if rows.len() > MAX_REQUEST_ROWS {
                        return Err(too_many("rows", MAX_REQUEST_ROWS));
                    }
                    cells = cells.saturating_add(cols.len().saturating_mul(rows.len()));
                }
                stack.extend(map.values().map(|c| (c, depth + 1)));
            }
            serde_json::Value::Array(items) => {
                if items.iter().any(serde_json::Value::is_object) {
                    if items.len() > MAX_REQUEST_ROWS {
                        return Err(too_many("rows", MAX_REQUEST_ROWS));
                    }
                    let mut names: HashSet<&str> = HashSet::new();
                    for item in items {
                        if let serde_json::Value::Object(m) = item {
                            names.extend(m.keys().map(String::as_str));
                            if names.len() > MAX_REQUEST_COLS {
                                return Err(too_many("columns", MAX_REQUEST_COLS));
                            }
                        }
                    }
                    cells = cells.saturating_add(names.len().saturating_mul(items.len()));
                }
                stack.extend(items.iter().map(|c| (c, depth + 1)));
            }
            _ => {}
        }
        if cells > MAX_REQUEST_CELLS {
            return Err(too_many("cells", MAX_REQUEST_CELLS));
        }
    }
    Ok(())
}

fn read_json(text: &str, version: Version) -> Result<RequestGrid, OpError> {
    // serde_json stops at 128 levels of nesting, so this first parse cannot overflow the stack;
    // its tree is bounded by the body size.
    let doc: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| OpError::bad_request(format!("bad request JSON: {e}")))?;
    check_json_shape(&doc)?;
    let value = json::from_slice(text.as_bytes(), version)
        .map_err(|e| OpError::bad_request(format!("bad request grid: {e}")))?;
    let rows = match value {
        Value::Grid(g) => {
            return Ok(RequestGrid {
                meta: g.meta().clone(),
                cols: g.cols().to_vec(),
                rows: g.to_dicts(),
            });
        }
        Value::Dict(d) => Ok(vec![d]),
        Value::List(items) => items
            .into_iter()
            .map(|item| match item {
                Value::Dict(d) => Ok(d),
                other => Err(OpError::bad_request(format!(
                    "a request list must hold dicts, not a {}",
                    other.kind()
                ))),
            })
            .collect(),
        other => Err(OpError::bad_request(format!(
            "a request must be a grid, not a {}",
            other.kind()
        ))),
    }?;
    Ok(RequestGrid {
        rows,
        ..RequestGrid::default()
    })
}

/// Parses a filter and checks that no path in it is longer than [`MAX_FILTER_PATH`] names, so
/// that evaluating it is bounded. A filter that does not parse is a request error (200 with an
/// error grid); one over the bound is 400.
pub fn parse_filter(text: &str) -> Result<Filter, OpError> {
    // Paths longer than the parser's own bound are parse errors; count them first so that they
    // are 400 like any path over the bound.
    let names = longest_path_in(text);
    if names > MAX_FILTER_PATH {
        return Err(OpError::bad_request(format!(
            "filter path of {names} names is longer than {MAX_FILTER_PATH}"
        )));
    }
    let filter = Filter::parse(text).map_err(|e| OpError::op(format!("bad filter: {e}")))?;
    let mut stack = vec![filter.node()];
    while let Some(node) = stack.pop() {
        match node {
            Node::Has(p) | Node::Missing(p) | Node::Cmp(p, _, _) => {
                if p.names().len() > MAX_FILTER_PATH {
                    return Err(OpError::bad_request(format!(
                        "filter path of {} names is longer than {MAX_FILTER_PATH}",
                        p.names().len()
                    )));
                }
            }
            Node::And(parts) | Node::Or(parts) => stack.extend(parts.iter()),
            Node::Spec(_) => {}
        }
    }
    Ok(filter)
}

/// The request row of a GET (or of a POST without a body): one dict of the query parameters
/// other than `version` (any case), each value read as a Zinc scalar when it is one and as a Str
/// otherwise. A later parameter of the same name wins; names that are not tag names are skipped.
pub fn query_row(params: &[(String, String)]) -> Dict {
    params
        .iter()
        .filter(|(k, _)| !k.eq_ignore_ascii_case("version"))
        .fold(Dict::new(), |mut d, (k, v)| {
            let value =
                haystack_core::zinc::read_scalar(v).unwrap_or_else(|_| Value::from(v.as_str()));
            let _ = d.insert(k.as_str(), value);
            d
        })
}

/// The most names of one `a->b->c` chain in a filter's text (outside Str and Uri literals), in
/// one pass without allocating.
fn longest_path_in(text: &str) -> usize {
    let bytes = text.as_bytes();
    let (mut best, mut arrows, mut after_arrow, mut any_name) = (0usize, 0usize, false, false);
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b.is_ascii_whitespace() {
            i += 1;
        } else if b == b'-' && bytes.get(i + 1) == Some(&b'>') {
            arrows += 1;
            best = best.max(arrows);
            after_arrow = true;
            i += 2;
        } else if b.is_ascii_alphanumeric() || b == b'_' {
            // A name that does not follow `->` starts a new chain.
            if !after_arrow {
                arrows = 0;
            }
            any_name = true;
            after_arrow = false;
            while bytes
                .get(i)
                .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
            {
                i += 1;
            }
        } else {
            arrows = 0;
            after_arrow = false;
            i += 1;
            if b == b'"' || b == b'`' {
                // Skip the literal, escapes included.
                while let Some(&c) = bytes.get(i) {
                    i += 1;
                    if c == b'\\' {
                        i += 1;
                    } else if c == b {
                        break;
                    }
                }
            }
        }
    }
    if best > 0 {
        best + 1
    } else {
        usize::from(any_name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types() {
        assert_eq!(
            request_format(Some("text/zinc; charset=utf-8")),
            Ok(RequestFormat::Zinc)
        );
        assert_eq!(
            request_format(Some("application/vnd.haystack+json;version=4")),
            Ok(RequestFormat::Json4)
        );
        assert_eq!(
            request_format(Some("application/vnd.haystack+json; version=3")),
            Ok(RequestFormat::Json3)
        );
        assert_eq!(
            request_format(None).unwrap_err().status,
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            request_format(Some("image/png")).unwrap_err().status,
            StatusCode::UNSUPPORTED_MEDIA_TYPE
        );
    }

    #[test]
    fn bounds() {
        let cols: Vec<String> = (0..MAX_REQUEST_COLS + 1).map(|i| format!("c{i}")).collect();
        let zinc = format!("ver:\"3.0\"\n{}\n", cols.join(","));
        let err = read_rows(RequestFormat::Zinc, zinc.as_bytes()).unwrap_err();
        assert_eq!(err.status, StatusCode::BAD_REQUEST, "{err:?}");
        let dicts: Vec<String> = (0..MAX_REQUEST_COLS + 1)
            .map(|i| format!("{{\"t{i}\":1}}"))
            .collect();
        let json = format!("[{}]", dicts.join(","));
        let err = read_rows(RequestFormat::Json4, json.as_bytes()).unwrap_err();
        assert!(err.dis.contains("columns"), "{err:?}");
        let err = read_rows(RequestFormat::Zinc, b"ver:\"3.0\"\nid\n\"\xff\"\n").unwrap_err();
        assert!(err.dis.contains("UTF-8"), "{err:?}");
        assert_eq!(longest_path_in("a->b->c and d->e"), 3);
        assert_eq!(longest_path_in("dis == \"x->y->z->w\" and a->b"), 2);
        let huge = vec!["id"; 200_000].join("->");
        assert_eq!(
            parse_filter(&huge).unwrap_err().status,
            StatusCode::BAD_REQUEST
        );
        let long = vec!["id"; MAX_FILTER_PATH + 1].join("->");
        assert_eq!(
            parse_filter(&long).unwrap_err().status,
            StatusCode::BAD_REQUEST
        );
        assert!(parse_filter(&vec!["id"; MAX_FILTER_PATH].join("->")).is_ok());
        let rows = read_rows(
            RequestFormat::Zinc,
            b"ver:\"3.0\"\nid,range\n@a,\"today\"\n",
        )
        .unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].get("range").and_then(Value::as_str), Some("today"));
    }
}
