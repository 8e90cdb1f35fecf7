//! The time series cache as a service: the external API stand-in, the schedule every
//! `--interval` seconds, the fetch workers and the merged-series HTTP API, on embedded defaults
//! (a local history directory, in-memory tables and queue) or AWS (`--aws`: DynamoDB tables, an
//! S3 bucket and an SQS queue, from the standard AWS configuration).
//!
//! `cargo run -p examples --bin tscache -- --id sensor-1 --id sensor-2`, then
//! `curl 'http://127.0.0.1:8082/series/sensor-1'`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use examples::tscache::forecast::{DynamoForecast, ForecastStore, MemoryForecast};
use examples::tscache::history::{LocalObjects, Objects, S3Objects};
use examples::tscache::ids::{DynamoIdentifiers, IdentifierTable, MemoryIdentifiers};
use examples::tscache::pipeline::Cache;
use examples::tscache::queue::MemoryQueue;
use examples::tscache::sqs::SqsQueue;
use examples::tscache::{api, source, system_clock};

/// Run the time series cache (history and forecast merged into one series).
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Address of the merged-series API.
    #[arg(long, default_value = "127.0.0.1:8082")]
    addr: SocketAddr,
    /// Identifiers to add to the identifier table at start.
    #[arg(long = "id")]
    ids: Vec<String>,
    /// Seconds between schedule runs.
    #[arg(long, default_value_t = 300)]
    interval: u64,
    /// Local history directory (embedded default).
    #[arg(long, default_value = "./tscache-history")]
    history_dir: std::path::PathBuf,
    /// Use DynamoDB tables and an S3 bucket instead of the embedded defaults.
    #[arg(long)]
    aws: bool,
    /// With --aws: the identifier table, forecast table and history bucket.
    #[arg(long, default_value = "tscache-identifiers")]
    ids_table: String,
    /// With --aws: the forecast table.
    #[arg(long, default_value = "tscache-forecast")]
    forecast_table: String,
    /// With --aws: the history bucket.
    #[arg(long, default_value = "tscache-history")]
    bucket: String,
    /// With --aws: the SQS work queue (its dead-letter queue is `<name>-dlq`).
    #[arg(long, default_value = "tscache-work")]
    queue: String,
    /// Run one cycle and exit.
    #[arg(long)]
    once: bool,
    /// Fetch workers of this process (messages worked on at once).
    #[arg(long, default_value_t = 8)]
    workers: usize,
    /// Messages the in-process queue holds at most (embedded default).
    #[arg(long, default_value_t = examples::tscache::pipeline::QUEUE_BOUND)]
    queue_bound: usize,
    /// Longest wait of one receive, in seconds (SQS long polling, at most 20).
    #[arg(long, default_value_t = 20)]
    receive_wait: u64,
    /// With --aws: seconds a received message stays hidden between heartbeats.
    #[arg(long, default_value_t = 60)]
    visibility: u64,
    /// Receives before a failing message moves to the dead-letter queue.
    #[arg(long, default_value_t = 3)]
    max_receives: u32,
    /// Only the work queue on SQS (`--queue`), the rest on the embedded defaults.
    #[arg(long, conflicts_with = "aws")]
    sqs: bool,
    /// Adds this many generated identifiers (`syn-000000`...) before starting: the scale run
    /// (`--once --synthetic-ids 100000` prints wall time, peak RSS and SQS requests).
    #[arg(long, default_value_t = 0)]
    synthetic_ids: usize,
    /// Shifts this process's clock by this many seconds (to show several workers with different
    /// views of now writing the same identifiers).
    #[arg(long, default_value_t = 0, allow_hyphen_values = true)]
    clock_offset: i64,
}

/// Peak resident set size of this process in KiB (Linux `VmHWM`), when known.
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The identifier table, history objects, forecast table and forecast writer table.
type Backends = (
    Arc<dyn IdentifierTable>,
    Arc<dyn Objects>,
    Arc<dyn ForecastStore>,
    String,
);

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(Args::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tscache: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let clock: examples::tscache::Clock = if args.clock_offset == 0 {
        system_clock()
    } else {
        let offset = time::Duration::seconds(args.clock_offset);
        Arc::new(move || time::OffsetDateTime::now_utc().saturating_add(offset))
    };
    let external_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let external = format!("http://{}", external_listener.local_addr()?);
    let router = source::external_api(clock.clone());
    tokio::spawn(async move { axum::serve(external_listener, router).await });

    let (ids, objects, forecast, table): Backends = if args.aws {
        let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        let ddb = aws_sdk_dynamodb::Client::new(&config);
        (
            Arc::new(DynamoIdentifiers::new(ddb.clone(), &args.ids_table)),
            Arc::new(S3Objects::new(&config, &args.bucket)),
            Arc::new(DynamoForecast::new(ddb, &args.forecast_table)),
            args.forecast_table.clone(),
        )
    } else {
        (
            Arc::new(MemoryIdentifiers::default()),
            Arc::new(LocalObjects::new(&args.history_dir)),
            Arc::new(MemoryForecast::default()),
            "forecast".to_owned(),
        )
    };
    let mut cache = Cache::new(ids, objects, forecast, table, external, clock)?;
    cache.workers = args.workers.max(1);
    cache.receive_wait = Duration::from_secs(args.receive_wait);
    let mut sqs = None;
    if args.aws || args.sqs {
        let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        let queue = SqsQueue::create(
            aws_sdk_sqs::Client::new(&config),
            &args.queue,
            args.max_receives,
            Duration::from_secs(args.visibility),
        )
        .await?;
        sqs = Some(queue.clone());
        cache = cache.with_queue(Arc::new(queue));
    } else {
        cache = cache.with_queue(Arc::new(MemoryQueue::new(
            args.queue_bound,
            args.max_receives,
        )));
    }
    let cache = Arc::new(cache);
    for id in &args.ids {
        cache.ids().add(id).await?;
    }
    for i in 0..args.synthetic_ids {
        cache.ids().add(&format!("syn-{i:06}")).await?;
    }
    if args.once {
        let started = std::time::Instant::now();
        let report = cache.run_cycle().await;
        let closed = cache
            .close(tokio::time::Instant::now() + Duration::from_secs(30))
            .await;
        let wall = started.elapsed();
        let report = report?;
        closed?;
        let ids = report.enqueued.max(1) as f64;
        let sqs_line = sqs.as_ref().map_or_else(
            || "queue in process".to_owned(),
            |q| {
                let r = q.requests();
                let n = |c: &std::sync::atomic::AtomicU64| c.load(std::sync::atomic::Ordering::Relaxed);
                format!(
                    "SQS requests {} ({:.3} per identifier: send {}, receive {}, delete {}, visibility {}, other {})",
                    r.total(),
                    r.total() as f64 / ids,
                    n(&r.send),
                    n(&r.receive),
                    n(&r.delete),
                    n(&r.visibility),
                    n(&r.other),
                )
            },
        );
        println!(
            "cycle: enqueued {}, done {}, failed {}, dead letters {}; wall {:.2} s ({:.0} identifiers/s); peak RSS {}; {sqs_line}",
            report.enqueued,
            report.done,
            report.failed,
            report.dead_letters.len(),
            wall.as_secs_f64(),
            report.enqueued as f64 / wall.as_secs_f64().max(1e-9),
            peak_rss_kib().map_or_else(
                || "n/a".to_owned(),
                |k| format!("{:.1} MiB", k as f64 / 1024.0)
            ),
        );
        for failure in report.failures.iter().take(10) {
            eprintln!("failure: {failure}");
        }
        // With SQS, other processes may do some of this one's identifiers (and it some of theirs).
        let undone = sqs.is_none() && report.done != report.enqueued;
        if undone || !report.dead_letters.is_empty() {
            return Err(format!(
                "{} of {} identifiers not done",
                report.enqueued - report.done.min(report.enqueued),
                report.enqueued
            )
            .into());
        }
        return Ok(());
    }
    let listener = tokio::net::TcpListener::bind(args.addr).await?;
    println!(
        "merged series API on http://{0}/series/{{identifier}}, progress on http://{0}/status",
        listener.local_addr()?
    );
    let worker = cache.clone();
    let interval = Duration::from_secs(args.interval.max(1));
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(interval);
        loop {
            tick.tick().await;
            // The cycle logs its own progress and outcome.
            if let Err(e) = worker.run_cycle().await {
                tracing::error!("cycle failed: {e}");
            }
        }
    });
    axum::serve(listener, api::router(cache.clone()))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    cache
        .close(tokio::time::Instant::now() + Duration::from_secs(30))
        .await?;
    Ok(())
}
