//! Slow clients cannot stall the cart server: downloads are async streams that hold no
//! thread, so many clients reading at 1 KiB/s on a small blocking pool leave HEAD and POST
//! (and the staging work POST starts) answering; and over the download cap a GET gets 503 with
//! `Retry-After` instead of queueing.

mod cart_server_support;

use cart_core::{Engine, EngineConfig, LocalArchive, SqliteStore};
use cart_server_support::{Running, content, put, request};
use examples::cart::ServerOptions;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A client that sends `GET /{uid}` and then reads about `rate` bytes a second.
async fn slow_reader(addr: SocketAddr, uid: &str, rate: usize, stop: Instant) -> usize {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    // A small receive window, so the server really has to wait for this client.
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stream: TcpStream = socket.connect(addr).await.unwrap();
    let head = format!("GET /{uid}?filename=slow.tar HTTP/1.1\r\nHost: x\r\n\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; rate];
    let mut total = 0;
    while Instant::now() < stop {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => total += n,
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    total
}

/// A cart server on a small blocking pool (8 threads), with a ready cart `big` of 8 MiB.
async fn setup(dir: &std::path::Path, options: ServerOptions) -> (Running, Vec<u8>) {
    let archive = dir.join("archive");
    let big = content(5, 8 << 20);
    put(&archive, "big", &big);
    put(&archive, "small", b"small");
    let engine = Engine::builder(
        SqliteStore::open(dir.join("carts.db")).await.unwrap(),
        LocalArchive::new(&archive).unwrap(),
    )
    .volume(dir.join("volume"))
    .config(EngineConfig {
        poll_initial: Duration::from_millis(10),
        ..EngineConfig::default()
    })
    .build()
    .unwrap();
    let s = Running::on_engine(engine, options).await;
    assert_eq!(
        s.post("big", &request(&[("big", "big.bin", &big)], false))
            .await
            .status(),
        201
    );
    assert_eq!(s.wait_settled("big").await.1, "ready");
    (s, big)
}

fn addr(s: &Running) -> SocketAddr {
    s.base.trim_start_matches("http://").parse().unwrap()
}

#[test]
fn sixty_four_slow_readers_on_a_small_pool_do_not_stall_head_or_post() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(8)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let (s, _) = setup(dir.path(), ServerOptions::default()).await;
        let stop = Instant::now() + Duration::from_secs(6);
        let readers: Vec<_> = (0..64)
            .map(|_| tokio::spawn(slow_reader(addr(&s), "big", 1024, stop)))
            .collect();
        // Let every download start and fill its socket buffers.
        tokio::time::sleep(Duration::from_secs(2)).await;
        for i in 0..5 {
            let started = Instant::now();
            let (code, status, _) = s.cart_status("big").await;
            assert_eq!((code, status.as_str()), (204, "ready"));
            let uid = format!("probe-{i}");
            let r = s
                .post(&uid, &request(&[("small", "s", b"small")], false))
                .await;
            assert_eq!(r.status(), 201);
            // Staging goes through async file I/O on the same small pool.
            assert_eq!(s.wait_settled(&uid).await.1, "ready");
            let took = started.elapsed();
            assert!(
                took < Duration::from_secs(3),
                "HEAD + POST + staging took {took:?}"
            );
        }
        let mut got = Vec::new();
        for r in readers {
            got.push(r.await.unwrap());
        }
        // Every download was served (slowly) and none was finished: all were open at once.
        assert!(got.iter().all(|&n| n > 0), "{got:?}");
        assert!(got.iter().all(|&n| n < 8 << 20), "{got:?}");
        s.stop().await;
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_the_download_cap_a_get_is_503_with_retry_after() {
    let dir = tempfile::tempdir().unwrap();
    let options = ServerOptions {
        max_downloads: std::num::NonZeroUsize::new(4).unwrap(),
        shutdown_grace: Duration::from_millis(200),
        ..ServerOptions::default()
    };
    let (s, big) = setup(dir.path(), options).await;
    let stop = Instant::now() + Duration::from_secs(3);
    let readers: Vec<_> = (0..4)
        .map(|_| tokio::spawn(slow_reader(addr(&s), "big", 1024, stop)))
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let r = s.http.get(s.url("big")).send().await.unwrap();
    assert_eq!(r.status(), 503);
    assert_eq!(r.headers()["retry-after"], "5");
    let body: serde_json::Value = r.json().await.unwrap();
    assert!(
        body["message"].as_str().unwrap().contains("at most 4"),
        "{body}"
    );
    // HEAD and POST are not downloads: they still answer.
    assert_eq!(s.cart_status("big").await.0, 204);
    for r in readers {
        r.await.unwrap();
    }
    // The slots come back when the slow clients go.
    let mut status = 0;
    for _ in 0..100 {
        let r = s.http.get(s.url("big")).send().await.unwrap();
        status = r.status().as_u16();
        if status == 200 {
            assert!(r.bytes().await.unwrap().len() > big.len());
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(status, 200);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_sends_its_request_head_is_disconnected() {
    let dir = tempfile::tempdir().unwrap();
    let options = ServerOptions {
        header_read_timeout: Duration::from_millis(500),
        ..ServerOptions::default()
    };
    let (s, _) = setup(dir.path(), options).await;
    let started = Instant::now();
    let mut half = TcpStream::connect(addr(&s)).await.unwrap();
    half.write_all(b"GET /big HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), half.read_to_end(&mut buf)).await;
    assert!(read.is_ok(), "the half-sent request was never closed");
    assert!(started.elapsed() >= Duration::from_millis(400));
    // An idle kept-alive connection is closed too.
    let mut idle = TcpStream::connect(addr(&s)).await.unwrap();
    idle.write_all(b"HEAD /big HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), idle.read_to_end(&mut buf)).await;
    assert!(read.is_ok(), "the idle connection was never closed");
    assert!(String::from_utf8_lossy(&buf).starts_with("HTTP/1.1 204"));
    // The server still answers.
    assert_eq!(s.cart_status("big").await.0, 204);
    s.stop().await;
}
