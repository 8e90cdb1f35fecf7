//! The Haystack HTTP API over a versioned store.
//!
//! `cargo run -p examples --bin haystack-server -- --db s3://bucket/carytown.zinc` (or
//! `HAYSTACK_DB=<url>`; `HAYSTACK_TS=<store url>` keeps the series in a separate store). The URL
//! names a dataset (`.../carytown.zinc`) or a store holding exactly one; one that names nothing
//! is an error at start. With `--sample`, an empty dataset is first filled with the sample site.

use std::net::SocketAddr;
use std::sync::Arc;

use clap::Parser;
use examples::haystack::{dataset, sample, server};

/// Serve the Haystack HTTP API (about, ops, formats, read, nav, hisRead) over a versioned store.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// The dataset to serve: s3://bucket[/prefix]/NAME.zinc or ./dir/NAME.zinc (or a store
    /// holding exactly one dataset).
    #[arg(long, env = "HAYSTACK_DB", default_value = "./haystack-db")]
    db: String,
    /// Store URL of the time series (defaults to the entity store).
    #[arg(long, env = "HAYSTACK_TS")]
    ts: Option<String>,
    /// Address to listen on.
    #[arg(long, env = "HAYSTACK_ADDR", default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// Import the generated sample site first when the store is empty.
    #[arg(long)]
    sample: bool,
    /// Seconds a client may take to send a request head, and a kept-alive connection may stay
    /// idle; then the connection is closed.
    #[arg(long, env = "HAYSTACK_HEADER_TIMEOUT", default_value_t = 30)]
    header_timeout: u64,
    /// Seconds a client may take to send its request body (slower senders get 408).
    #[arg(long, env = "HAYSTACK_BODY_TIMEOUT", default_value_t = 30)]
    body_timeout: u64,
    /// Requests parsed and evaluated at once on the blocking pool (default: twice the cores).
    #[arg(long, env = "HAYSTACK_CPU_WORKERS")]
    cpu_workers: Option<std::num::NonZeroUsize>,
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
    match run(args).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("haystack-server: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let db = dataset::open_for_serving(&args.db, args.ts.as_deref(), args.sample).await?;
    let db = Arc::new(db);
    tracing::info!(dataset = db.name(), "serving {}", args.db);
    if args.sample && !db.exists().await? {
        let dir = tempfile_dir()?;
        let site = sample::write_to(&dir, &sample::generate(time::OffsetDateTime::now_utc()))?;
        let report = db.import(&site.to_string_lossy(), &|_| {}).await?;
        tracing::info!(?report, "imported the sample site");
        let _ = std::fs::remove_dir_all(&dir);
    }
    let mut config = server::ServerConfig {
        body_timeout: std::time::Duration::from_secs(args.body_timeout.max(1)),
        ..Default::default()
    };
    if let Some(n) = args.cpu_workers {
        config.cpu_workers = n;
    }
    let listener = tokio::net::TcpListener::bind(args.addr).await?;
    // The first line on stdout names the bound address (useful with `--addr 127.0.0.1:0`).
    println!("listening on http://{}/", listener.local_addr()?);
    let app = server::router_with(db, time::OffsetDateTime::now_utc, config);
    let header_timeout = std::time::Duration::from_secs(args.header_timeout.max(1));
    examples::serve::serve(listener, app, header_timeout, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(())
}

fn tempfile_dir() -> std::io::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("haystack-sample-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
