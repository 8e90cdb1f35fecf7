//! Load run of the cart server on loopback: many concurrent carts of small files.
//!
//! `cargo run --release -p examples --bin cart-load -- --carts 100 --files 10` starts a cart
//! server in this process (temporary volume, SQLite store and archive directory), posts the
//! carts all at once, polls `HEAD` until each is ready, downloads every tar and checks every
//! member byte for byte, deletes the carts, and prints carts per second and peak memory.
//! With `--url http://127.0.0.1:8081 --archive-dir DIR` it targets a running server whose
//! local archive directory is `DIR` (the files are written there first).
//!
//! Slow-reader mode, `--slow-readers 600`: one ready cart of `--slow-file-mb` MiB is downloaded
//! by that many clients reading `--slow-rate` bytes a second (1 KiB/s by default) for
//! `--slow-seconds`, while a steady probe (every 200 ms) times a `HEAD` of that cart, a `POST`
//! of a new small cart, and how long that cart takes to be ready. It prints the probe latencies (p50, p99, max), timeouts, and the
//! server's peak thread count (this process, or `--server-pid` with `--url`).

use clap::Parser;
use examples::cart::{CartConfig, CartServer};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Drive a cart server with concurrent carts and report throughput and peak memory.
#[derive(Debug, Parser)]
struct Args {
    /// Carts posted at once.
    #[arg(long, default_value_t = 100)]
    carts: usize,
    /// Files per cart.
    #[arg(long, default_value_t = 10)]
    files: usize,
    /// Bytes per file.
    #[arg(long, default_value_t = 4096)]
    file_size: usize,
    /// Pre-build the tars (`"bundle": true`).
    #[arg(long)]
    bundle: bool,
    /// A running server to target instead of starting one (needs `--archive-dir`).
    #[arg(long, requires = "archive_dir")]
    url: Option<String>,
    /// The target server's local archive directory.
    #[arg(long)]
    archive_dir: Option<PathBuf>,
    /// Carts the in-process server works on at once.
    #[arg(long, default_value_t = 16)]
    max_concurrent_carts: usize,
    /// Cart store of the in-process server (default: the embedded SQLite file, as the server).
    #[arg(long)]
    store: Option<String>,
    /// Longest time to wait for all carts, in seconds.
    #[arg(long, default_value_t = 300)]
    timeout: u64,
    /// Slow-reader mode: this many clients download one cart slowly (0: off).
    #[arg(long, default_value_t = 0)]
    slow_readers: usize,
    /// Bytes per second each slow reader takes.
    #[arg(long, default_value_t = 1024)]
    slow_rate: usize,
    /// How long the slow readers read (and the probe runs), in seconds.
    #[arg(long, default_value_t = 20)]
    slow_seconds: u64,
    /// Size of the slowly downloaded cart's file, in MiB.
    #[arg(long, default_value_t = 16)]
    slow_file_mb: usize,
    /// With `--url`: the server's process id, to report its thread count.
    #[arg(long)]
    server_pid: Option<u32>,
}

type Failure = Box<dyn std::error::Error + Send + Sync>;

fn fail(msg: impl Into<String>) -> Failure {
    msg.into().into()
}

/// Peak resident memory of this process (Linux `VmHWM`), in KiB.
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn file_bytes(n: usize, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len);
    let mut block = Sha256::digest(n.to_le_bytes());
    while out.len() < len {
        out.extend_from_slice(&block);
        block = Sha256::digest(block);
    }
    out.truncate(len);
    out
}

struct Plan {
    /// (archive id, contents) of every distinct file.
    files: Vec<(String, Vec<u8>)>,
}

impl Plan {
    fn write(&self, dir: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(dir.join("load"))?;
        for (id, data) in &self.files {
            std::fs::write(dir.join(id), data)?;
        }
        Ok(())
    }
    fn request(&self, cart: usize, count: usize, bundle: bool) -> String {
        let fileids: Vec<serde_json::Value> = (0..count)
            .map(|i| {
                let (id, data) = &self.files[(cart + i) % self.files.len()];
                serde_json::json!({
                    "id": id,
                    "path": format!("c{cart}/f{i}.bin"),
                    "hashtype": "sha256",
                    "hashsum": format!("{:x}", Sha256::digest(data)),
                })
            })
            .collect();
        serde_json::json!({ "fileids": fileids, "bundle": bundle }).to_string()
    }
}

async fn one_cart(
    http: &reqwest::Client,
    base: &str,
    plan: &Plan,
    cart: usize,
    args: &Args,
) -> Result<(), Failure> {
    let uid = format!("load-{cart}-{}", std::process::id());
    let url = format!("{base}/{uid}");
    let r = http
        .post(&url)
        .body(plan.request(cart, args.files, args.bundle))
        .send()
        .await?;
    if r.status() != 201 {
        return Err(fail(format!("POST {uid}: {}", r.status())));
    }
    let deadline = Instant::now() + Duration::from_secs(args.timeout);
    loop {
        let h = http.head(&url).send().await?;
        let status = h
            .headers()
            .get("x-pacifica-status")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        match status.as_str() {
            "ready" => break,
            "waiting" | "staging" | "bundling" if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            other => {
                let msg = h.headers().get("x-pacifica-message").cloned();
                return Err(fail(format!("cart {uid}: status {other:?} {msg:?}")));
            }
        }
    }
    let r = http.get(format!("{url}?filename={uid}.tar")).send().await?;
    if r.status() != 200 {
        return Err(fail(format!("GET {uid}: {}", r.status())));
    }
    let tar = r.bytes().await?;
    let mut members = BTreeMap::new();
    for entry in tar::Archive::new(&tar[..]).entries()? {
        let mut entry = entry?;
        if entry.header().entry_type().is_file() {
            let path = entry.path()?.to_string_lossy().into_owned();
            let mut data = Vec::new();
            entry.read_to_end(&mut data)?;
            members.insert(path, data);
        }
    }
    if members.len() != args.files {
        return Err(fail(format!("{uid}: {} members", members.len())));
    }
    for i in 0..args.files {
        let want = &plan.files[(cart + i) % plan.files.len()].1;
        if members.get(&format!("{uid}/c{cart}/f{i}.bin")) != Some(want) {
            return Err(fail(format!("{uid}: member {i} differs")));
        }
    }
    let r = http.delete(&url).send().await?;
    if r.status() != 200 {
        return Err(fail(format!("DELETE {uid}: {}", r.status())));
    }
    Ok(())
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run(Args::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cart-load: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), Failure> {
    let distinct = (args.files * 2).max(1);
    let plan = Arc::new(Plan {
        files: (0..distinct)
            .map(|n| (format!("load/file{n}"), file_bytes(n, args.file_size)))
            .collect(),
    });
    let tmp = std::env::temp_dir().join(format!("cart-load-{}", std::process::id()));
    let (base, stop, server) = match &args.url {
        Some(url) => {
            let dir = args
                .archive_dir
                .as_deref()
                .ok_or_else(|| fail("--archive-dir needed"))?;
            plan.write(dir)?;
            (url.trim_end_matches('/').to_owned(), None, None)
        }
        None => {
            let mut config = CartConfig::in_dir(&tmp);
            config.port = 0;
            if let Some(store) = &args.store {
                config.store.clone_from(store);
            }
            config.max_concurrent_carts = std::num::NonZeroUsize::new(args.max_concurrent_carts)
                .ok_or_else(|| fail("--max-concurrent-carts must be > 0"))?;
            plan.write(&tmp.join("archive"))?;
            let server = CartServer::from_config(&config).await?;
            let base = format!("http://{}", server.local_addr());
            let (tx, rx) = tokio::sync::oneshot::channel::<()>();
            let task = tokio::spawn(server.run(async {
                let _ = rx.await;
            }));
            (base, Some(tx), Some(task))
        }
    };
    if args.slow_readers > 0 {
        let dir = match &args.archive_dir {
            Some(d) if args.url.is_some() => d.clone(),
            _ => tmp.join("archive"),
        };
        let result = slow::run(&args, &base, &dir).await;
        if let Some(tx) = stop {
            let _ = tx.send(());
        }
        if let Some(task) = server {
            task.await??;
        }
        let _ = std::fs::remove_dir_all(&tmp);
        return result;
    }
    let args = Arc::new(args);
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(args.carts)
        .build()?;
    println!(
        "cart-load: {} carts x {} files x {} bytes against {base}{}{}",
        args.carts,
        args.files,
        args.file_size,
        if args.bundle { " (bundled)" } else { "" },
        match (&args.url, &args.store) {
            (None, Some(store)) => format!(" (store {store})"),
            (None, None) => " (store SQLite)".to_owned(),
            (Some(_), _) => String::new(),
        }
    );
    let started = Instant::now();
    let tasks: Vec<_> = (0..args.carts)
        .map(|cart| {
            let (http, base, plan, args) = (
                http.clone(),
                base.clone(),
                Arc::clone(&plan),
                Arc::clone(&args),
            );
            tokio::spawn(async move { one_cart(&http, &base, &plan, cart, &args).await })
        })
        .collect();
    let mut errors = Vec::new();
    for t in tasks {
        match t.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => errors.push(e.to_string()),
            Err(e) => errors.push(e.to_string()),
        }
    }
    let elapsed = started.elapsed();
    if let Some(tx) = stop {
        let _ = tx.send(());
    }
    if let Some(task) = server {
        task.await??;
    }
    let _ = std::fs::remove_dir_all(&tmp);
    let ok = args.carts - errors.len();
    println!(
        "cart-load: {ok}/{} carts complete, {} errors, {:.2} s, {:.1} carts/s, peak RSS {} (this process{})",
        args.carts,
        errors.len(),
        elapsed.as_secs_f64(),
        ok as f64 / elapsed.as_secs_f64(),
        peak_rss_kib().map_or_else(
            || "unknown".to_owned(),
            |k| format!("{:.1} MiB", k as f64 / 1024.0)
        ),
        if args.url.is_none() {
            ", server included"
        } else {
            ""
        }
    );
    if let Some(first) = errors.first() {
        return Err(fail(format!(
            "{} carts failed; first: {first}",
            errors.len()
        )));
    }
    Ok(())
}

/// Slow-reader mode: many slow downloads, and a steady probe that must not notice them.
mod slow {
    use super::{Args, Failure, fail, file_bytes};
    use std::net::SocketAddr;
    use std::path::Path;
    use std::time::{Duration, Instant};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// Threads of process `pid` (Linux), or of this process.
    fn threads(pid: Option<u32>) -> Option<u64> {
        let path = pid.map_or_else(
            || "/proc/self/status".to_owned(),
            |p| format!("/proc/{p}/status"),
        );
        let status = std::fs::read_to_string(path).ok()?;
        let line = status.lines().find(|l| l.starts_with("Threads:"))?;
        line.split_whitespace().nth(1)?.parse().ok()
    }

    async fn reader(addr: SocketAddr, path: String, rate: usize, stop: Instant) -> usize {
        let Ok(socket) = tokio::net::TcpSocket::new_v4() else {
            return 0;
        };
        // A small receive window, so the server really waits for this client.
        let _ = socket.set_recv_buffer_size(4096);
        let Ok(mut stream) = socket.connect(addr).await else {
            return 0;
        };
        let head = format!("GET {path} HTTP/1.1\r\nHost: load\r\n\r\n");
        if stream.write_all(head.as_bytes()).await.is_err() {
            return 0;
        }
        let mut buf = vec![0u8; rate.max(1)];
        let mut total = 0;
        while Instant::now() < stop {
            let read = tokio::time::timeout(Duration::from_secs(1), stream.read(&mut buf)).await;
            match read {
                Ok(Ok(0)) | Ok(Err(_)) => break,
                Ok(Ok(n)) => total += n,
                Err(_) => continue,
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        total
    }

    fn percentile(sorted: &[Duration], p: f64) -> Duration {
        if sorted.is_empty() {
            return Duration::ZERO;
        }
        let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
        sorted.get(i).copied().unwrap_or_default()
    }

    fn summary(name: &str, mut v: Vec<Duration>) -> String {
        v.sort_unstable();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        format!(
            "{name} p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({} probes)",
            ms(percentile(&v, 0.5)),
            ms(percentile(&v, 0.99)),
            ms(v.last().copied().unwrap_or_default()),
            v.len()
        )
    }

    async fn wait_ready(http: &reqwest::Client, url: &str) -> Result<(), Failure> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let h = http.head(url).send().await?;
            let status = h
                .headers()
                .get("x-pacifica-status")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned();
            match status.as_str() {
                "ready" => return Ok(()),
                "waiting" | "staging" | "bundling" if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                other => return Err(fail(format!("{url}: status {other:?}"))),
            }
        }
    }

    pub(super) async fn run(args: &Args, base: &str, archive: &Path) -> Result<(), Failure> {
        let size = args.slow_file_mb << 20;
        std::fs::create_dir_all(archive.join("load"))?;
        std::fs::write(archive.join("load/slow.bin"), file_bytes(1, size))?;
        std::fs::write(archive.join("load/probe.bin"), b"probe")?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()?;
        let tag = std::process::id();
        let uid = format!("slow-{tag}");
        let url = format!("{base}/{uid}");
        let body = r#"{"fileids": [{"id": "load/slow.bin", "path": "slow.bin"}]}"#;
        let r = http.post(&url).body(body).send().await?;
        if r.status() != 201 {
            return Err(fail(format!("POST {uid}: {}", r.status())));
        }
        wait_ready(&http, &url).await?;
        let addr: SocketAddr = base
            .trim_start_matches("http://")
            .parse()
            .map_err(|e| fail(format!("{base}: {e}")))?;
        println!(
            "cart-load: {} slow readers at {} B/s on a {} MiB cart for {} s against {base}",
            args.slow_readers, args.slow_rate, args.slow_file_mb, args.slow_seconds
        );
        let threads_before = threads(args.server_pid);
        let stop = Instant::now() + Duration::from_secs(args.slow_seconds);
        let readers: Vec<_> = (0..args.slow_readers)
            .map(|_| {
                let path = format!("/{uid}?filename=slow.tar");
                tokio::spawn(reader(addr, path, args.slow_rate, stop))
            })
            .collect();
        let (mut heads, mut posts, mut readies) = (Vec::new(), Vec::new(), Vec::new());
        let mut failures = 0usize;
        let mut peak_threads = threads_before.unwrap_or(0);
        let mut n = 0u64;
        while Instant::now() < stop {
            let t = Instant::now();
            match http.head(&url).send().await {
                Ok(r) if r.status() == 204 => heads.push(t.elapsed()),
                _ => failures += 1,
            }
            let t = Instant::now();
            let probe = format!("{base}/probe-{tag}-{n}");
            let body = r#"{"fileids": [{"id": "load/probe.bin", "path": "p"}]}"#;
            match http.post(&probe).body(body).send().await {
                Ok(r) if r.status() == 201 => {
                    posts.push(t.elapsed());
                    // Staging the probe's file needs the server's async file I/O too.
                    match wait_ready(&http, &probe).await {
                        Ok(()) => readies.push(t.elapsed()),
                        Err(_) => failures += 1,
                    }
                }
                _ => failures += 1,
            }
            n += 1;
            peak_threads = peak_threads.max(threads(args.server_pid).unwrap_or(0));
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let mut served = 0;
        for r in readers {
            if r.await.unwrap_or(0) > 0 {
                served += 1;
            }
        }
        println!("cart-load: probe {}", summary("HEAD", heads));
        println!("cart-load: probe {}", summary("POST", posts));
        println!("cart-load: probe {}", summary("POST until ready", readies));
        println!(
            "cart-load: {failures} failed or timed-out probes (30 s timeout); {served}/{} readers \
             received data; server threads: {} before, peak {peak_threads}{}",
            args.slow_readers,
            threads_before.map_or_else(|| "unknown".to_owned(), |t| t.to_string()),
            if args.url.is_none() {
                " (this process, server included)"
            } else {
                ""
            }
        );
        Ok(())
    }
}
