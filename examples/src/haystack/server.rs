//! The Haystack HTTP API over a [`Db`]: about, ops, formats, defs, read, nav, hisRead (single
//! and batch), hisWrite, pointWrite, watchSub/watchUnsub/watchPoll and close, by GET and POST,
//! with `Accept` negotiation and a `version` parameter that serves the data as it was at a past
//! time. With an [`Auth`] every op needs a session (see [`super::auth`]).
//!
//! Hostile requests cannot bring it down: the body is read with a size cap and a timeout, the
//! request grid is bounded before it is built (see [`super::request`]), and parsing, filter
//! evaluation and writing the response run on the blocking pool behind a semaphore
//! ([`ServerConfig::cpu_workers`]), so one heavy request cannot starve the async workers; when
//! more than [`ServerConfig::max_waiting`] requests wait for it, the answer is 503 with
//! `Retry-After`.

use std::num::NonZeroUsize;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use haystack_core::{Dict, Grid, GridBuilder, Number, Ref, Value, zinc};
use time::OffsetDateTime;
use tokio::sync::Semaphore;

use super::auth::{Auth, Outcome};
use super::db::{Db, Snapshot};
use super::defs_ops::{DefsOp, defs_op};
use super::formats::{Format, negotiate_labelled};
use super::his::{his_read, his_read_batch};
pub use super::request::OpError;
use super::request::{RequestGrid, parse_filter, query_row, read_request, request_format};
use super::watches::Watches;
use super::writes::{Writes, his_write, his_write_samples};

/// Most rows one `read` returns when the request gives no `limit`.
pub const DEFAULT_READ_LIMIT: usize = 10_000;
/// Most bytes of a POSTed request grid; a longer body is answered 413.
pub const MAX_REQUEST_BYTES: usize = 1 << 20;

/// Limits and timeouts of the server.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// How long a client may take to send its request body (slow senders get 408).
    pub body_timeout: Duration,
    /// Requests parsed, evaluated or written at once on the blocking pool.
    pub cpu_workers: NonZeroUsize,
    /// Requests that may wait for a blocking-pool slot; one more is answered 503.
    pub max_waiting: usize,
    /// Run parsing, filter evaluation and response writing on the blocking pool (the default);
    /// `false` runs them inline on the async workers, only to measure the difference
    /// (`haystack-load --inline`).
    pub offload: bool,
}

impl Default for ServerConfig {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, NonZeroUsize::get);
        Self {
            body_timeout: Duration::from_secs(30),
            cpu_workers: NonZeroUsize::new(cores * 2).unwrap_or(NonZeroUsize::MIN),
            max_waiting: 1024,
            offload: true,
        }
    }
}

/// Request bodies up to this size are parsed on the async worker that received them (a few
/// microseconds), not on the blocking pool: the hop there and back cost more than the parse.
const INLINE_BODY: usize = 4096;

/// The server's shared state.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The database served.
    pub db: Arc<Db>,
    /// The current time (injectable so tests of `today` and `yesterday` are exact).
    pub now: fn() -> OffsetDateTime,
    /// When the server started (`about`'s `serverBootTime`).
    pub boot: OffsetDateTime,
    /// Limits and timeouts.
    pub config: ServerConfig,
    /// The authenticator; `None` serves without authentication.
    pub auth: Option<Arc<Auth>>,
    /// Priority arrays (`pointWrite`) and the overlay they put on the latest snapshot.
    pub writes: Arc<Writes>,
    /// Open watches.
    pub watches: Arc<Watches>,
    /// One `hisWrite` at a time (each commits a manifest).
    his_lock: Arc<tokio::sync::Mutex<()>>,
    cpu: Arc<Semaphore>,
    waiting: Arc<AtomicUsize>,
}

impl AppState {
    /// Runs `f` on the blocking pool once a slot of [`ServerConfig::cpu_workers`] is free; 503
    /// when too many requests already wait, 500 when `f` panics.
    pub(crate) async fn cpu<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, OpError> {
        if !self.config.offload {
            return Ok(f());
        }
        let permit = self.permit().await?;
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            f()
        })
        .await
        .map_err(|e| OpError::internal(format!("request task failed: {e}")))
    }

    /// Starts `f` on the blocking pool once a slot is free, as [`AppState::cpu`] does, but
    /// returns without waiting for it to finish (a response body it streams). Always on the
    /// blocking pool, even without offload: `f` may block.
    pub(crate) async fn cpu_detached(
        &self,
        f: impl FnOnce() + Send + 'static,
    ) -> Result<(), OpError> {
        let permit = if self.config.offload {
            Some(self.permit().await?)
        } else {
            None
        };
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            f()
        });
        Ok(())
    }

    /// A slot of the blocking pool: now, after a wait, or 503 when too many already wait.
    async fn permit(&self) -> Result<tokio::sync::OwnedSemaphorePermit, OpError> {
        Ok(match self.cpu.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                if self.waiting.fetch_add(1, Ordering::SeqCst) >= self.config.max_waiting {
                    self.waiting.fetch_sub(1, Ordering::SeqCst);
                    return Err(OpError {
                        status: StatusCode::SERVICE_UNAVAILABLE,
                        dis: "server busy: too many requests waiting, retry later".into(),
                    });
                }
                let p = self.cpu.clone().acquire_owned().await;
                self.waiting.fetch_sub(1, Ordering::SeqCst);
                p.map_err(|_| OpError::internal("server shutting down"))?
            }
        })
    }
}

/// The router: every op under `/{op}` (mount it under `/api` or any base path).
pub fn router(db: Arc<Db>) -> Router {
    router_with_clock(db, OffsetDateTime::now_utc)
}

/// [`router`] with an explicit clock.
pub fn router_with_clock(db: Arc<Db>, now: fn() -> OffsetDateTime) -> Router {
    router_with(db, now, ServerConfig::default())
}

/// [`router`] with an explicit clock and limits.
pub fn router_with(db: Arc<Db>, now: fn() -> OffsetDateTime, config: ServerConfig) -> Router {
    router_with_auth(db, now, config, None)
}

/// [`router_with`] behind authentication (every op needs a session when `auth` is given; see
/// [`super::auth`]).
pub fn router_with_auth(
    db: Arc<Db>,
    now: fn() -> OffsetDateTime,
    config: ServerConfig,
    auth: Option<Arc<Auth>>,
) -> Router {
    let cpu = Arc::new(Semaphore::new(config.cpu_workers.get()));
    Router::new()
        .route("/{op}", axum::routing::any(handle))
        .with_state(AppState {
            writes: Arc::new(Writes::new(db.clone())),
            watches: Arc::new(Watches::default()),
            his_lock: Arc::new(tokio::sync::Mutex::new(())),
            db,
            now,
            boot: now(),
            config,
            auth,
            cpu,
            waiting: Arc::new(AtomicUsize::new(0)),
        })
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

/// The ops served, with their summaries and whether they have no side effects. With a users
/// file every op needs a session (a bearer token), `about` included: the handshake itself runs
/// on any op's URI.
const OPS: [(&str, &str, bool); 15] = [
    ("about", "Summary information for the server", true),
    ("ops", "Operations supported by the server", true),
    ("formats", "Grid data formats supported by the server", true),
    (
        "defs",
        "Query the defs of the namespace (standard Haystack 4 libraries)",
        true,
    ),
    ("libs", "Query the lib defs of the namespace", true),
    (
        "filetypes",
        "Query the filetype defs of the namespace",
        true,
    ),
    ("read", "Read entity records by filter or by id", true),
    ("nav", "Navigate the site, equip and point tree", true),
    (
        "hisRead",
        "Read time series data (one point, or several with `range` in the meta)",
        true,
    ),
    (
        "hisWrite",
        "Write time series data (merged into the stored series)",
        false,
    ),
    (
        "pointWrite",
        "Read or write a writable point's priority array",
        false,
    ),
    ("watchSub", "Open a watch or add entities to it", false),
    (
        "watchUnsub",
        "Remove entities from a watch or close it",
        false,
    ),
    ("watchPoll", "Poll a watch for changed entities", false),
    ("close", "Close the current session", false),
];

/// Writes `grid` as the response. Errors always reach the client as an error grid its reader
/// understands: asked for Trio or CSV (which cannot carry grid meta), it gets Zinc.
fn write_response(format: Format, mime: &'static str, status: StatusCode, grid: &Grid) -> Response {
    let (format, mime) = if grid.meta().has("err") && matches!(format, Format::Trio | Format::Csv) {
        (Format::Zinc, Format::Zinc.mime())
    } else {
        (format, mime)
    };
    let mut resp = match format.write_grid(grid) {
        Ok(text) => (
            status,
            [(header::CONTENT_TYPE, format!("{mime}; charset=utf-8"))],
            text,
        )
            .into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    };
    if status == StatusCode::SERVICE_UNAVAILABLE {
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    resp
}

/// Writes a large `grid` as the response, streamed in chunks as it is encoded on the
/// blocking pool (see [`super::chunks`]); 503 when the pool is too busy to start.
async fn stream_response(
    state: &AppState,
    format: Format,
    mime: &'static str,
    status: StatusCode,
    grid: Grid,
) -> Response {
    let (writer, pending) = super::chunks::channel();
    if let Err(e) = state
        .cpu_detached(move || super::chunks::encode(format, grid, writer))
        .await
    {
        return write_response(format, mime, e.status, &error_grid(&e.dis));
    }
    match pending.body().await {
        Ok(body) => (
            status,
            [(header::CONTENT_TYPE, format!("{mime}; charset=utf-8"))],
            body,
        )
            .into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

async fn handle(
    State(state): State<AppState>,
    Path(op): Path<String>,
    method: Method,
    query: Result<Query<Vec<(String, String)>>, axum::extract::rejection::QueryRejection>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
    let Some((format, mime)) = negotiate_labelled(accept) else {
        return (
            StatusCode::NOT_ACCEPTABLE,
            "no acceptable format: use text/zinc, application/json, \
             application/vnd.haystack+json;version=4 (or 3), text/trio or text/csv",
        )
            .into_response();
    };
    let mut caller = Caller::default();
    let mut info = None;
    if let Some(auth) = &state.auth {
        let header = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        match auth.check(header) {
            Outcome::Session { user, token } => {
                caller = Caller {
                    user: Some(user),
                    token: Some(token),
                };
            }
            Outcome::LoggedIn { user, info: i } => {
                caller.user = Some(user);
                info = Some(i);
            }
            Outcome::Challenge(challenge) => {
                let mut resp = write_response(
                    format,
                    mime,
                    StatusCode::UNAUTHORIZED,
                    &error_grid("authentication required"),
                );
                if let Ok(v) = HeaderValue::from_str(&challenge) {
                    resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
                }
                return resp;
            }
            Outcome::Forbidden(why) => {
                tracing::info!(op, "authentication refused: {why}");
                return write_response(
                    format,
                    mime,
                    StatusCode::FORBIDDEN,
                    &error_grid("authentication failed"),
                );
            }
            Outcome::BadRequest(why) => {
                return write_response(format, mime, StatusCode::BAD_REQUEST, &error_grid(&why));
            }
            Outcome::Busy => {
                return write_response(
                    format,
                    mime,
                    StatusCode::SERVICE_UNAVAILABLE,
                    &error_grid("too many sessions or handshakes, retry later"),
                );
            }
        }
    }
    let result = run_op(&state, &op, &method, query, &headers, body, &caller).await;
    let (status, grid) = match result {
        Ok(grid) => (StatusCode::OK, grid),
        Err(e) => (e.status, error_grid(&e.dis)),
    };
    let mut resp = if grid.len() < 64 {
        write_response(format, mime, status, &grid)
    } else {
        stream_response(&state, format, mime, status, grid).await
    };
    if let Some(v) = info.and_then(|i| HeaderValue::from_str(&i).ok()) {
        resp.headers_mut()
            .insert(header::HeaderName::from_static("authentication-info"), v);
    }
    resp
}

/// Who sent a request: the user and bearer token of its session (both `None` without auth).
#[derive(Debug, Clone, Default)]
pub struct Caller {
    /// The authenticated user.
    pub user: Option<String>,
    /// The bearer token of the session (what `close` ends).
    pub token: Option<String>,
}

async fn run_op(
    state: &AppState,
    op: &str,
    method: &Method,
    query: Result<Query<Vec<(String, String)>>, axum::extract::rejection::QueryRejection>,
    headers: &HeaderMap,
    body: Body,
    caller: &Caller,
) -> Result<Grid, OpError> {
    if method != Method::GET && method != Method::POST {
        return Err(OpError {
            status: StatusCode::NOT_IMPLEMENTED,
            dis: format!("method {method} is not supported: use GET or POST"),
        });
    }
    if !OPS.iter().any(|(name, _, _)| *name == op) {
        return Err(OpError {
            status: StatusCode::NOT_FOUND,
            dis: format!("unknown op {op:?}"),
        });
    }
    let Query(params) =
        query.map_err(|e| OpError::bad_request(format!("bad query string: {e}")))?;
    let body = match tokio::time::timeout(
        state.config.body_timeout,
        axum::body::to_bytes(body, MAX_REQUEST_BYTES),
    )
    .await
    {
        Err(_) => {
            return Err(OpError {
                status: StatusCode::REQUEST_TIMEOUT,
                dis: format!(
                    "the request body did not arrive within {:?}",
                    state.config.body_timeout
                ),
            });
        }
        Ok(Err(e)) => {
            return Err(OpError {
                status: StatusCode::PAYLOAD_TOO_LARGE,
                dis: format!("request body unreadable or over {MAX_REQUEST_BYTES} bytes: {e}"),
            });
        }
        Ok(Ok(b)) => b,
    };
    let RequestGrid { meta, cols, rows } = if *method == Method::POST && !body.is_empty() {
        let ctype = headers
            .get(header::CONTENT_TYPE)
            .map(|v| {
                v.to_str()
                    .map_err(|_| OpError::bad_request("Content-Type is not ASCII"))
            })
            .transpose()?;
        let format = request_format(ctype)?;
        if body.len() <= INLINE_BODY {
            read_request(format, &body)?
        } else {
            state.cpu(move || read_request(format, &body)).await??
        }
    } else {
        RequestGrid {
            rows: vec![query_row(&params)],
            ..RequestGrid::default()
        }
    };
    let version = version_param(&params, &rows)?;
    match op {
        "about" => about(state, version).await,
        "ops" => Ok(ops_grid()),
        "close" => {
            if let (Some(auth), Some(token)) = (&state.auth, &caller.token) {
                auth.close(token);
            }
            Ok(empty_result())
        }
        "formats" => Ok(formats_grid()),
        "defs" | "libs" | "filetypes" => match DefsOp::named(op) {
            Some(which) => state.cpu(move || defs_op(which, &rows)).await?,
            None => Err(OpError::op(format!("unknown op {op:?}"))),
        },
        "read" => {
            let snap = snapshot(state, version).await?;
            if light_request(&rows)
                && let Some(grid) = read(snap.clone(), &rows, INLINE_READ_ROWS)?
            {
                return Ok(grid);
            }
            state
                .cpu(move || read(snap, &rows, usize::MAX).map(Option::unwrap_or_default))
                .await?
        }
        "nav" => {
            let snap = snapshot(state, version).await?;
            state.cpu(move || nav(snap, rows.first())).await?
        }
        "hisRead" if meta.has("range") => his_read_batch(state, version, &meta, &rows).await,
        "hisRead" => his_read(state, version, rows.first()).await,
        "hisWrite" => {
            let writes = his_write_samples(&meta, &cols, &rows)?;
            let _one = state.his_lock.lock().await;
            let base = base_snapshot(state).await?;
            for w in &writes {
                his_write(&state.db, &base, w).await?;
            }
            Ok(empty_result())
        }
        "pointWrite" => {
            let base = base_snapshot(state).await?;
            let row = rows.first().cloned().unwrap_or_default();
            state
                .writes
                .point_write(&base, &row, caller.user.as_deref(), (state.now)())
                .await
        }
        "watchSub" | "watchPoll" => {
            let snap = snapshot(state, None)
                .await?
                .ok_or_else(|| OpError::op("nothing imported yet"))?;
            let watches = state.watches.clone();
            if op == "watchSub" {
                state.cpu(move || watches.sub(&snap, &meta, &rows)).await?
            } else {
                state.cpu(move || watches.poll(&snap, &meta)).await?
            }
        }
        "watchUnsub" => state.watches.unsub(&meta, &rows),
        _ => Err(OpError::op(format!("unknown op {op:?}"))),
    }
}

/// The latest snapshot as imported (without the write overlay): what writes check against.
async fn base_snapshot(state: &AppState) -> Result<Arc<Snapshot>, OpError> {
    state
        .db
        .snapshot(None)
        .await
        .map_err(|e| OpError::internal(e.to_string()))?
        .ok_or_else(|| OpError::op("nothing imported yet"))
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
                .and_then(|d| d.iter().find(|(k, _)| k.eq_ignore_ascii_case("version")))
                .map(|(_, v)| match v {
                    Value::Str(s) => s.to_string(),
                    other => other.to_string(),
                })
        });
    match raw {
        None => Ok(None),
        Some(text) => parse_version(&text).map(Some).map_err(OpError::op),
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

/// The snapshot the read path serves: at `version` as imported, or the latest with the
/// `pointWrite` overlay (`curVal` following the priority arrays).
pub(crate) async fn snapshot(
    state: &AppState,
    version: Option<OffsetDateTime>,
) -> Result<Option<Arc<Snapshot>>, OpError> {
    let snap = state
        .db
        .snapshot(version)
        .await
        .map_err(|e| OpError::internal(e.to_string()))?;
    match (snap, version) {
        (Some(s), None) => Ok(Some(state.writes.overlay(s, (state.now)()).await?)),
        (s, _) => Ok(s),
    }
}

/// Where the product and its vendor are described (`about`'s `productUri` and `vendorUri`).
const PRODUCT_URI: &str = "https://example.invalid/haystack-workspace";

async fn about(state: &AppState, version: Option<OffsetDateTime>) -> Result<Grid, OpError> {
    let snap = snapshot(state, version).await?;
    let now = (state.now)();
    let mut d = Dict::new();
    let _ = d.insert("haystackVersion", "4.0");
    let _ = d.insert("serverName", "haystack-server");
    let _ = d.insert("serverTime", haystack_core::DateTime::utc(now));
    let _ = d.insert("serverBootTime", haystack_core::DateTime::utc(state.boot));
    let _ = d.insert("productName", "haystack-server example");
    let _ = d.insert("productUri", Value::Uri(PRODUCT_URI.into()));
    let _ = d.insert("productVersion", env!("CARGO_PKG_VERSION"));
    let _ = d.insert("vendorName", "haystack workspace");
    let _ = d.insert("vendorUri", Value::Uri(PRODUCT_URI.into()));
    let _ = d.insert("tz", "UTC");
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
        .map(|(name, summary, pure)| {
            let mut d = Dict::new();
            let _ = d.insert("name", *name);
            let _ = d.insert("summary", *summary);
            if *pure {
                let _ = d.insert("noSideEffects", Value::Marker);
            }
            d
        })
        .collect();
    Grid::from_dicts(dicts.iter())
}

fn formats_grid() -> Grid {
    let dicts: Vec<Dict> = Format::ALL
        .iter()
        .map(|f| {
            let mut d = Dict::new();
            let _ = d.insert("mime", f.mime());
            if matches!(f, Format::Zinc | Format::Json | Format::Json3) {
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

/// Most rows a `read` may examine or return and still run on the async worker that received
/// it: a selective read (`site and geoCity == "Paris"`: the 500 sites are examined) costs
/// microseconds, less than the hop to the blocking pool and back; any other goes there.
const INLINE_READ_ROWS: usize = 1024;

/// Whether a read request is small enough to try inline: at most a few ids, or a short filter.
fn light_request(rows: &[Dict]) -> bool {
    match rows.first().and_then(|d| d.get("filter")) {
        Some(Value::Str(text)) => text.len() <= INLINE_BODY,
        Some(_) => true,
        None => rows.len() <= 64,
    }
}

/// The `read` op; `None` when it would examine or return more than `budget` rows (see
/// [`haystack_core::index::Indexed::select_in_within`]), having done nothing else.
fn read(
    snap: Option<Arc<Snapshot>>,
    rows: &[Dict],
    budget: usize,
) -> Result<Option<Grid>, OpError> {
    let Some(snap) = snap else {
        return Ok(Some(empty_result()));
    };
    let first = rows.first().cloned().unwrap_or_default();
    if let Some(filter) = first.get("filter") {
        let text = filter
            .as_str()
            .ok_or_else(|| OpError::op("filter must be a Str"))?;
        let filter = parse_filter(text)?;
        let limit = match first.get("limit") {
            Some(Value::Number(n)) if n.value() >= 1.0 => n.value() as usize,
            Some(Value::Number(_)) => return Err(OpError::op("limit must be at least 1")),
            Some(Value::Null) | None => DEFAULT_READ_LIMIT,
            Some(other) => {
                return Err(OpError::op(format!(
                    "limit must be a Number, not {}",
                    other.kind()
                )));
            }
        };
        // Def-aware: spec terms (`ph::Ahu`) and marker terms implied by subtypes (`equip`
        // matches `{ahu}`), in the standard namespace; through the snapshot's indexes, which
        // narrow the rows to evaluate (the result is the scan's, in the same order).
        let Some(mut selected) = snap
            .indexed()
            .select_in_within(
                &filter,
                haystack_core::defs::Namespace::standard(),
                limit.saturating_add(1),
                budget,
            )
            .map_err(|e| OpError::op(format!("bad filter: {e}")))?
        else {
            return Ok(None);
        };
        let mut meta = Dict::new();
        if selected.len() > limit {
            selected.truncate(limit);
            let mut incomplete = Dict::new();
            let _ = incomplete.insert(
                "dis",
                format!("more than {limit} entities match; only the first {limit} are returned"),
            );
            let _ = incomplete.insert("limit", Number::from(limit as f64));
            let _ = meta.insert("incomplete", Value::Dict(incomplete));
        }
        // Only the columns the hits use, not every column of the database.
        let mut out = snap.grid.select_rows(selected);
        *out.meta_mut() = meta;
        return Ok(Some(out));
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
        return Err(OpError::op("read needs a `filter` or an `id`"));
    }
    if ids.len() > budget {
        return Ok(None);
    }
    let mut out = Grid::with_cols(Dict::new(), snap.grid.cols().to_vec())
        .map_err(|e| OpError::op(e.to_string()))?;
    if !out.has_col("id") {
        out.add_col("id", Dict::new())
            .map_err(|e| OpError::op(e.to_string()))?;
    }
    for id in ids {
        match snap.entity(id.id()) {
            Some(row) => out.push_row_from(row),
            None => out.push_tags([]),
        }
        .map_err(|e| OpError::op(e.to_string()))?;
    }
    // Only the columns the rows use, and `id` (the column of unknown ids' empty rows).
    out.prune_cols();
    if !out.has_col("id") {
        out.add_col("id", Dict::new())
            .map_err(|e| OpError::op(e.to_string()))?;
    }
    Ok(Some(out))
}

/// A nav result: always with a `navId` column (null for leaves), per the Ops chapter.
fn nav_grid(dicts: &[Dict]) -> Result<Grid, OpError> {
    let mut grid = Grid::from_dicts(dicts.iter());
    if !grid.has_col("navId") {
        grid.add_col("navId", Dict::new())
            .map_err(|e| OpError::internal(e.to_string()))?;
    }
    Ok(grid)
}

fn nav(snap: Option<Arc<Snapshot>>, row: Option<&Dict>) -> Result<Grid, OpError> {
    let Some(snap) = snap else {
        return nav_grid(&[]);
    };
    let nav_id = match row.and_then(|d| d.get("navId")) {
        None | Some(Value::Null) => None,
        Some(Value::Ref(r)) => Some(r.id().to_owned()),
        Some(Value::Str(s)) => Some(s.trim_start_matches('@').to_owned()),
        Some(other) => {
            return Err(OpError::op(format!(
                "navId must be a Ref, not {}",
                other.kind()
            )));
        }
    };
    let (parent_tag, child_ref) = match &nav_id {
        None => (None, None),
        Some(id) => {
            let parent = snap
                .entity(id)
                .ok_or_else(|| OpError::op(format!("unknown navId @{id}")))?;
            if parent.has("site") {
                (Some("siteRef"), Some(id.clone()))
            } else if parent.has("equip") {
                (Some("equipRef"), Some(id.clone()))
            } else {
                return nav_grid(&[]);
            }
        }
    };
    // The children through the snapshot's indexes: the sites, or the rows that refer to the
    // parent (under a site its equips, under an equip its points), in row order.
    let db = snap.indexed();
    let children: Vec<usize> = match (parent_tag, &child_ref) {
        (Some(tag), Some(id)) => db
            .referrers(tag, id)
            .filter(|&i| tag == "equipRef" || snap.grid.row(i).is_some_and(|r| r.has("equip")))
            .collect(),
        _ => match db.tag_rows("site") {
            Some(rows) => rows.iter().map(|i| i as usize).collect(),
            None => snap
                .grid
                .rows()
                .filter(|r| r.has("site"))
                .map(|r| r.index())
                .collect(),
        },
    };
    let mut dicts = Vec::with_capacity(children.len());
    for row in children.into_iter().filter_map(|i| snap.grid.row(i)) {
        let mut d = row.to_dict();
        if (row.has("site") || row.has("equip"))
            && let Some(id) = row.id()
        {
            let _ = d.insert("navId", Value::Ref(id.clone()));
        }
        dicts.push(d);
    }
    nav_grid(&dicts)
}
