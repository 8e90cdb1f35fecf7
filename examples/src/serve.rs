//! Accepting connections with timeouts, and stopping gracefully: the accept loop of the servers
//! (the cart server and the Haystack server).
//!
//! Each connection is served by hyper's HTTP/1.1 connection with a header-read timeout: a
//! client has `header_read_timeout` to send a request head, and the same timer runs while a
//! kept-alive connection waits idle for its next request, so idle and half-sent connections are
//! closed. Each server bounds request handling itself (the cart server with a whole-request
//! timeout, the Haystack server with a body timeout).

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Serves `app` on `listener` until `shutdown` completes; then stops accepting, asks every
/// connection to close after its current response, and waits for them.
pub async fn serve<F>(
    listener: TcpListener,
    app: Router,
    header_read_timeout: Duration,
    shutdown: F,
) -> std::io::Result<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    let (stop_tx, stop_rx) = watch::channel(false);
    // Every connection task holds a clone; `closed()` resolves when the last one ends.
    let (open_tx, open_rx) = watch::channel(());
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, remote) = tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        // Responses are written whole or in large chunks: without TCP_NODELAY, the last
        // segment of each waits for the client's delayed ACK (40 ms on Linux).
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(%remote, "TCP_NODELAY: {e}");
        }
        let service = TowerToHyperService::new(app.clone());
        let mut stop = stop_rx.clone();
        let open = open_rx.clone();
        tokio::spawn(async move {
            let mut builder = Builder::new(TokioExecutor::new());
            builder
                .http1()
                .timer(TokioTimer::new())
                .header_read_timeout(header_read_timeout);
            let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
            let mut conn = std::pin::pin!(conn);
            loop {
                tokio::select! {
                    result = conn.as_mut() => {
                        if let Err(e) = result {
                            tracing::debug!(%remote, "connection ended: {e}");
                        }
                        break;
                    }
                    changed = stop.changed() => {
                        conn.as_mut().graceful_shutdown();
                        if changed.is_err() {
                            // The server is gone; keep serving until the connection ends.
                            let _ = conn.as_mut().await;
                            break;
                        }
                    }
                }
            }
            drop(open);
        });
    }
    drop(listener);
    let _ = stop_tx.send(true);
    drop(open_rx);
    open_tx.closed().await;
    Ok(())
}
