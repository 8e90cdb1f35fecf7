//! The cache's HTTP API: `GET /series/{identifier}?start=&end=` returns one time-ordered series,
//! history up to the last historical timestamp and forecast after it, as JSON (default) or Zinc.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::pipeline::Cache;
use super::{CacheError, Point, validate_identifier};

/// One point of the merged series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeriesPoint {
    /// Epoch milliseconds.
    pub time: i64,
    /// The value.
    pub value: f64,
    /// `history` or `forecast`.
    pub source: String,
}

/// The merged series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Series {
    /// The identifier.
    pub identifier: String,
    /// The first millisecond included.
    pub start: i64,
    /// The last millisecond included.
    pub end: i64,
    /// The points, in time order, each time once.
    pub points: Vec<SeriesPoint>,
}

#[derive(Debug, Deserialize)]
struct Bounds {
    start: Option<i64>,
    end: Option<i64>,
}

/// The merged series of `id` with `start <= time <= end` (epoch seconds): history up to its
/// newest timestamp, forecast strictly after it.
pub async fn merged(
    cache: &Cache,
    id: &str,
    start: i64,
    end: i64,
) -> Result<Vec<(Point, &'static str)>, CacheError> {
    validate_identifier(id)?;
    let mut out: BTreeMap<i64, (Point, &'static str)> = BTreeMap::new();
    let latest = cache.history().latest(id).await?;
    for p in cache.history().range(id, start, end).await? {
        out.insert(p.time, (p, "history"));
    }
    let forecast_from = latest.map_or(start, |l| start.max(l.saturating_add(1)));
    if forecast_from <= end {
        for p in cache.forecast().range(id, forecast_from, end).await? {
            out.entry(p.time).or_insert((p, "forecast"));
        }
    }
    Ok(out.into_values().collect())
}

/// The longest window one request may ask for, by default (366 days, in milliseconds): the
/// history is read one day object at a time.
pub const MAX_SPAN_MS: i64 = 366 * 24 * 3600 * 1000;

#[derive(Debug, Clone)]
struct ApiState {
    cache: Arc<Cache>,
    max_span_ms: i64,
}

/// The router: `GET /status` (the schedule's progress) and
/// `GET /series/{identifier}?start=&end=` (epoch milliseconds, inclusive; default
/// now - 24 h to now + 24 h). `Accept: text/zinc` gives a his grid. Answers 400 for a reversed
/// window, one holding no whole second (points are on whole seconds), a span over
/// [`MAX_SPAN_MS`], bounds outside the years 1970..=9999, or an identifier that is not in the
/// identifier table.
pub fn router(cache: Arc<Cache>) -> axum::Router {
    router_with_max_span(cache, MAX_SPAN_MS)
}

/// [`router`] with another maximum span (milliseconds).
pub fn router_with_max_span(cache: Arc<Cache>, max_span_ms: i64) -> axum::Router {
    axum::Router::new()
        .route("/series/{id}", axum::routing::get(series))
        .route("/status", axum::routing::get(status))
        .with_state(ApiState { cache, max_span_ms })
}

/// Latest instant the API accepts: the end of year 9999, in milliseconds.
const LAST_MS: i64 = 253_402_300_799_999;

/// Checks a window and turns it into the whole seconds it covers, or says why it is refused.
fn seconds(start: i64, end: i64, max_span_ms: i64) -> Result<(i64, i64), String> {
    if !(0..=LAST_MS).contains(&start) || !(0..=LAST_MS).contains(&end) {
        return Err(format!(
            "bounds must be epoch milliseconds between 0 and {LAST_MS}"
        ));
    }
    if end < start {
        return Err("end is before start".into());
    }
    if end - start > max_span_ms {
        return Err(format!(
            "the window spans {} ms, more than the {max_span_ms} ms allowed",
            end - start
        ));
    }
    // Whole seconds covering [start, end] in milliseconds.
    let first = start.div_euclid(1000) + i64::from(start.rem_euclid(1000) != 0);
    let last = end.div_euclid(1000);
    if first > last {
        return Err("the window holds no whole second".into());
    }
    Ok((first, last))
}

/// `GET /status`: the schedule's progress ([`super::progress::Status`] as JSON).
async fn status(State(state): State<ApiState>) -> Response {
    axum::Json(state.cache.progress().status()).into_response()
}

async fn series(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    Query(b): Query<Bounds>,
    headers: HeaderMap,
) -> Response {
    let cache = &state.cache;
    if let Err(e) = validate_identifier(&id) {
        return (StatusCode::BAD_REQUEST, e.to_string()).into_response();
    }
    let now_ms = cache.now().unix_timestamp().saturating_mul(1000);
    let day_ms = 24 * 3600 * 1000;
    let start = b.start.unwrap_or(now_ms.saturating_sub(day_ms));
    let end = b.end.unwrap_or(now_ms.saturating_add(day_ms));
    let (s, e) = match seconds(start, end, state.max_span_ms) {
        Ok(window) => window,
        Err(why) => return (StatusCode::BAD_REQUEST, why).into_response(),
    };
    match cache.ids().contains(&id).await {
        Ok(true) => {}
        Ok(false) => {
            return (
                StatusCode::BAD_REQUEST,
                format!("unknown identifier {id:?}"),
            )
                .into_response();
        }
        Err(err) => return (StatusCode::SERVICE_UNAVAILABLE, err.to_string()).into_response(),
    }
    let points = match merged(cache, &id, s, e).await {
        Ok(p) => p,
        Err(err) => return (StatusCode::INTERNAL_SERVER_ERROR, err.to_string()).into_response(),
    };
    let zinc = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/zinc"));
    if zinc {
        let map: BTreeMap<i64, f64> = points.iter().map(|(p, _)| (p.time, p.value)).collect();
        let mut grid = super::history::to_his_grid(&id, &map);
        let _ = grid.add_col("source", haystack_core::Dict::new());
        let mut rows = Vec::with_capacity(points.len());
        for (row, (_, src)) in grid.rows().zip(&points) {
            let mut cells = row.to_cells();
            if let Some(last) = cells.last_mut() {
                *last = haystack_core::Value::from(*src);
            }
            rows.push(cells);
        }
        let meta = grid.meta().clone();
        let cols = grid.cols().to_vec();
        return match haystack_core::Grid::from_parts(meta, cols, rows) {
            Ok(g) => (
                [(header::CONTENT_TYPE, "text/zinc; charset=utf-8")],
                haystack_zinc::to_string(&g),
            )
                .into_response(),
            Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
        };
    }
    let body = Series {
        identifier: id,
        start,
        end,
        points: points
            .into_iter()
            .map(|(p, src)| SeriesPoint {
                time: p.time.saturating_mul(1000),
                value: p.value,
                source: src.to_owned(),
            })
            .collect(),
    };
    axum::Json(body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_checked_before_any_read() {
        let max = MAX_SPAN_MS;
        assert_eq!(
            seconds(1_700_000_000_000, 1_700_000_000_000, max),
            Ok((1_700_000_000, 1_700_000_000))
        );
        assert_eq!(
            seconds(1_700_000_000_001, 1_700_000_001_000, max),
            Ok((1_700_000_001, 1_700_000_001))
        );
        // Inside one second: no whole second (this used to panic in BTreeMap::range).
        assert!(seconds(1_700_000_000_001, 1_700_000_000_999, max).is_err());
        assert!(seconds(2, 1, max).is_err());
        assert!(seconds(-1, 1, max).is_err());
        assert!(seconds(0, LAST_MS + 1, max).is_err());
        // Year 1970 to 9999: far over the span limit.
        assert!(seconds(0, LAST_MS, max).is_err());
        assert!(seconds(0, max, max).is_ok());
        assert!(seconds(0, max + 1, max).is_err());
    }
}
