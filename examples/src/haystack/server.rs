//! The Haystack HTTP API over a [`Db`]: about, ops, formats, read, nav and hisRead, by GET and
//! POST, with `Accept` negotiation and a `version` parameter that serves the data as it was at
//! a past time.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use haystack_core::filter::Filter;
use haystack_core::timezone::Tz;
use haystack_core::{Dict, Grid, GridBuilder, Number, Ref, Value, zinc};
use time::OffsetDateTime;

use super::db::{Db, Snapshot};
use super::formats::{Format, negotiate};
use super::range;

/// Most rows one `read` returns when the request gives no `limit`.
pub const DEFAULT_READ_LIMIT: usize = 10_000;
/// Most bytes of a POSTed request grid.
pub const MAX_REQUEST_BYTES: usize = 1 << 20;

/// The server's shared state.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The database served.
    pub db: Arc<Db>,
    /// The current time (injectable so tests of `today` and `yesterday` are exact).
    pub now: fn() -> OffsetDateTime,
}

/// The router: every op under `/{op}` (mount it under `/api` or any base path).
pub fn router(db: Arc<Db>) -> Router {
    router_with_clock(db, OffsetDateTime::now_utc)
}

/// [`router`] with an explicit clock.
pub fn router_with_clock(db: Arc<Db>, now: fn() -> OffsetDateTime) -> Router {
    Router::new()
        .route("/{op}", axum::routing::get(handle).post(handle))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_REQUEST_BYTES))
        .with_state(AppState { db, now })
}

/// An op failure, answered as an error grid.
#[derive(Debug)]
struct OpError {
    status: StatusCode,
    dis: String,
}

impl OpError {
    fn bad(dis: impl Into<String>) -> Self {
        Self {
            status: StatusCode::OK,
            dis: dis.into(),
        }
    }
}

/// An error grid: meta `err`, `dis`, `errTrace`, one `empty` column.
pub fn error_grid(dis: &str) -> Grid {
    GridBuilder::new()
        .meta_tag("err", Value::Marker)
        .meta_tag("dis", dis)
        .meta_tag("errTrace", format!("haystack-server: {dis}"))
        .col("empty")
        .build()
        .unwrap_or_default()
}

const OPS: [(&str, &str); 6] = [
    ("about", "Summary information for the server"),
    ("ops", "Operations supported by the server"),
    ("formats", "Grid data formats supported by the server"),
    ("read", "Read entity records by filter or by id"),
    ("nav", "Navigate the site, equip and point tree"),
    ("hisRead", "Read time series data"),
];

async fn handle(
    State(state): State<AppState>,
    Path(op): Path<String>,
    method: Method,
    Query(params): Query<Vec<(String, String)>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
    let Some(format) = negotiate(accept) else {
        return (
            StatusCode::NOT_ACCEPTABLE,
            "no acceptable format: use text/zinc, application/json, text/trio or text/csv",
        )
            .into_response();
    };
    let result = async {
        let rows = if method == Method::POST && !body.is_empty() {
            request_rows(&headers, &body)?
        } else {
            vec![
                params
                    .iter()
                    .filter(|(k, _)| !k.eq_ignore_ascii_case("version"))
                    .fold(Dict::new(), |mut d, (k, v)| {
                        let value =
                            zinc::read_scalar(v).unwrap_or_else(|_| Value::from(v.as_str()));
                        let _ = d.insert(k.as_str(), value);
                        d
                    }),
            ]
        };
        let version = version_param(&params, &rows)?;
        match op.as_str() {
            "about" => Ok(about(&state, version).await?),
            "ops" => Ok(ops_grid()),
            "formats" | "filetypes" => Ok(formats_grid()),
            "read" => read(&state, version, &rows).await,
            "nav" => nav(&state, version, rows.first()).await,
            "hisRead" => his_read(&state, version, rows.first()).await,
            _ => Err(OpError {
                status: StatusCode::NOT_FOUND,
                dis: format!("unknown op {op:?}"),
            }),
        }
    }
    .await;
    let (status, grid) = match result {
        Ok(grid) => (StatusCode::OK, grid),
        Err(e) => (e.status, error_grid(&e.dis)),
    };
    match format.write_grid(&grid) {
        Ok(text) => (
            status,
            [(
                header::CONTENT_TYPE,
                format!("{}; charset=utf-8", format.mime()),
            )],
            text,
        )
            .into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

fn request_rows(headers: &HeaderMap, body: &[u8]) -> Result<Vec<Dict>, OpError> {
    let ctype = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("text/zinc");
    let format = if ctype.starts_with("application/json") {
        Format::Json
    } else if ctype.starts_with("text/zinc") || ctype.starts_with("text/plain") {
        Format::Zinc
    } else {
        return Err(OpError {
            status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
            dis: format!("unsupported request type {ctype:?}"),
        });
    };
    let text = std::str::from_utf8(body).map_err(|_| OpError::bad("request is not UTF-8"))?;
    let grid = format
        .read_grid(text)
        .map_err(|e| OpError::bad(format!("bad request grid: {e}")))?;
    Ok(grid.to_dicts())
}

/// The `version` parameter (any case): a date means 00:00:00 UTC that day; a datetime
/// (`yyyy-MM-ddTHH:mm:ss`, UTC unless an offset is given) is taken as given.
fn version_param(
    params: &[(String, String)],
    rows: &[Dict],
) -> Result<Option<OffsetDateTime>, OpError> {
    let raw = params
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("version"))
        .map(|(_, v)| v.clone())
        .or_else(|| {
            rows.first()
                .and_then(|d| d.get("version"))
                .map(|v| match v {
                    Value::Str(s) => s.to_string(),
                    other => other.to_string(),
                })
        });
    match raw {
        None => Ok(None),
        Some(text) => parse_version(&text).map(Some).map_err(OpError::bad),
    }
}

/// Parses a `version` value: `yyyy-MM-dd`, `yyyy-MM-ddTHH:mm:ss` (UTC), or a full Zinc
/// dateTime with offset.
pub fn parse_version(text: &str) -> Result<OffsetDateTime, String> {
    use time::macros::format_description;
    let text = text.trim();
    let date_fmt = format_description!("[year]-[month]-[day]");
    let dt_fmt = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
    if let Ok(d) = time::Date::parse(text, date_fmt) {
        return Ok(d.midnight().assume_utc());
    }
    if let Ok(dt) = time::PrimitiveDateTime::parse(text, dt_fmt) {
        return Ok(dt.assume_utc());
    }
    match zinc::read_scalar(text) {
        Ok(Value::DateTime(dt)) => Ok(dt.offset_date_time()),
        Ok(Value::Date(d)) => Ok(d.midnight().assume_utc()),
        _ => Err(format!(
            "bad version {text:?}: use yyyy-MM-dd or yyyy-MM-ddTHH:mm:ss"
        )),
    }
}

async fn snapshot(
    state: &AppState,
    version: Option<OffsetDateTime>,
) -> Result<Option<Arc<Snapshot>>, OpError> {
    state.db.snapshot(version).await.map_err(|e| OpError {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        dis: e.to_string(),
    })
}

async fn about(state: &AppState, version: Option<OffsetDateTime>) -> Result<Grid, OpError> {
    let snap = snapshot(state, version).await?;
    let now = (state.now)();
    let mut d = Dict::new();
    let _ = d.insert("haystackVersion", "4.0");
    let _ = d.insert("serverName", "haystack-server");
    let _ = d.insert("productName", "haystack-server example");
    let _ = d.insert("productVersion", env!("CARGO_PKG_VERSION"));
    let _ = d.insert("vendorName", "haystack workspace");
    let _ = d.insert("tz", "UTC");
    let _ = d.insert("serverTime", haystack_core::DateTime::utc(now));
    let _ = d.insert(
        "entityCount",
        Number::from(snap.as_ref().map_or(0, |s| s.grid.len()) as f64),
    );
    if let Some(s) = snap {
        let _ = d.insert("dataVersion", haystack_core::DateTime::utc(s.written));
    }
    Ok(Grid::from_dicts([&d]))
}

fn ops_grid() -> Grid {
    let dicts: Vec<Dict> = OPS
        .iter()
        .map(|(name, summary)| {
            let mut d = Dict::new();
            let _ = d.insert("name", *name);
            let _ = d.insert("summary", *summary);
            let _ = d.insert("noSideEffects", Value::Marker);
            d
        })
        .collect();
    Grid::from_dicts(dicts.iter())
}

fn formats_grid() -> Grid {
    let dicts: Vec<Dict> = Format::ALL
        .iter()
        .filter(|f| **f != Format::Json3)
        .map(|f| {
            let mut d = Dict::new();
            let _ = d.insert("mime", f.mime());
            if matches!(f, Format::Zinc | Format::Json) {
                let _ = d.insert("receive", Value::Marker);
            }
            let _ = d.insert("send", Value::Marker);
            d
        })
        .collect();
    Grid::from_dicts(dicts.iter())
}

fn empty_result() -> Grid {
    GridBuilder::new().col("empty").build().unwrap_or_default()
}

async fn read(
    state: &AppState,
    version: Option<OffsetDateTime>,
    rows: &[Dict],
) -> Result<Grid, OpError> {
    let Some(snap) = snapshot(state, version).await? else {
        return Ok(empty_result());
    };
    let first = rows.first().cloned().unwrap_or_default();
    if let Some(filter) = first.get("filter") {
        let text = filter
            .as_str()
            .ok_or_else(|| OpError::bad("filter must be a Str"))?;
        let filter = Filter::parse(text).map_err(|e| OpError::bad(format!("bad filter: {e}")))?;
        let limit = match first.get("limit") {
            Some(Value::Number(n)) if n.value() >= 1.0 => n.value() as usize,
            Some(Value::Number(_)) => return Err(OpError::bad("limit must be at least 1")),
            Some(Value::Null) | None => DEFAULT_READ_LIMIT,
            Some(other) => {
                return Err(OpError::bad(format!(
                    "limit must be a Number, not {}",
                    other.kind()
                )));
            }
        };
        let compiled = filter.compile_for(&snap.grid);
        let mut out = Grid::with_cols(Dict::new(), snap.grid.cols().to_vec())
            .map_err(|e| OpError::bad(e.to_string()))?;
        for i in compiled.select(&snap.grid, snap.as_ref()).take(limit) {
            if let Some(row) = snap.grid.row(i) {
                out.push_row(row.cells().to_vec())
                    .map_err(|e| OpError::bad(e.to_string()))?;
            }
        }
        return Ok(out);
    }
    // Read by id: one row per requested id, all null when unknown.
    let ids: Vec<&Ref> = rows
        .iter()
        .filter_map(|d| d.get("id"))
        .flat_map(|v| match v {
            Value::Ref(r) => vec![r],
            Value::List(items) => items.iter().filter_map(Value::as_ref).collect(),
            _ => vec![],
        })
        .collect();
    if ids.is_empty() {
        return Err(OpError::bad("read needs a `filter` or an `id`"));
    }
    let mut out = Grid::with_cols(Dict::new(), snap.grid.cols().to_vec())
        .map_err(|e| OpError::bad(e.to_string()))?;
    if !out.has_col("id") {
        out.add_col("id", Dict::new())
            .map_err(|e| OpError::bad(e.to_string()))?;
    }
    let width = out.cols().len();
    for id in ids {
        match snap.index.get(id.id()).and_then(|&i| snap.grid.row(i)) {
            Some(row) => out.push_row(row.cells().to_vec()),
            None => out.push_row(vec![Value::Null; width]),
        }
        .map_err(|e| OpError::bad(e.to_string()))?;
    }
    Ok(out)
}

async fn nav(
    state: &AppState,
    version: Option<OffsetDateTime>,
    row: Option<&Dict>,
) -> Result<Grid, OpError> {
    let Some(snap) = snapshot(state, version).await? else {
        return Ok(empty_result());
    };
    let nav_id = match row.and_then(|d| d.get("navId")) {
        None | Some(Value::Null) => None,
        Some(Value::Ref(r)) => Some(r.id().to_owned()),
        Some(Value::Str(s)) => Some(s.trim_start_matches('@').to_owned()),
        Some(other) => {
            return Err(OpError::bad(format!(
                "navId must be a Ref, not {}",
                other.kind()
            )));
        }
    };
    let (parent_tag, child_ref) = match &nav_id {
        None => (None, None),
        Some(id) => {
            let parent = snap
                .index
                .get(id)
                .and_then(|&i| snap.grid.row(i))
                .ok_or_else(|| OpError::bad(format!("unknown navId @{id}")))?;
            if parent.has("site") {
                (Some("siteRef"), Some(id.clone()))
            } else if parent.has("equip") {
                (Some("equipRef"), Some(id.clone()))
            } else {
                return Ok(empty_result());
            }
        }
    };
    let mut dicts = Vec::new();
    for row in snap.grid.rows() {
        let keep = match (parent_tag, &child_ref) {
            (None, _) => row.has("site"),
            (Some(tag), Some(id)) => {
                let is_child = matches!(row.get(tag), Some(Value::Ref(r)) if r.id() == id);
                // Under a site, list its equips; under an equip, its points.
                is_child && (tag == "equipRef" || row.has("equip"))
            }
            _ => false,
        };
        if keep {
            let mut d = row.to_dict();
            if (row.has("site") || row.has("equip"))
                && let Some(id) = row.id()
            {
                let _ = d.insert("navId", Value::Ref(id.clone()));
            }
            dicts.push(d);
        }
    }
    if dicts.is_empty() {
        return Ok(empty_result());
    }
    Ok(Grid::from_dicts(dicts.iter()))
}

async fn his_read(
    state: &AppState,
    version: Option<OffsetDateTime>,
    row: Option<&Dict>,
) -> Result<Grid, OpError> {
    let row = row.ok_or_else(|| OpError::bad("hisRead needs `id` and `range`"))?;
    let id = match row.get("id") {
        Some(Value::Ref(r)) => r.clone(),
        _ => return Err(OpError::bad("hisRead needs an `id` Ref")),
    };
    let range_text = match row.get("range") {
        Some(Value::Str(s)) => s.to_string(),
        Some(Value::Date(d)) => zinc::to_zinc_string(&Value::Date(*d)),
        Some(Value::DateTime(dt)) => zinc::to_zinc_string(&Value::DateTime(dt.clone())),
        _ => return Err(OpError::bad("hisRead needs a `range`")),
    };
    let snap = snapshot(state, version)
        .await?
        .ok_or_else(|| OpError::bad(format!("unknown id @{}", id.id())))?;
    let point = snap
        .index
        .get(id.id())
        .and_then(|&i| snap.grid.row(i))
        .ok_or_else(|| OpError::bad(format!("unknown id @{}", id.id())))?;
    let tz_name = point.get("tz").and_then(Value::as_str).unwrap_or("UTC");
    let tz =
        Tz::from_name(tz_name).map_err(|e| OpError::bad(format!("point @{}: {e}", id.id())))?;
    let span = range::resolve(&range_text, tz, (state.now)()).map_err(OpError::bad)?;
    let his_uri = match point.get("hisURI") {
        Some(Value::Uri(u)) | Some(Value::Str(u)) => u.to_string(),
        _ => return Err(OpError::bad(format!("point @{} has no hisURI", id.id()))),
    };
    let series = state
        .db
        .series(&snap, &his_uri)
        .await
        .map_err(|e| OpError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            dis: e.to_string(),
        })?;
    let to_dt = |t: OffsetDateTime| tz.datetime(t).map(Value::DateTime).unwrap_or(Value::Null);
    let mut out = GridBuilder::new()
        .meta_tag("id", Value::Ref(id.clone()))
        .meta_tag("hisStart", to_dt(span.start))
        .meta_tag("hisEnd", span.end.map(to_dt).unwrap_or(Value::Null))
        .col("ts")
        .col("val")
        .build()
        .map_err(|e| OpError::bad(e.to_string()))?;
    if let Some(series) = series {
        for r in series.rows() {
            let Some(Value::DateTime(ts)) = r.get("ts") else {
                continue;
            };
            let instant = ts.offset_date_time();
            if span.contains(instant) {
                let val = r.get("val").cloned().unwrap_or(Value::Null);
                out.push_row(vec![to_dt(instant), val])
                    .map_err(|e| OpError::bad(e.to_string()))?;
            }
        }
    }
    Ok(out)
}
