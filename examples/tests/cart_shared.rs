//! Three real `cart-server` processes on one DynamoDB table and one S3 bucket (the emulator),
//! the real Pacifica archive interface behind a counting proxy:
//! - a cart posted to one server is downloaded byte-identical from the other two, including a
//!   ranged `GET`;
//! - the server staging a cart is killed (SIGKILL) mid-staging and another server finishes it;
//! - no file is pulled from the archive twice: every archive `GET` whose body was sent to the
//!   end is counted per file, and each file has exactly one (the one pull a kill cuts short
//!   is counted apart, as started but not finished).
//!
//! That a server whose lease was taken over cannot mark the cart ready is shown at the engine
//! level by `cart-core/tests/fencing.rs` (a server frozen past expiry).

#[path = "../../support/emulator.rs"]
mod emulator;

mod cart_server_support;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use cart_server_support::{content, request, sha256_hex, tar_files};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Pieces an archive `GET` body is sent in, and the pause before each: pulls take long enough
/// for a server to be killed in the middle of one.
const BODY_PIECES: usize = 5;
const PIECE_PAUSE: Duration = Duration::from_millis(80);

/// Per file id: archive `GET`s started, and those whose body was sent to the end.
#[derive(Debug, Default)]
struct Counts {
    started: HashMap<String, u32>,
    finished: HashMap<String, u32>,
}

#[derive(Clone)]
struct Proxy {
    upstream: String,
    http: reqwest::Client,
    counts: Arc<Mutex<Counts>>,
    /// The archive interface is not safe for concurrent requests: one at a time.
    serial: Arc<tokio::sync::Mutex<()>>,
}

fn id_of(path: &str) -> String {
    path.trim_start_matches('/').to_owned()
}

async fn forward(State(p): State<Proxy>, req: Request) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let mut headers = req.headers().clone();
    headers.remove(axum::http::header::HOST);
    let body = match axum::body::to_bytes(req.into_body(), 1 << 20).await {
        Ok(b) => b,
        Err(_) => return StatusCode::BAD_REQUEST.into_response(),
    };
    let is_get = method == axum::http::Method::GET;
    let (status, out_headers, data) = {
        let _one = p.serial.lock().await;
        let sent = p
            .http
            .request(method, format!("{}{path}", p.upstream))
            .headers(headers)
            .body(body)
            .send()
            .await;
        let resp = match sent {
            Ok(r) => r,
            Err(_) => return StatusCode::BAD_GATEWAY.into_response(),
        };
        let status = resp.status();
        let headers: HeaderMap = resp.headers().clone();
        match resp.bytes().await {
            Ok(d) => (status, headers, d),
            Err(_) => return StatusCode::BAD_GATEWAY.into_response(),
        }
    };
    let mut builder = Response::builder().status(status);
    for (k, v) in &out_headers {
        if k != axum::http::header::TRANSFER_ENCODING {
            builder = builder.header(k, v);
        }
    }
    if !(is_get && status.is_success()) {
        return builder
            .body(Body::from(data))
            .unwrap_or_else(|_| StatusCode::BAD_GATEWAY.into_response());
    }
    let id = id_of(&path);
    *p.counts
        .lock()
        .unwrap()
        .started
        .entry(id.clone())
        .or_default() += 1;
    let piece = data.len().div_ceil(BODY_PIECES).max(1);
    let pieces: Vec<Bytes> = data.chunks(piece).map(Bytes::copy_from_slice).collect();
    let counts = Arc::clone(&p.counts);
    let state = Some((pieces.into_iter(), counts, id));
    let body = futures::stream::unfold(state, |state| async move {
        let (mut pieces, counts, id) = state?;
        tokio::time::sleep(PIECE_PAUSE).await;
        match pieces.next() {
            Some(b) => Some((Ok::<Bytes, std::io::Error>(b), Some((pieces, counts, id)))),
            None => {
                // Polled past the last piece: the whole body was taken by the connection.
                *counts.lock().unwrap().finished.entry(id).or_default() += 1;
                None
            }
        }
    });
    builder
        .body(Body::from_stream(body))
        .unwrap_or_else(|_| StatusCode::BAD_GATEWAY.into_response())
}

async fn start_proxy(upstream: &str) -> (String, Arc<Mutex<Counts>>) {
    let counts = Arc::new(Mutex::new(Counts::default()));
    let proxy = Proxy {
        upstream: upstream.trim_end_matches('/').to_owned(),
        http: reqwest::Client::new(),
        counts: Arc::clone(&counts),
        serial: Arc::new(tokio::sync::Mutex::new(())),
    };
    let app = axum::Router::new().fallback(forward).with_state(proxy);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/"), counts)
}

/// A `cart-server` process.
struct Server {
    node: String,
    base: String,
    child: tokio::process::Child,
}

async fn start_server(
    node: &str,
    dir: &std::path::Path,
    archive: &str,
    table: &str,
    bundles: &str,
) -> Server {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_cart-server"))
        .args(["--port", &port.to_string(), "--node-id", node])
        .arg("--volume-path")
        .arg(dir.join(node))
        .args(["--archive-interface-url", archive])
        .args(["--store", &format!("dynamodb://{table}")])
        .args(["--bundles", bundles])
        .args(["--lease-ttl", "4", "--recover-interval", "1"])
        .args(["--max-concurrent-files", "1", "--deterministic-tar"])
        .args(["--log-level", "warn"])
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    for _ in 0..600 {
        if http.get(format!("{base}/")).send().await.is_ok() {
            return Server {
                node: node.to_owned(),
                base,
                child,
            };
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("cart-server {node} did not answer within 30 s");
}

fn header(r: &reqwest::Response, name: &str) -> String {
    r.headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

/// Polls `HEAD` on `base` until the cart is ready (bounded).
async fn wait_ready(http: &reqwest::Client, base: &str, uid: &str, within: Duration) {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let r = http.head(format!("{base}/{uid}")).send().await.unwrap();
        let status = header(&r, "x-pacifica-status");
        let phase = header(&r, "x-cart-phase");
        if status == "ready" {
            return;
        }
        assert_ne!(
            status,
            "error",
            "{uid}: {}",
            header(&r, "x-pacifica-message")
        );
        assert!(
            tokio::time::Instant::now() < deadline,
            "{uid} not ready on {base} within {within:?} (phase {phase})"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The tar's top directory (its first entry; the default download name's stem).
fn top_of(tar_bytes: &[u8]) -> String {
    let mut archive = tar::Archive::new(tar_bytes);
    let first = archive.entries().unwrap().next().unwrap().unwrap();
    first
        .path()
        .unwrap()
        .to_str()
        .unwrap()
        .trim_end_matches('/')
        .to_owned()
}

async fn get(http: &reqwest::Client, url: &str, range: Option<&str>) -> (u16, Bytes) {
    let mut req = http.get(url);
    if let Some(r) = range {
        req = req.header("range", r);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.bytes().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_servers_share_one_table_and_one_bucket() {
    let test = "three_servers_share_one_table_and_one_bucket";
    let Some(config) = emulator::sdk_config(test).await else {
        return;
    };
    let upstream = match std::env::var("ARCHIVE_INTERFACE_URL") {
        Ok(u) if !u.trim().is_empty() => u,
        _ => {
            assert!(
                std::env::var_os("CI").is_none(),
                "{test}: ARCHIVE_INTERFACE_URL is not set: run `scripts/test`"
            );
            eprintln!("SKIPPED (needs the archive interface): {test}: run `scripts/test`");
            return;
        }
    };
    let http = reqwest::Client::new();
    let table = emulator::unique_name("carts");
    let store = cart_core::DynamoDbStore::new(aws_sdk_dynamodb::Client::new(&config), &table);
    store.create_table().await.unwrap();
    let bucket = emulator::unique_name("bundles");
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&config)
            .force_path_style(true)
            .build(),
    );
    s3.create_bucket().bucket(&bucket).send().await.unwrap();

    // Archive files, put straight into the archive interface (not through the proxy).
    let tag = format!(
        "{}-{}",
        std::process::id(),
        &sha256_hex(table.as_bytes())[..8]
    );
    let mut files: Vec<(String, String, Vec<u8>)> = Vec::new();
    for (cart, n) in [("shared", 4usize), ("killed", 6)] {
        for i in 0..n {
            let id = format!("{cart}-{tag}-{i}");
            let data = content(100 + i as u64 + n as u64 * 10, 20_000 + 7_000 * i);
            let r = http
                .put(format!("{}/{id}", upstream.trim_end_matches('/')))
                .header("content-type", "application/octet-stream")
                .header("last-modified", "Sun, 06 Nov 1994 08:49:37 GMT")
                .body(data.clone())
                .send()
                .await
                .unwrap();
            assert!(r.status().is_success(), "PUT {id}: {}", r.status());
            files.push((id, format!("dir{}/f{i}.bin", i % 2), data));
        }
    }
    let spec = |cart: &str| -> String {
        let picked: Vec<(&str, &str, &[u8])> = files
            .iter()
            .filter(|(id, _, _)| id.starts_with(&format!("{cart}-")))
            .map(|(id, p, d)| (id.as_str(), p.as_str(), d.as_slice()))
            .collect();
        request(&picked, true)
    };

    let (archive, counts) = start_proxy(&upstream).await;
    let dir = tempfile::tempdir().unwrap();
    let bundles = format!("s3://{bucket}/carts");
    let mut servers = Vec::new();
    for node in ["s0", "s1", "s2"] {
        servers.push(start_server(node, dir.path(), &archive, &table, &bundles).await);
    }

    // 1. Posted to s0, downloaded from s1 and s2, byte for byte, and a range of it.
    let r = http
        .post(format!("{}/shared", servers[0].base))
        .body(spec("shared"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    wait_ready(&http, &servers[1].base, "shared", Duration::from_secs(60)).await;
    let (c1, from_s1) = get(&http, &format!("{}/shared", servers[1].base), None).await;
    let (c2, from_s2) = get(&http, &format!("{}/shared", servers[2].base), None).await;
    assert_eq!((c1, c2), (200, 200));
    assert!(from_s1 == from_s2, "s1 and s2 served different tars");
    let top = top_of(&from_s1);
    let got = tar_files(&from_s1, &top);
    assert_eq!(got.len(), 4);
    for (id, path, data) in files.iter().filter(|f| f.0.starts_with("shared-")) {
        assert!(got[&format!("{top}/{path}")] == *data, "{id} differs");
    }
    let (c, part) = get(
        &http,
        &format!("{}/shared", servers[2].base),
        Some("bytes=1000-40999"),
    )
    .await;
    assert_eq!(c, 206);
    assert!(part[..] == from_s1[1000..41000], "the ranged GET differs");

    // 2. The server staging "killed" is killed after two of its six files, in the middle of
    //    pulling the third; another server finishes the cart.
    let r = http
        .post(format!("{}/killed", servers[0].base))
        .body(spec("killed"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let killed_ids: Vec<String> = files
        .iter()
        .filter(|f| f.0.starts_with("killed-"))
        .map(|f| f.0.clone())
        .collect();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let (done, third_started) = {
            let c = counts.lock().unwrap();
            let done = killed_ids
                .iter()
                .filter(|id| c.finished.get(*id).is_some_and(|n| *n > 0))
                .count();
            let started = killed_ids
                .iter()
                .filter(|id| c.started.get(*id).is_some_and(|n| *n > 0))
                .count();
            (done, started >= 3)
        };
        if done == 2 && third_started {
            break;
        }
        assert!(done < 3, "staging went past the point of the kill");
        assert!(
            tokio::time::Instant::now() < deadline,
            "staging did not start"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let uid = cart_core::CartUid::new("killed").unwrap();
    let (cart, _) = cart_core::CartStore::load(&store, &uid)
        .await
        .unwrap()
        .unwrap();
    let owner = cart.lease.expect("the cart is leased while staging").owner;
    let victim = servers.iter().position(|s| s.node == owner).unwrap();
    let mut killed = servers.remove(victim);
    killed.child.start_kill().unwrap();
    killed.child.wait().await.unwrap();
    wait_ready(&http, &servers[0].base, "killed", Duration::from_secs(90)).await;
    let (c, tar) = get(&http, &format!("{}/killed", servers[1].base), None).await;
    assert_eq!(c, 200);
    let top = top_of(&tar);
    let got = tar_files(&tar, &top);
    assert_eq!(got.len(), 6);
    for (id, path, data) in files.iter().filter(|f| f.0.starts_with("killed-")) {
        assert!(got[&format!("{top}/{path}")] == *data, "{id} differs");
    }

    // 3. No file was pulled twice: one finished pull per file, over both carts.
    let c = counts.lock().unwrap();
    let mut cut = 0;
    for (id, _, _) in &files {
        let finished = c.finished.get(id).copied().unwrap_or(0);
        let started = c.started.get(id).copied().unwrap_or(0);
        assert_eq!(
            finished, 1,
            "{id}: {finished} finished pulls ({started} started)"
        );
        cut += started - finished;
    }
    assert!(
        cut <= 1,
        "{cut} pulls were cut short; only the kill cuts one"
    );
    let started: u32 = c.started.values().sum();
    let finished: u32 = c.finished.values().sum();
    println!(
        "archive GETs: {started} started, {finished} finished, for {} files \
         (killed server: {owner})",
        files.len()
    );
}
