//! End-to-end tests of the cart server with a real HTTP client against 127.0.0.1:0.

mod cart_server_support;

use cart_core::testing::{Behavior, MemoryArchive};
use cart_core::{Engine, EngineConfig, MemoryStore, SqliteStore};
use cart_server_support::{Running, content, put, request, sha256_hex, tar_files};
use examples::cart::{CartConfig, ServerOptions};
use futures::StreamExt;
use std::sync::Arc;
use std::time::Duration;

fn quick_options() -> ServerOptions {
    ServerOptions {
        shutdown_grace: Duration::from_secs(5),
        recover_interval: None,
        ..ServerOptions::default()
    }
}

#[tokio::test]
async fn root_says_up_and_running() {
    let dir = tempfile::tempdir().unwrap();
    let s = Running::from_config(CartConfig::in_dir(dir.path())).await;
    let r = s.http.get(s.url("")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(
        body,
        serde_json::json!({"message": "Pacifica Cartd Interface Up and Running"})
    );
    s.stop().await;
}

#[tokio::test]
async fn full_cycle_post_poll_download_check_delete() {
    let dir = tempfile::tempdir().unwrap();
    let config = CartConfig::in_dir(dir.path());
    let archive = dir.path().join("archive");
    let foo = content(1, 10_000);
    let bar = content(2, 1);
    let baz = content(3, 300_000);
    put(&archive, "foo.txt", &foo);
    put(&archive, "bar.csv", &bar);
    put(&archive, "sub/baz.ini", &baz);
    let s = Running::from_config(config).await;

    let body = request(
        &[
            ("foo.txt", "1/2/3/foo.txt", &foo),
            ("bar.csv", "1/2/3/bar.csv", &bar),
            ("sub/baz.ini", "2/3/4/baz.ini", &baz),
        ],
        false,
    );
    let r = s.post("my-cart", &body).await;
    assert_eq!(r.status(), 201);
    let msg: serde_json::Value = r.json().await.unwrap();
    assert_eq!(
        msg,
        serde_json::json!({"message": "Cart Processing has begun"})
    );

    let (code, status, message) = s.wait_settled("my-cart").await;
    assert_eq!(
        (code, status.as_str(), message.as_str()),
        (204, "ready", "")
    );

    let r = s
        .http
        .get(s.url("my-cart?filename=my_cart.tar"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/octet-stream");
    assert_eq!(
        r.headers()["content-disposition"],
        "attachment; filename=my_cart.tar; filename*=UTF-8''my_cart.tar"
    );
    let length: usize = r.headers()["content-length"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let tar = r.bytes().await.unwrap();
    assert_eq!(tar.len(), length);
    let files = tar_files(&tar, "my_cart");
    assert_eq!(files.len(), 3);
    for (path, data) in [
        ("my_cart/1/2/3/foo.txt", &foo),
        ("my_cart/1/2/3/bar.csv", &bar),
        ("my_cart/2/3/4/baz.ini", &baz),
    ] {
        assert_eq!(sha256_hex(&files[path]), sha256_hex(data), "{path}");
    }

    // Default name: data_YYYY_MM_DD_HH_MM_SS.tar, and the tar's top directory is its stem.
    let r = s.http.get(s.url("my-cart")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let disposition = r.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_owned();
    let name = disposition
        .strip_prefix("attachment; filename=")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let stem = name.strip_suffix(".tar").unwrap();
    let parts: Vec<&str> = stem.split('_').collect();
    assert_eq!(parts[0], "data");
    assert_eq!(
        parts[1..].iter().map(|p| p.len()).collect::<Vec<_>>(),
        [4, 2, 2, 2, 2, 2]
    );
    assert!(
        parts[1..]
            .iter()
            .all(|p| p.bytes().all(|b| b.is_ascii_digit()))
    );
    let tar = r.bytes().await.unwrap();
    assert_eq!(tar_files(&tar, stem).len(), 3);

    let r = s.http.delete(s.url("my-cart")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let msg: serde_json::Value = r.json().await.unwrap();
    assert_eq!(
        msg,
        serde_json::json!({"message": "Cart Deleted Successfully"})
    );
    // A deleted cart answers as an unknown uid, as in the original.
    assert_eq!(
        s.cart_status("my-cart").await,
        (404, "error".into(), "No cart with uid my-cart found".into())
    );
    assert!(!dir.path().join("volume/cart-core-carts/my-cart").exists());
    let r = s.http.get(s.url("my-cart")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    let r = s.http.delete(s.url("my-cart")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    s.stop().await;
}

#[tokio::test]
async fn bundled_cart_serves_ranges_of_the_prebuilt_tar() {
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("archive");
    let a = content(10, 70_000);
    let b = content(11, 5);
    put(&archive, "a", &a);
    put(&archive, "b", &b);
    let s = Running::from_config(CartConfig::in_dir(dir.path())).await;
    let body = request(&[("a", "x/a.bin", &a), ("b", "b.txt", &b)], true);
    assert_eq!(s.post("bundled", &body).await.status(), 201);
    assert_eq!(s.wait_settled("bundled").await.1, "ready");
    // Only the tar is kept once it is complete.
    let cart_dir = dir.path().join("volume/cart-core-carts/bundled");
    assert!(cart_dir.join("bundle.tar").is_file());
    assert!(!cart_dir.join("files").exists());

    let whole = s.http.get(s.url("bundled")).send().await.unwrap();
    assert_eq!(whole.status(), 200);
    assert_eq!(whole.headers()["accept-ranges"], "bytes");
    let etag = whole.headers()["etag"].to_str().unwrap().to_owned();
    let disposition = whole.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_owned();
    let whole = whole.bytes().await.unwrap();
    let stem = disposition
        .strip_prefix("attachment; filename=")
        .and_then(|n| n.split(';').next())
        .and_then(|n| n.strip_suffix(".tar"))
        .unwrap()
        .to_owned();
    let files = tar_files(&whole, &stem);
    assert_eq!(files[&format!("{stem}/x/a.bin")], a);
    assert_eq!(files[&format!("{stem}/b.txt")], b);

    let len = whole.len();
    let part = s
        .http
        .get(s.url("bundled"))
        .header("range", "bytes=100-1123")
        .send()
        .await
        .unwrap();
    assert_eq!(part.status(), 206);
    assert_eq!(
        part.headers()["content-range"],
        format!("bytes 100-1123/{len}").as_str()
    );
    assert_eq!(part.bytes().await.unwrap(), whole.slice(100..1124));

    let tail = s
        .http
        .get(s.url("bundled"))
        .header("range", "bytes=-512")
        .header("if-range", etag.as_str())
        .send()
        .await
        .unwrap();
    assert_eq!(tail.status(), 206);
    assert_eq!(tail.bytes().await.unwrap(), whole.slice(len - 512..));

    let stale = s
        .http
        .get(s.url("bundled"))
        .header("range", "bytes=0-9")
        .header("if-range", "\"something-else\"")
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), 200);
    assert_eq!(stale.bytes().await.unwrap().len(), len);

    let past = s
        .http
        .get(s.url("bundled"))
        .header("range", format!("bytes={len}-"))
        .send()
        .await
        .unwrap();
    assert_eq!(past.status(), 416);
    assert_eq!(
        past.headers()["content-range"],
        format!("bytes */{len}").as_str()
    );

    // A custom file name streams a tar with that top directory (no ranges then).
    let named = s
        .http
        .get(s.url("bundled?filename=other.tar"))
        .header("range", "bytes=0-9")
        .send()
        .await
        .unwrap();
    assert_eq!(named.status(), 200);
    assert_eq!(named.headers()["accept-ranges"], "none");
    let named = named.bytes().await.unwrap();
    assert_eq!(tar_files(&named, "other")["other/x/a.bin"], a);
    s.stop().await;
}

#[tokio::test]
async fn a_cart_that_is_not_ready_answers_202() {
    let dir = tempfile::tempdir().unwrap();
    let archive = MemoryArchive::new();
    let never = Behavior {
        ready_after_polls: Some(u32::MAX),
        ..Behavior::default()
    };
    archive.insert_with("tape", b"on tape".to_vec(), never);
    let engine = Engine::builder(MemoryStore::new(), archive)
        .volume(dir.path())
        .build()
        .unwrap();
    let s = Running::on_engine(engine, quick_options()).await;
    let body = r#"{"fileids": [{"id": "tape", "path": "t.txt"}]}"#;
    assert_eq!(s.post("slow", body).await.status(), 201);
    let (code, status, message) = s.cart_status("slow").await;
    // On the wire the status is `staging` until the cart is ready, whatever the phase.
    assert_eq!(
        (code, status.as_str(), message.as_str()),
        (204, "staging", "")
    );
    let phase = s.head("slow").await.headers()["x-cart-phase"].clone();
    assert!(
        matches!(phase.to_str().unwrap(), "waiting" | "staging"),
        "{phase:?}"
    );

    let r = s
        .http
        .get(s.url("slow?filename=x.tar"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    assert_eq!(r.headers()["x-pacifica-status"], "staging");
    assert_eq!(
        r.text().await.unwrap(),
        "The cart is not ready for download."
    );
    // Stopping leaves the cart as it is: the drain has no download to wait for.
    assert_eq!(s.stop().await.in_flight, 0);
}

#[tokio::test]
async fn unknown_uid_is_404_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let s = Running::from_config(CartConfig::in_dir(dir.path())).await;
    let (code, status, message) = s.cart_status("nope").await;
    assert_eq!((code, status.as_str()), (404, "error"));
    assert_eq!(message, "No cart with uid nope found");
    let r = s.http.get(s.url("nope")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["status"], "404 Not Found");
    assert_eq!(
        body["message"],
        "The cart does not exist or has already been deleted"
    );
    let r = s.http.delete(s.url("nope")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    let r = s.http.get(s.url("a/b/c")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    s.stop().await;
}

#[tokio::test]
async fn bad_json_is_400_with_the_original_message() {
    let dir = tempfile::tempdir().unwrap();
    put(&dir.path().join("archive"), "f", b"x");
    let s = Running::from_config(CartConfig::in_dir(dir.path())).await;
    for body in [
        "",
        "{",
        "[]",
        r#"{"fileids": "f"}"#,
        r#"{"fileids": []}"#,
        r#"{"files": [{"id": "f", "path": "f"}]}"#,
        r#"{"fileids": [{"id": "f"}]}"#,
        r#"{"fileids": [{"id": 1.5, "path": "f"}]}"#,
        r#"{"fileids": [{"id": "f", "path": "f", "hashtype": "sha1"}]}"#,
        r#"{"fileids": [{"id": "f", "path": "f", "hashtype": "crc32", "hashsum": "00"}]}"#,
        r#"{"fileids": [{"id": "f", "path": "f", "hashtype": "md5", "hashsum": "zz"}]}"#,
        r#"{"fileids": [{"id": "f", "path": "a"}, {"id": "f", "path": "a"}]}"#,
        r#"{"fileids": [{"id": "f", "path": "a"}, {"id": "f", "path": "a/b"}]}"#,
    ] {
        let r = s.post("bad", body).await;
        assert_eq!(r.status(), 400, "{body}");
        let e: serde_json::Value = r.json().await.unwrap();
        assert_eq!(e["status"], "400 Bad Request");
        let m = e["message"].as_str().unwrap();
        assert!(
            m.starts_with("Error parsing file Ids with error: "),
            "{body}: {m}"
        );
    }
    assert_eq!(s.cart_status("bad").await.0, 404, "no cart was made");

    let limit = ServerOptions::default().max_request_bytes;
    let huge = format!("{{\"fileids\": [{}]}}", "1,".repeat(limit / 2));
    let r = s.post("huge", &huge).await;
    assert_eq!(r.status(), 413);
    s.stop().await;
}

#[tokio::test]
async fn hostile_paths_uids_and_file_names_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("archive");
    put(&archive, "f", b"data");
    std::fs::write(dir.path().join("secret"), b"secret").unwrap();
    let s = Running::from_config(CartConfig::in_dir(dir.path())).await;
    for path in [
        "../../etc/x",
        "/etc/passwd",
        "//etc/passwd",
        "a/./b",
        "a/../../b",
        "..",
        "a\\..\\b",
        "a\u{0}b",
        "a//b",
        "",
    ] {
        let body = serde_json::json!({"fileids": [{"id": "f", "path": path}]}).to_string();
        let r = s.post("hostile", &body).await;
        assert_eq!(r.status(), 400, "{path:?}");
    }
    for uid in [
        "..%2F..%2Fetc",
        "%2E%2E%2Fx",
        ".hidden",
        "a%20b",
        "a%00b",
        &"u".repeat(200),
    ] {
        let r = s
            .post(uid, r#"{"fileids": [{"id": "f", "path": "f"}]}"#)
            .await;
        assert_eq!(r.status(), 400, "POST {uid}");
        let (code, status, message) = s.cart_status(uid).await;
        assert_eq!((code, status.as_str()), (400, "error"), "HEAD {uid}");
        assert!(message.starts_with("invalid uid"), "{message}");
        let r = s.http.get(s.url(uid)).send().await.unwrap();
        assert_eq!(r.status(), 400, "GET {uid}");
    }
    // Only the engine's own (marked) directory is in the volume.
    assert_eq!(
        std::fs::read_dir(dir.path().join("volume/cart-core-carts"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect::<Vec<_>>(),
        [".cart-core-owned"]
    );

    // An archive id that climbs out of the archive directory fails the cart, never reads.
    let body = r#"{"fileids": [{"id": "../secret", "path": "s"}]}"#;
    assert_eq!(s.post("climb", body).await.status(), 201);
    let (code, status, message) = s.wait_settled("climb").await;
    assert_eq!((code, status.as_str()), (500, "error"));
    assert!(message.starts_with("Failed to pull file("), "{message}");

    let body = r#"{"fileids": [{"id": "f", "path": "ok/f"}]}"#;
    assert_eq!(s.post("fine", body).await.status(), 201);
    assert_eq!(s.wait_settled("fine").await.1, "ready");
    // Control characters and overlong names are rejected.
    for name in ["a%0D%0AX-Evil%3A%201", "a%00.tar", &"n".repeat(300)] {
        let r = s
            .http
            .get(s.url(&format!("fine?filename={name}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{name}");
        assert!(r.headers().get("x-evil").is_none());
        let e: serde_json::Value = r.json().await.unwrap();
        assert!(e["message"].as_str().unwrap().contains("filename"), "{e}");
    }
    // Any other name works: RFC 6266 header, sanitized top directory.
    for (query, disposition, top) in [
        (
            "my+cart.tar",
            "attachment; filename=\"my cart.tar\"; filename*=UTF-8''my%20cart.tar",
            "my cart",
        ),
        (
            "my%2Bcart.tar",
            "attachment; filename=my+cart.tar; filename*=UTF-8''my+cart.tar",
            "my+cart",
        ),
        (
            "..%2Fx.tar",
            "attachment; filename=\"../x.tar\"; filename*=UTF-8''..%2Fx.tar",
            "_x",
        ),
        (
            "a%22b%20(1).tar",
            "attachment; filename=\"a_b (1).tar\"; filename*=UTF-8''a%22b%20%281%29.tar",
            "a_b (1)",
        ),
        (
            "%E6%97%A5%E6%9C%AC.tar",
            "attachment; filename=\"__.tar\"; filename*=UTF-8''%E6%97%A5%E6%9C%AC.tar",
            "\u{65e5}\u{672c}",
        ),
        (
            ".tar",
            "attachment; filename=.tar; filename*=UTF-8''.tar",
            "data",
        ),
    ] {
        let r = s
            .http
            .get(s.url(&format!("fine?filename={query}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{query}");
        assert_eq!(r.headers()["content-disposition"], disposition, "{query}");
        let files = tar_files(&r.bytes().await.unwrap(), top);
        assert_eq!(files[&format!("{top}/ok/f")], b"data", "{query}");
    }
    s.stop().await;
}

#[tokio::test]
async fn a_digest_mismatch_puts_the_cart_in_error() {
    let dir = tempfile::tempdir().unwrap();
    put(&dir.path().join("archive"), "f", b"actual bytes");
    let s = Running::from_config(CartConfig::in_dir(dir.path())).await;
    let body = request(&[("f", "f.txt", b"other bytes")], false);
    assert_eq!(s.post("wrong", &body).await.status(), 201);
    let (code, status, message) = s.wait_settled("wrong").await;
    assert_eq!((code, status.as_str()), (500, "error"));
    assert!(message.starts_with("Failed to pull file("), "{message}");
    assert!(message.contains("mismatch"), "{message}");
    let r = s.http.get(s.url("wrong")).send().await.unwrap();
    assert_eq!(r.status(), 202);
    assert_eq!(r.headers()["x-pacifica-status"], "error");
    s.stop().await;
}

#[tokio::test]
async fn posting_to_an_existing_uid() {
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("archive");
    put(&archive, "f", b"first");
    put(&archive, "g", b"second");
    let s = Running::from_config(CartConfig::in_dir(dir.path())).await;
    let first = request(&[("f", "f.txt", b"first")], false);
    let other = request(&[("g", "g.txt", b"second")], false);
    assert_eq!(s.post("same", &first).await.status(), 201);
    // A retry of the same request is accepted and starts nothing new.
    assert_eq!(s.post("same", &first).await.status(), 201);
    assert_eq!(s.wait_settled("same").await.1, "ready");
    assert_eq!(s.post("same", &first).await.status(), 201);
    let r = s.post("same", &other).await;
    assert_eq!(r.status(), 409);
    let e: serde_json::Value = r.json().await.unwrap();
    assert_eq!(e["status"], "409 Conflict");
    let tar = s
        .http
        .get(s.url("same?filename=c.tar"))
        .send()
        .await
        .unwrap();
    let files = tar_files(&tar.bytes().await.unwrap(), "c");
    assert_eq!(files.keys().collect::<Vec<_>>(), ["c/f.txt"]);
    // After a delete the uid is free again.
    assert_eq!(
        s.http.delete(s.url("same")).send().await.unwrap().status(),
        200
    );
    assert_eq!(s.post("same", &other).await.status(), 201);
    assert_eq!(s.wait_settled("same").await.1, "ready");
    let tar = s
        .http
        .get(s.url("same?filename=c.tar"))
        .send()
        .await
        .unwrap();
    let files = tar_files(&tar.bytes().await.unwrap(), "c");
    assert_eq!(files["c/g.txt"], b"second");
    s.stop().await;
}

#[tokio::test]
async fn concurrent_carts() {
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("archive");
    let data: Vec<Vec<u8>> = (0..10)
        .map(|i| content(100 + i, 1000 + 37 * i as usize))
        .collect();
    for (i, d) in data.iter().enumerate() {
        put(&archive, &format!("file{i}"), d);
    }
    let s = Arc::new(Running::from_config(CartConfig::in_dir(dir.path())).await);
    let data = Arc::new(data);
    let mut tasks = Vec::new();
    for c in 0..24 {
        let s = Arc::clone(&s);
        let data = Arc::clone(&data);
        tasks.push(tokio::spawn(async move {
            let uid = format!("cart-{c}");
            let ids: Vec<(String, String)> = (0..10)
                .map(|i| (format!("file{}", (i + c) % 10), format!("d{c}/{i}.bin")))
                .collect();
            let files: Vec<(&str, &str, &[u8])> = ids
                .iter()
                .enumerate()
                .map(|(i, (id, path))| (id.as_str(), path.as_str(), &data[(i + c) % 10][..]))
                .collect();
            assert_eq!(
                s.post(&uid, &request(&files, c % 2 == 0)).await.status(),
                201
            );
            assert_eq!(s.wait_settled(&uid).await.1, "ready");
            let r = s
                .http
                .get(s.url(&format!("{uid}?filename={uid}.tar")))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            let got = tar_files(&r.bytes().await.unwrap(), &uid);
            assert_eq!(got.len(), 10);
            for (i, (_, path)) in ids.iter().enumerate() {
                assert_eq!(got[&format!("{uid}/{path}")], data[(i + c) % 10]);
            }
            assert_eq!(
                s.http.delete(s.url(&uid)).send().await.unwrap().status(),
                200
            );
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    Arc::try_unwrap(s).ok().unwrap().stop().await;
}

/// A cart big enough that its tar cannot sit in socket and channel buffers.
const BIG: usize = 48 << 20;

#[tokio::test]
async fn a_download_interrupted_by_delete_fails_visibly() {
    let dir = tempfile::tempdir().unwrap();
    let big = content(7, BIG);
    put(&dir.path().join("archive"), "big", &big);
    let s = Running::from_config(CartConfig::in_dir(dir.path())).await;
    let body = r#"{"fileids": [{"id": "big", "path": "big.bin"}]}"#;
    assert_eq!(s.post("big", body).await.status(), 201);
    assert_eq!(s.wait_settled("big").await.1, "ready");

    let r = s
        .http
        .get(s.url("big?filename=big.tar"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let length: usize = r.headers()["content-length"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let mut stream = r.bytes_stream();
    let mut received = stream.next().await.unwrap().unwrap().len();
    let d = s.http.delete(s.url("big")).send().await.unwrap();
    assert_eq!(d.status(), 200);
    let mut failed = false;
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(c) => received += c.len(),
            Err(_) => {
                failed = true;
                break;
            }
        }
    }
    assert!(
        failed,
        "the body ended without an error after {received} of {length} bytes"
    );
    assert!(received < length, "{received} of {length}");
    assert_eq!(s.cart_status("big").await.0, 404);
    s.stop().await;
}

#[tokio::test]
async fn shutdown_cuts_late_downloads_and_work_resumes_at_next_start() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("carts.db");
    let volume = dir.path().join("volume");
    let big = content(8, BIG);
    let small = b"small file".to_vec();

    // First run: one cart ready (being downloaded at shutdown), one stuck in staging.
    let archive = MemoryArchive::new();
    archive.insert("big", big.clone());
    let never = Behavior {
        ready_after_polls: Some(u32::MAX),
        ..Behavior::default()
    };
    archive.insert_with("tape", small.clone(), never);
    let engine = Engine::builder(SqliteStore::open(&db).await.unwrap(), archive)
        .volume(&volume)
        .config(EngineConfig {
            poll_initial: Duration::from_millis(10),
            ..EngineConfig::default()
        })
        .build()
        .unwrap();
    let options = ServerOptions {
        shutdown_grace: Duration::from_millis(300),
        ..quick_options()
    };
    let s = Running::on_engine(engine, options.clone()).await;
    assert_eq!(
        s.post("ready", r#"{"fileids": [{"id": "big", "path": "b"}]}"#)
            .await
            .status(),
        201
    );
    assert_eq!(s.wait_settled("ready").await.1, "ready");
    assert_eq!(
        s.post("stuck", r#"{"fileids": [{"id": "tape", "path": "t"}]}"#)
            .await
            .status(),
        201
    );
    for _ in 0..200 {
        if s.cart_status("stuck").await.1 == "staging" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(s.cart_status("stuck").await.1, "staging");
    let r = s.http.get(s.url("ready")).send().await.unwrap();
    let length: usize = r.headers()["content-length"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let mut stream = r.bytes_stream();
    let mut received = stream.next().await.unwrap().unwrap().len();
    let stopping = tokio::spawn(s.stop());
    let mut failed = false;
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(c) => received += c.len(),
            Err(_) => {
                failed = true;
                break;
            }
        }
        // A slow reader: the grace period runs out before the tar is through.
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(
        failed && received < length,
        "{received} of {length}, failed: {failed}"
    );
    let report = stopping.await.unwrap();
    assert_eq!(report.cut, 1);

    // Second run on the same store and volume: the stuck cart's work resumes and finishes.
    let archive = MemoryArchive::new();
    archive.insert("big", big.clone());
    archive.insert("tape", small.clone());
    let engine = Engine::builder(SqliteStore::open(&db).await.unwrap(), archive)
        .volume(&volume)
        .build()
        .unwrap();
    let s = Running::on_engine(engine, options).await;
    assert_eq!(s.wait_settled("stuck").await.1, "ready");
    let tar = s
        .http
        .get(s.url("stuck?filename=s.tar"))
        .send()
        .await
        .unwrap();
    assert_eq!(tar_files(&tar.bytes().await.unwrap(), "s")["s/t"], small);
    assert_eq!(s.cart_status("ready").await.1, "ready");
    s.stop().await;
}
