//! A cart server that Pacifica Cartd clients can use unchanged.
//!
//! `cargo run -p examples --bin cart-server` serves on `127.0.0.1:8081` with everything under
//! `./cartd` (volume, SQLite store, archive directory). The original's environment variables
//! work (`VOLUME_PATH`, `LRU_BUFFER_TIME`, `ARCHIVE_INTERFACE_URL`); `--help` lists the rest.
//! Ctrl-C or SIGTERM stops it gracefully; unfinished carts resume at the next start.

use clap::Parser;
use examples::cart::{CartConfig, CartServer};

/// Serve the Pacifica Cartd HTTP API on cart-core.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    #[command(flatten)]
    config: CartConfig,
    /// Log filter (`info`, `debug`, ...).
    #[arg(long, env = "LOG_LEVEL", default_value = "info")]
    log_level: String,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(args.log_level.as_str())
        .with_writer(std::io::stderr)
        .init();
    match run(&args.config).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            let mut message = e.to_string();
            let mut cause = std::error::Error::source(&e);
            while let Some(c) = cause {
                message.push_str(&format!(": {c}"));
                cause = c.source();
            }
            eprintln!("cart-server: {message}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(config: &CartConfig) -> Result<(), examples::cart::Error> {
    let server = CartServer::from_config(config).await?;
    tracing::info!(
        "Pacifica Cartd API on http://{}/ (volume {}, store {})",
        server.local_addr(),
        config.volume_path.display(),
        config.store
    );
    let report = server.run(stop_signal()).await?;
    tracing::info!(
        in_flight = report.in_flight,
        cut = report.cut,
        "stopped; unfinished carts resume at the next start"
    );
    Ok(())
}

/// Ctrl-C, or SIGTERM on Unix.
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(e) => {
                tracing::warn!("cannot listen for SIGTERM: {e}");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
