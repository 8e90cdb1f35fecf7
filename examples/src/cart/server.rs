//! The HTTP API (Pacifica Cartd's), and running it with graceful shutdown.

use super::shutdown::{Downloads, DrainReport};
use super::{CartConfig, Error, download};
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use cart_core::{
    Cart, CartRequest, CartStatus, CartUid, DownloadName, Engine, FileRequest, messages,
};
use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Longest `X-Pacifica-Message` sent, in bytes (longer messages are cut).
const MAX_HEADER_MESSAGE: usize = 1024;

/// HTTP server settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerOptions {
    /// How long in-flight downloads get to finish on shutdown before they are cut.
    pub shutdown_grace: Duration,
    /// How often to pick up abandoned carts (`None`: only at start).
    pub recover_interval: Option<Duration>,
    /// Largest accepted `POST` body, in bytes.
    pub max_request_bytes: usize,
    /// Downloads served at once; a `GET` over the cap is answered 503 with `Retry-After`
    /// (default 1024). A download holds no thread (its tar is an async stream), only a socket,
    /// a file handle and a buffer of at most 256 KiB.
    pub max_downloads: std::num::NonZeroUsize,
    /// Time a client has to send a request head; the same timer closes a kept-alive
    /// connection idle for this long (default 30 s).
    pub header_read_timeout: Duration,
    /// Longest time to produce a response head, body read included (default 60 s; a download's
    /// tar streams for as long as it takes after that). Over it: 503.
    pub request_timeout: Duration,
}

/// `Retry-After` seconds sent with a 503 over the download cap.
pub const RETRY_AFTER_SECS: u64 = 5;

impl Default for ServerOptions {
    fn default() -> Self {
        CartConfig::default().server_options()
    }
}

#[derive(Debug, Clone)]
struct AppState {
    engine: Engine,
    downloads: Downloads,
}

/// The Pacifica Cartd API on `engine`; downloads are counted (and capped) in `downloads`.
pub fn router(engine: Engine, downloads: Downloads, options: &ServerOptions) -> Router {
    let limit = options.request_timeout;
    Router::new()
        .route("/", get(up))
        .route(
            "/{uid}",
            get(fetch).head(status).post(create).delete(remove),
        )
        .fallback(fallback)
        .layer(DefaultBodyLimit::max(options.max_request_bytes))
        .layer(axum::middleware::from_fn(
            move |req: axum::extract::Request, next: axum::middleware::Next| async move {
                match tokio::time::timeout(limit, next.run(req)).await {
                    Ok(r) => r,
                    Err(_) => error_response(
                        StatusCode::SERVICE_UNAVAILABLE,
                        &format!("The request took longer than {} s", limit.as_secs()),
                    ),
                }
            },
        ))
        .with_state(AppState { engine, downloads })
}

/// A JSON error body `{"status": "404 Not Found", "message": ...}`, as the original's.
pub(crate) fn error_response(status: StatusCode, message: &str) -> Response {
    let body = serde_json::json!({
        "status": format!("{} {}", status.as_u16(), status.canonical_reason().unwrap_or("")),
        "message": message,
    });
    (status, axum::Json(body)).into_response()
}

fn message_response(status: StatusCode, message: &str) -> Response {
    (
        status,
        axum::Json(serde_json::json!({ "message": message })),
    )
        .into_response()
}

/// Maps an engine failure to a response (503 when trying again may help).
fn engine_error(e: &cart_core::Error) -> Response {
    tracing::error!("cart engine: {}", e.report());
    let status = if e.is_retryable() {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::INTERNAL_SERVER_ERROR
    };
    error_response(status, &e.to_string())
}

/// A rejected request: status and message of the JSON error body.
#[derive(Debug)]
struct Rejected(StatusCode, String);

impl IntoResponse for Rejected {
    fn into_response(self) -> Response {
        error_response(self.0, &self.1)
    }
}

fn parse_uid(path: Result<Path<String>, PathRejection>) -> Result<CartUid, Rejected> {
    let Path(raw) = path.map_err(|e| Rejected(StatusCode::BAD_REQUEST, e.body_text()))?;
    CartUid::new(&raw).map_err(|e| Rejected(StatusCode::BAD_REQUEST, e.to_string()))
}

/// A header-safe copy of a message: control characters become spaces, non-ASCII `?`, and it
/// is cut at [`MAX_HEADER_MESSAGE`] bytes.
fn header_text(s: &str) -> HeaderValue {
    let clean: String = s
        .chars()
        .take(MAX_HEADER_MESSAGE)
        .map(|c| match c {
            c if c.is_ascii_control() => ' ',
            c if c.is_ascii() => c,
            _ => '?',
        })
        .collect();
    // Only visible ASCII and spaces remain, which `from_str` accepts.
    HeaderValue::from_str(&clean).unwrap_or_else(|_| HeaderValue::from_static(""))
}

fn pacifica_headers(status: &str, message: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert("x-pacifica-status", header_text(status));
    h.insert("x-pacifica-message", header_text(message));
    h
}

async fn up() -> Response {
    message_response(StatusCode::OK, messages::UP_AND_RUNNING)
}

async fn fallback() -> Response {
    error_response(StatusCode::NOT_FOUND, "Not Found")
}

/// Whether `cart` was made from exactly `request`.
fn same_request(cart: &Cart, request: &CartRequest) -> bool {
    cart.bundle == request.bundle
        && cart.files.len() == request.files.len()
        && cart.files.iter().zip(&request.files).all(|(f, r)| {
            let stored = FileRequest {
                id: f.id.clone(),
                path: f.path.clone(),
                hash: f.hash.clone(),
            };
            &stored == r
        })
}

async fn create(
    State(app): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let uid = match parse_uid(path) {
        Ok(u) => u,
        Err(r) => return r.into_response(),
    };
    let body = match body {
        Ok(b) => b,
        Err(e) => return error_response(e.status(), &e.body_text()),
    };
    let request = match CartRequest::from_json(&body) {
        Ok(r) => r,
        Err(e) => return error_response(StatusCode::BAD_REQUEST, &e.to_string()),
    };
    match app.engine.submit(uid.clone(), request.clone()).await {
        Ok(_) => message_response(StatusCode::CREATED, messages::PROCESSING_BEGUN),
        Err(cart_core::Error::AlreadyExists(_)) => match app.engine.status(&uid).await {
            Ok(Some(cart)) if cart.status != CartStatus::Error && same_request(&cart, &request) => {
                message_response(StatusCode::CREATED, messages::PROCESSING_BEGUN)
            }
            Ok(_) => error_response(
                StatusCode::CONFLICT,
                &format!(
                    "A cart with uid {uid} already exists with another request or in error; \
                     DELETE it before posting a new one"
                ),
            ),
            Err(e) => engine_error(&e),
        },
        Err(e) => engine_error(&e),
    }
}

/// The `X-Pacifica-Status` the original showed for a cart in `status`: `staging` from the POST
/// until the cart can be downloaded (the model's `waiting`, `staging` and `bundling`), then
/// `ready`, or `error`. Real clients (`pacifica-downloader` 0.4.1) stop polling at the first
/// status that is not `staging` and then require `ready`.
pub fn wire_status(status: CartStatus) -> &'static str {
    match status {
        CartStatus::Waiting | CartStatus::Staging | CartStatus::Bundling => "staging",
        CartStatus::Ready => "ready",
        CartStatus::Error => "error",
        // Never sent: a deleted cart is answered as an unknown uid.
        CartStatus::Deleted => "deleted",
    }
}

/// Header with the model's finer phase (`waiting`, `staging`, `bundling`, `ready`, `error`),
/// sent beside `X-Pacifica-Status`, never instead of it.
pub const PHASE_HEADER: &str = "x-cart-phase";

/// The Pacifica headers of a cart, plus its phase.
fn cart_headers(cart: &Cart) -> HeaderMap {
    let mut h = pacifica_headers(wire_status(cart.status), &cart.message);
    h.insert(PHASE_HEADER, header_text(cart.status.as_str()));
    h
}

async fn status(
    State(app): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> Response {
    let uid = match parse_uid(path) {
        Ok(u) => u,
        Err(Rejected(code, message)) => {
            return (code, pacifica_headers("error", &message)).into_response();
        }
    };
    match app.engine.status_header(&uid).await {
        // A deleted or evicted cart is unknown, as in the original (it only looked up carts
        // that were not deleted).
        Ok(None) => (
            StatusCode::NOT_FOUND,
            pacifica_headers("error", &messages::no_cart_found(&uid)),
        )
            .into_response(),
        Ok(Some(cart)) if cart.status == CartStatus::Deleted => (
            StatusCode::NOT_FOUND,
            pacifica_headers("error", &messages::no_cart_found(&uid)),
        )
            .into_response(),
        Ok(Some(cart)) if cart.status == CartStatus::Error => {
            (StatusCode::INTERNAL_SERVER_ERROR, cart_headers(&cart)).into_response()
        }
        Ok(Some(cart)) => (StatusCode::NO_CONTENT, cart_headers(&cart)).into_response(),
        Err(e) => {
            let mut r = engine_error(&e);
            r.headers_mut()
                .extend(pacifica_headers("error", &e.to_string()));
            r
        }
    }
}

async fn fetch(
    State(app): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
    headers: HeaderMap,
) -> Response {
    let uid = match parse_uid(path) {
        Ok(u) => u,
        Err(r) => return r.into_response(),
    };
    let Query(query) = match query {
        Ok(q) => q,
        Err(e) => return error_response(StatusCode::BAD_REQUEST, &e.body_text()),
    };
    let name = match query.get("filename").map(|n| DownloadName::new(n)) {
        None => None,
        Some(Ok(n)) => Some(n),
        Some(Err(e)) => return error_response(StatusCode::BAD_REQUEST, &e.to_string()),
    };
    let Some(ticket) = app.downloads.try_start() else {
        let mut r = error_response(
            StatusCode::SERVICE_UNAVAILABLE,
            &format!(
                "Too many downloads in progress (at most {}); try again later",
                app.downloads.limit()
            ),
        );
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
        return r;
    };
    match app.engine.download(&uid, name).await {
        Ok(d) => download::respond(d, &headers, ticket).await,
        Err(cart_core::Error::NotFound(_)) => {
            error_response(StatusCode::NOT_FOUND, messages::NOT_FOUND_OR_DELETED)
        }
        Err(cart_core::Error::NotReady { status }) => {
            let message = match app.engine.status(&uid).await {
                Ok(Some(c)) => c.message,
                _ => String::new(),
            };
            let mut h = pacifica_headers(wire_status(status), &message);
            h.insert(PHASE_HEADER, header_text(status.as_str()));
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            );
            (StatusCode::ACCEPTED, h, messages::NOT_READY).into_response()
        }
        Err(e) => engine_error(&e),
    }
}

async fn remove(
    State(app): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> Response {
    let uid = match parse_uid(path) {
        Ok(u) => u,
        Err(r) => return r.into_response(),
    };
    match app.engine.delete(&uid).await {
        Ok(true) => message_response(StatusCode::OK, messages::DELETED),
        Ok(false) => error_response(StatusCode::NOT_FOUND, messages::NOT_FOUND_OR_DELETED),
        Err(e) => engine_error(&e),
    }
}

/// A bound cart server: the engine, its listener and its settings.
#[derive(Debug)]
pub struct CartServer {
    engine: Engine,
    listener: tokio::net::TcpListener,
    options: ServerOptions,
    downloads: Downloads,
}

impl CartServer {
    /// Builds the engine from `config`, resumes interrupted work, and binds its address.
    pub async fn from_config(config: &CartConfig) -> Result<Self, Error> {
        let engine = config.build_engine().await?;
        Self::bind(engine, config.socket_addr(), config.server_options()).await
    }

    /// Resumes the engine's interrupted carts ([`Engine::recover`]) and binds `addr`.
    pub async fn bind(
        engine: Engine,
        addr: SocketAddr,
        options: ServerOptions,
    ) -> Result<Self, Error> {
        let report = engine.recover().await?;
        if !report.resumed.is_empty() || !report.failed.is_empty() {
            tracing::info!(
                resumed = report.resumed.len(),
                failed = report.failed.len(),
                "recovered carts left from the last run"
            );
        }
        let listener = tokio::net::TcpListener::bind(addr).await?;
        Ok(CartServer {
            engine,
            listener,
            downloads: Downloads::with_limit(options.max_downloads),
            options,
        })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        // A bound listener always has a local address; fall back to unspecified otherwise.
        self.listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)))
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The in-flight download tracker.
    pub fn downloads(&self) -> &Downloads {
        &self.downloads
    }

    /// Serves until `shutdown` completes, then stops gracefully: no new connections, in-flight
    /// requests finish, downloads get [`ServerOptions::shutdown_grace`] before they are cut
    /// (visibly: their body ends with an error), and cart work stops without changing any
    /// status, so it resumes at the next start.
    pub async fn run<F>(self, shutdown: F) -> Result<DrainReport, Error>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let CartServer {
            engine,
            listener,
            options,
            downloads,
        } = self;
        let stopping = CancellationToken::new();
        let app = router(engine.clone(), downloads.clone(), &options);
        let signal = {
            let stopping = stopping.clone();
            async move {
                shutdown.await;
                tracing::info!("shutting down");
                stopping.cancel();
            }
        };
        let drain = tokio::spawn({
            let stopping = stopping.clone();
            let downloads = downloads.clone();
            let grace = options.shutdown_grace;
            async move {
                stopping.cancelled().await;
                downloads.drain(grace).await
            }
        });
        let recover = options.recover_interval.map(|every| {
            let engine = engine.clone();
            let stopping = stopping.clone();
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(every);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                tick.tick().await;
                loop {
                    tokio::select! {
                        _ = stopping.cancelled() => return,
                        _ = tick.tick() => {}
                    }
                    match engine.recover().await {
                        Ok(r) if !r.resumed.is_empty() => {
                            tracing::info!(resumed = r.resumed.len(), "picked up abandoned carts");
                        }
                        Ok(_) => {}
                        Err(e) => tracing::warn!("recovering carts: {}", e.report()),
                    }
                    match engine.purge_deleted().await {
                        Ok(p) if !p.is_empty() => {
                            tracing::info!(purged = p.len(), "purged deleted carts");
                        }
                        Ok(_) => {}
                        Err(e) => tracing::warn!("purging deleted carts: {}", e.report()),
                    }
                }
            })
        });
        let served = crate::serve::serve(listener, app, options.header_read_timeout, signal).await;
        stopping.cancel();
        if let Some(task) = recover {
            task.abort();
        }
        let report = drain.await.unwrap_or_else(|e| {
            tracing::error!("download drain failed: {e}");
            DrainReport::default()
        });
        engine.shutdown().await;
        served?;
        Ok(report)
    }
}
