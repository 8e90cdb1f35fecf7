//! The external API the workers read from (a local HTTP server standing in for the sample's
//! spoofed source), and the `datasource-sdk` data source that reads one identifier's series from
//! it, page by page.

use async_trait::async_trait;
use axum::Json;
use axum::extract::{Path, Query, State};
use datasource_sdk::{Context, DataSource, Record};
use serde::{Deserialize, Serialize};

use super::{Clock, validate_identifier};

/// Seconds between points.
pub const STEP: i64 = 300;
/// Points on each side of now (24 h of 5-minute points).
pub const POINTS_PER_SIDE: i64 = 288;
/// Points per page of the external API.
pub const PAGE_SIZE: usize = 200;

/// One point as the external API returns it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiPoint {
    /// The series.
    pub identifier: String,
    /// 0..100.
    pub value: f64,
    /// Epoch seconds.
    pub time: i64,
    /// `Past` or `Future`.
    pub metadata: String,
}

/// One page of points.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ApiPage {
    /// The points of this page.
    pub points: Vec<ApiPoint>,
    /// The next page, when there is one.
    pub next: Option<usize>,
}

/// A deterministic value in 0..100 for a series and time.
fn value_of(id: &str, time: i64) -> f64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in id.bytes().chain(time.to_le_bytes()) {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    (h % 10_000) as f64 / 100.0
}

/// The series the external API serves at `now`: one point every [`STEP`] seconds, aligned to
/// the step, the [`POINTS_PER_SIDE`] points at or before now (`Past`) and as many after it
/// (`Future`).
pub fn series_at(id: &str, now: i64) -> Vec<ApiPoint> {
    let base = now.div_euclid(STEP) * STEP;
    ((-POINTS_PER_SIDE + 1)..=POINTS_PER_SIDE)
        .map(|k| {
            let time = base + k * STEP;
            ApiPoint {
                identifier: id.to_owned(),
                value: value_of(id, time),
                time,
                metadata: if time <= now { "Past" } else { "Future" }.to_owned(),
            }
        })
        .collect()
}

#[derive(Debug, Deserialize)]
struct PageQuery {
    page: Option<usize>,
}

/// The external API's router: `GET /points/{identifier}?page=N`.
pub fn external_api(clock: Clock) -> axum::Router {
    async fn points(
        State(clock): State<Clock>,
        Path(id): Path<String>,
        Query(q): Query<PageQuery>,
    ) -> Result<Json<ApiPage>, (axum::http::StatusCode, String)> {
        validate_identifier(&id)
            .map_err(|e| (axum::http::StatusCode::BAD_REQUEST, e.to_string()))?;
        let all = series_at(&id, clock().unix_timestamp());
        let page = q.page.unwrap_or(0);
        let start = page.saturating_mul(PAGE_SIZE).min(all.len());
        let end = (start + PAGE_SIZE).min(all.len());
        let next = (end < all.len()).then_some(page + 1);
        Ok(Json(ApiPage {
            points: all[start..end].to_vec(),
            next,
        }))
    }
    axum::Router::new()
        .route("/points/{id}", axum::routing::get(points))
        .with_state(clock)
}

/// Reads one identifier's series from the external API, a page per `read`.
#[derive(Debug)]
pub struct SeriesSource {
    http: reqwest::Client,
    base_url: String,
    identifier: String,
    next: Option<usize>,
}

impl SeriesSource {
    /// The series of `identifier` from the API at `base_url`.
    pub fn new(
        http: reqwest::Client,
        base_url: impl Into<String>,
        identifier: impl Into<String>,
    ) -> Self {
        Self {
            http,
            base_url: base_url.into(),
            identifier: identifier.into(),
            next: Some(0),
        }
    }
}

#[async_trait]
impl DataSource for SeriesSource {
    async fn read(
        &mut self,
        _n: usize,
        ctx: &Context,
    ) -> datasource_sdk::Result<Option<Vec<Record>>> {
        let Some(page) = self.next else {
            return Ok(None);
        };
        let url = format!(
            "{}/points/{}?page={page}",
            self.base_url.trim_end_matches('/'),
            self.identifier
        );
        let resp = self
            .http
            .get(&url)
            .send()
            .await
            .map_err(|e| datasource_sdk::Error::Unavailable(format!("{url}: {e}")))?;
        let status = resp.status();
        if !status.is_success() {
            let err = format!("{url}: HTTP {status}");
            return Err(if status.is_server_error() {
                datasource_sdk::Error::Unavailable(err)
            } else {
                datasource_sdk::Error::InvalidInput(err)
            });
        }
        let body: ApiPage = resp
            .json()
            .await
            .map_err(|e| datasource_sdk::Error::Unavailable(format!("{url}: {e}")))?;
        self.next = body.next;
        ctx.progress(
            (page * PAGE_SIZE + body.points.len()) as u64,
            Some((2 * POINTS_PER_SIDE) as u64),
            format!("{} page {page}", self.identifier),
        );
        let records = body
            .points
            .into_iter()
            .filter_map(|p| match serde_json::to_value(p) {
                Ok(serde_json::Value::Object(map)) => Some(map),
                _ => None,
            })
            .collect();
        Ok(Some(records))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_shape() {
        let now = 1_700_000_123;
        let s = series_at("x", now);
        assert_eq!(s.len(), 576);
        assert_eq!(s.iter().filter(|p| p.metadata == "Past").count(), 288);
        assert!(s.windows(2).all(|w| w[1].time - w[0].time == STEP));
        assert!(s.iter().all(|p| (0.0..100.0).contains(&p.value)));
        assert_eq!(series_at("x", now), s, "deterministic");
    }
}
