//! A load run of the Haystack server on loopback: imports a generated store of `--entities`
//! entities into a temporary local store, serves it, and sends `read` requests with a filter from
//! `--concurrency` clients for `--seconds` (bounded: at most `--max-requests`). Prints requests
//! per second and latency percentiles.
//!
//! `cargo run --release -p examples --bin haystack-load -- --entities 100000`
//!
//! With `--auth` it runs twice on the same data, one run after the other: first without
//! authentication, then behind SCRAM authentication with every request carrying a bearer token
//! (the client logs in once, as a real client does), and prints both rates and their ratio.
//!
//! With `--url BASE`, it loads a server that is already running instead (ours or a peer, such
//! as rusty-haystack-server under `http://127.0.0.1:8080/api`): for each `--read-filter` (by
//! default the four filters of issue #24) it prints the rows one `read` returns, then POSTs
//! `read` with a Zinc request grid from `--concurrency` connections for `--seconds` and prints
//! one table line (requests/s, p50, p99). `scripts/bench-haystack-peer` runs it on both.

use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use examples::haystack::auth::{Auth, AuthConfig, Users};
use examples::haystack::client::Client;
use examples::haystack::{db::Db, server};
use examples::store::LocalStore;
use haystack_core::auth::scram;
use haystack_core::{Dict, Grid, Number, Ref, Value};

/// Load-test the Haystack server's `read` op on loopback.
#[derive(Debug, Parser)]
struct Args {
    /// Entities in the generated store.
    #[arg(long, default_value_t = 100_000)]
    entities: usize,
    /// Concurrent clients.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// How long to send requests.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Most requests in all.
    #[arg(long, default_value_t = 200_000)]
    max_requests: usize,
    /// Run the server's parsing and filter evaluation inline on the async workers instead of
    /// on the blocking pool (to compare the two in one build).
    #[arg(long)]
    inline: bool,
    /// Also measure the same reads behind authentication (bearer token on every request).
    #[arg(long)]
    auth: bool,
    /// The filter each request reads with.
    #[arg(long, default_value = "point and siteRef==@s42 and curVal > 40°F")]
    filter: String,
    /// Load the server already running at this base URL (`read` is `BASE/read`) instead of
    /// generating and serving a store.
    #[arg(long, value_name = "BASE")]
    url: Option<String>,
    /// With `--url`: the filters to measure, one run each (default: the four of issue #24).
    #[arg(long = "read-filter", value_name = "FILTER")]
    read_filters: Vec<String>,
    /// With `--url`: the name of the server in the table.
    #[arg(long, default_value = "server")]
    label: String,
}

/// `--url`: one table line per filter against a running server.
async fn load_url(args: &Args, base: &str) -> Result<(), Box<dyn std::error::Error>> {
    use examples::haystack::load;
    let filters: Vec<String> = if args.read_filters.is_empty() {
        load::PEER_FILTERS.iter().map(|f| f.to_string()).collect()
    } else {
        args.read_filters.clone()
    };
    let client = reqwest::Client::new();
    for filter in &filters {
        let rows = match load::read_once(&client, base, filter).await {
            Ok(grid) => grid.len().to_string(),
            Err(e) => {
                eprintln!("{}: {filter}: {e}", args.label);
                "error".to_owned()
            }
        };
        let r = load::run(
            base,
            filter,
            args.concurrency,
            Duration::from_secs(args.seconds),
            args.max_requests,
        )
        .await;
        println!(
            "| {} | `{}` | {} | {:.0} | {:.2?} | {:.2?} | {} |",
            args.label,
            filter,
            rows,
            r.per_second(),
            r.percentile(0.5),
            r.percentile(0.99),
            r.errors
        );
    }
    Ok(())
}

fn generate(entities: usize) -> Grid {
    let mut rows = Vec::with_capacity(entities);
    let sites = (entities / 100).max(1);
    for i in 0..entities {
        let mut d = Dict::new();
        let site = i % sites;
        let _ = d.insert("id", Ref::with_dis(format!("p{i}"), format!("Point {i}")));
        let _ = d.insert("dis", format!("Point {i}"));
        let _ = d.insert("point", Value::Marker);
        let _ = d.insert("his", Value::Marker);
        let _ = d.insert(if i % 2 == 0 { "temp" } else { "humidity" }, Value::Marker);
        let _ = d.insert(
            "siteRef",
            Ref::with_dis(format!("s{site}"), format!("Site {site}")),
        );
        let _ = d.insert(
            "equipRef",
            Ref::new(format!("e{}", i / 10)).unwrap_or_else(|_| Ref::with_dis("e", "e")),
        );
        let _ = d.insert("curVal", Number::with_unit((i % 100) as f64, "°F"));
        let _ = d.insert("tz", "New_York");
        rows.push(d);
    }
    Grid::from_dicts(rows.iter())
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    if let Some(base) = &args.url {
        return load_url(&args, base.trim_end_matches('/')).await;
    }
    let dir = std::env::temp_dir().join(format!("haystack-load-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let source = dir.join("entities.zinc");
    let started = Instant::now();
    std::fs::write(&source, haystack_zinc::to_string(&generate(args.entities)))?;
    let store = Arc::new(LocalStore::open(dir.join("store"))?);
    let db = Arc::new(Db::new(store.clone(), store));
    db.import(&source.to_string_lossy(), &|_| {}).await?;
    db.snapshot(None).await?; // warm the parsed snapshot
    println!(
        "generated and imported {} entities in {:.1?}",
        args.entities,
        started.elapsed()
    );

    println!(
        "server work {}",
        if args.inline {
            "inline on the async workers"
        } else {
            "on the blocking pool behind a semaphore"
        }
    );
    let plain = phase("without auth", &args, db.clone(), None).await?;
    if args.auth {
        let mut users = Users::default();
        users.add("load", "load-password", scram::MIN_ITERATIONS);
        let auth = Arc::new(Auth::new(users, AuthConfig::default()));
        let with = phase("with SCRAM auth (bearer token)", &args, db, Some(auth)).await?;
        println!(
            "authenticated reads: {:.0} requests/s vs {:.0} without auth ({:.2}x)",
            with,
            plain,
            with / plain.max(f64::MIN_POSITIVE)
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// One load run against a fresh server over `db`; returns requests per second.
async fn phase(
    name: &str,
    args: &Args,
    db: Arc<Db>,
    auth: Option<Arc<Auth>>,
) -> Result<f64, Box<dyn std::error::Error>> {
    println!("-- {name}");
    let with_auth = auth.is_some();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let config = server::ServerConfig {
        offload: !args.inline,
        ..Default::default()
    };
    let app = server::router_with_auth(db, time::OffsetDateTime::now_utc, config, auth);
    tokio::spawn(async move { axum::serve(listener, app).await });
    let mut headers = reqwest::header::HeaderMap::new();
    if with_auth {
        let session = Client::open(&format!("http://{addr}"), "load", "load-password").await?;
        let token = session.token().unwrap_or_default();
        headers.insert(
            reqwest::header::AUTHORIZATION,
            reqwest::header::HeaderValue::from_str(&format!("BEARER authToken={token}"))?,
        );
    }
    let client = reqwest::Client::builder()
        .default_headers(headers)
        .build()?;
    let url = reqwest::Url::parse_with_params(
        &format!("http://{addr}/read"),
        &[("filter", args.filter.as_str())],
    )?;
    let first = client.get(url.clone()).send().await?.text().await?;
    let matched = haystack_zinc::from_str(&first)?.len();
    println!("filter `{}` matches {matched} rows", args.filter);

    let deadline = Instant::now() + Duration::from_secs(args.seconds);
    let budget = Arc::new(std::sync::atomic::AtomicUsize::new(args.max_requests));
    let mut tasks = tokio::task::JoinSet::new();
    let run_start = Instant::now();
    for _ in 0..args.concurrency.max(1) {
        let (client, url, budget) = (client.clone(), url.clone(), budget.clone());
        tasks.spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0usize;
            while Instant::now() < deadline
                && budget
                    .fetch_update(
                        std::sync::atomic::Ordering::SeqCst,
                        std::sync::atomic::Ordering::SeqCst,
                        |b| b.checked_sub(1),
                    )
                    .is_ok()
            {
                let t = Instant::now();
                match client.get(url.clone()).send().await {
                    Ok(resp) if resp.status().is_success() => {
                        if resp.bytes().await.is_err() {
                            errors += 1;
                        }
                    }
                    _ => errors += 1,
                }
                latencies.push(t.elapsed());
            }
            (latencies, errors)
        });
    }
    // One more client asks `about` (no filter work) in a loop meanwhile: its latency shows
    // whether the heavy reads starve the async workers.
    let probe = {
        let (client, about) = (client.clone(), format!("http://{addr}/about"));
        tokio::spawn(async move {
            let mut latencies = Vec::new();
            while Instant::now() < deadline {
                let t = Instant::now();
                if let Ok(resp) = client.get(&about).send().await {
                    let _ = resp.bytes().await;
                }
                latencies.push(t.elapsed());
            }
            latencies
        })
    };
    let mut all = Vec::new();
    let mut errors = 0;
    while let Some(joined) = tasks.join_next().await {
        let (l, e) = joined?;
        all.extend(l);
        errors += e;
    }
    let elapsed = run_start.elapsed();
    let rate = all.len() as f64 / elapsed.as_secs_f64();
    all.sort();
    println!(
        "{} requests in {:.1?} from {} clients: {:.0} requests/s, {} errors; latency p50 {:.2?}, p90 {:.2?}, p99 {:.2?}, max {:.2?}",
        all.len(),
        elapsed,
        args.concurrency,
        rate,
        errors,
        percentile(&all, 0.5),
        percentile(&all, 0.9),
        percentile(&all, 0.99),
        all.last().copied().unwrap_or_default()
    );
    let mut about = probe.await?;
    about.sort();
    println!(
        "meanwhile {} `about` requests: latency p50 {:.2?}, p99 {:.2?}, max {:.2?}",
        about.len(),
        percentile(&about, 0.5),
        percentile(&about, 0.99),
        about.last().copied().unwrap_or_default()
    );
    Ok(rate)
}
