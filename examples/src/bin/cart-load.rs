//! Load run of the cart server on loopback: many concurrent carts of small files.
//!
//! `cargo run --release -p examples --bin cart-load -- --carts 100 --files 10` starts a cart
//! server in this process (temporary volume, SQLite store and archive directory), posts the
//! carts all at once, polls `HEAD` until each is ready, downloads every tar and checks every
//! member byte for byte, deletes the carts, and prints carts per second and peak memory.
//! With `--url http://127.0.0.1:8081 --archive-dir DIR` it targets a running server whose
//! local archive directory is `DIR` (the files are written there first).

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
