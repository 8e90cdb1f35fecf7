//! A data-source connector over a real HTTP API: a paginated "orders" API (served locally so
//! the example runs anywhere) read page by page by a `datasource-sdk` [`DataSource`] that
//! resumes from its committed state, run through the [`Runner`] into the JSON-lines file sink.

use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;
use axum::Json;
use axum::extract::Query;
use datasource_sdk::{
    Config, Context, DataSource, Error, FileStateStore, JsonLinesSink, Map, Param, ParamType,
    Record, Result, RunReport, Runner, SourceEvent, Writer,
};
use serde::Deserialize;
use serde_json::{Value, json};

/// Records per page of the API.
pub const PAGE_SIZE: u64 = 100;

/// The connector's description, from which a UI or CLI can be generated.
pub fn config() -> Config {
    Config::new("Orders API")
        .param(
            Param::new("base_url")
                .title("API base URL")
                .placeholder("http://127.0.0.1:8090")
                .required(),
        )
        .param(
            Param::new("api_key")
                .title("API key")
                .kind(ParamType::Password)
                .required(),
        )
        .param(
            Param::new("destination")
                .title("Table")
                .help("Where the records go (default: the source type)"),
        )
}

#[derive(Debug, Deserialize)]
struct PageQuery {
    page: Option<u64>,
}

/// The orders API: `GET /orders?page=N` (needs `Authorization: Bearer <key>`), `total` orders.
pub fn orders_api(total: u64) -> axum::Router {
    axum::Router::new().route(
        "/orders",
        axum::routing::get(move |headers: axum::http::HeaderMap, Query(q): Query<PageQuery>| async move {
            if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some("Bearer k-1234") {
                return Err(axum::http::StatusCode::UNAUTHORIZED);
            }
            let page = q.page.unwrap_or(0);
            let start = page.saturating_mul(PAGE_SIZE).min(total);
            let end = (start + PAGE_SIZE).min(total);
            let orders: Vec<Value> =
                (start..end).map(|id| json!({"id": id, "customer": format!("c{}", id % 37), "cents": id * 7 % 1000})).collect();
            Ok(Json(json!({"orders": orders, "next": (end < total).then_some(page + 1), "total": total})))
        }),
    )
}

/// Reads the orders API page by page, resuming from `next_page` in its committed state.
#[derive(Debug, Default)]
pub struct OrdersSource {
    http: reqwest::Client,
    next_page: Option<Option<u64>>,
}

#[async_trait]
impl DataSource for OrdersSource {
    async fn read(&mut self, _n: usize, ctx: &Context) -> Result<Option<Vec<Record>>> {
        let page = match self.next_page {
            Some(Some(page)) => page,
            Some(None) => return Ok(None),
            None => match ctx.resume_state().get("next_page") {
                Some(Value::Null) => return Ok(None),
                Some(v) => v.as_u64().unwrap_or(0),
                None => 0,
            },
        };
        let base = ctx
            .param_str("base_url")
            .ok_or_else(|| Error::InvalidInput("no base_url".into()))?;
        let key = ctx
            .param_str("api_key")
            .ok_or_else(|| Error::Unauthorized("no api_key".into()))?;
        let url = format!("{}/orders?page={page}", base.trim_end_matches('/'));
        let resp = self
            .http
            .get(&url)
            .bearer_auth(key)
            .send()
            .await
            .map_err(|e| Error::Unavailable(format!("{url}: {e}")))?;
        match resp.status().as_u16() {
            200 => {}
            401 | 403 => return Err(Error::Unauthorized(format!("{url}: {}", resp.status()))),
            s if s >= 500 => return Err(Error::Unavailable(format!("{url}: {}", resp.status()))),
            _ => return Err(Error::InvalidInput(format!("{url}: {}", resp.status()))),
        }
        let body: Value = resp
            .json()
            .await
            .map_err(|e| Error::Unavailable(format!("{url}: {e}")))?;
        let next = body.get("next").and_then(Value::as_u64);
        let total = body.get("total").and_then(Value::as_u64);
        let records: Vec<Record> = body
            .get("orders")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(|o| o.as_object().cloned()).collect())
            .unwrap_or_default();
        self.next_page = Some(next);
        let mut state = Map::new();
        state.insert("next_page".into(), json!(next));
        ctx.state(format!("page-{page}"), state);
        let loaded = page * PAGE_SIZE + records.len() as u64;
        ctx.progress(loaded, total, format!("page {page}"));
        Ok(Some(records))
    }
}

/// Runs the connector once against `base_url` into `out/records` with state in `out/state`,
/// showing an indicatif progress bar when `progress` is set. A second run resumes from the
/// stored state.
pub async fn run(base_url: &str, out: &Path, progress: bool) -> Result<RunReport> {
    let sink = JsonLinesSink::new(out.join("records"), 1 << 20)?;
    let writer = Writer::builder(sink).build()?;
    let runner = Runner::new(
        writer.clone(),
        FileStateStore::new(out.join("state"))?,
        "orders",
    );
    let params: Map = serde_json::from_value(
        json!({"type": "orders", "base_url": base_url, "api_key": "k-1234"}),
    )
    .map_err(|e| Error::InvalidInput(e.to_string()))?;
    config().validate(&params)?;
    let ctx = runner.open(params, Map::new()).await?;
    let bar = indicatif::ProgressBar::new(0);
    if progress {
        bar.set_style(
            indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} records {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
    } else {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let mut events = ctx.subscribe();
    let b = bar.clone();
    let watcher = tokio::spawn(async move {
        while let Ok(event) = events.recv().await {
            if let SourceEvent::Progress { loaded, total, .. } = event {
                if let Some(t) = total {
                    b.set_length(t);
                }
                b.set_position(loaded);
            }
        }
    });
    let result = runner.run(&mut OrdersSource::default(), &ctx).await;
    let closed = writer
        .close(tokio::time::Instant::now() + Duration::from_secs(30))
        .await;
    watcher.abort();
    bar.finish_and_clear();
    let report = result?;
    let closed = closed?;
    if !closed.all_delivered() {
        return Err(Error::Other(format!(
            "undelivered at close: {:?}",
            closed.total()
        )));
    }
    Ok(report)
}
