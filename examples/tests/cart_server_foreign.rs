//! `VOLUME_PATH` is shared: unrelated files and directories in it, even ones named like cart
//! uids (or like the server's own files), survive every request: POST, HEAD, GET, DELETE of
//! known, unknown, deleted and malformed uids, and LRU eviction.

mod cart_server_support;

use cart_core::testing::MemoryArchive;
use cart_core::{Engine, EngineConfig, MemoryStore, SimulatedDisk};
use cart_server_support::{Running, content, request, tar_files};
use examples::cart::ServerOptions;
use std::path::Path;
use std::sync::Arc;

/// Every path under `dir` outside the server's own directory, with file contents.
fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let rel = e.path().strip_prefix(dir).unwrap().display().to_string();
            if rel.starts_with("cart-core-carts") {
                continue;
            }
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
                out.push((rel, Vec::new()));
            } else {
                out.push((rel, std::fs::read(e.path()).unwrap()));
            }
        }
    }
    out.sort();
    out
}

#[tokio::test]
async fn foreign_directories_named_like_uids_survive_every_request() {
    let volume = tempfile::tempdir().unwrap();
    // What the original's DELETE of an unknown uid removed: VOLUME_PATH/<uid>, whatever it was.
    for name in [
        "unknown", "kept", "evicted", "deleted", "bundled", "files", "tmp", "data",
    ] {
        let d = volume.path().join(name);
        std::fs::create_dir_all(d.join("files/sub")).unwrap();
        std::fs::write(d.join("files/0"), format!("{name}'s own")).unwrap();
        std::fs::write(d.join("files/sub/x"), b"precious").unwrap();
        std::fs::write(d.join("bundle.tar"), b"not ours").unwrap();
    }
    std::fs::write(volume.path().join("kept.tar"), b"a foreign file").unwrap();
    let before = snapshot(volume.path());
    let foreign_bytes: u64 = before.iter().map(|(_, d)| d.len() as u64).sum();

    let archive = Arc::new(MemoryArchive::new());
    let (small, big) = (content(1, 4000), content(2, 9000));
    archive.insert("small", small.clone());
    archive.insert("big", big.clone());
    let engine = Engine::builder(MemoryStore::new(), archive)
        .volume(volume.path())
        .config(EngineConfig {
            poll_initial: std::time::Duration::from_millis(10),
            ..EngineConfig::default()
        })
        // Room for about 15 KB of carts besides the foreign files.
        .space_probe(SimulatedDisk::new(foreign_bytes + 15_000))
        .build()
        .unwrap();
    let s = Running::on_engine(engine, ServerOptions::default()).await;

    assert_eq!(s.http.get(s.url("")).send().await.unwrap().status(), 200);
    // Unknown uids, named like the foreign directories.
    for uid in ["unknown", "files", "tmp", "data"] {
        assert_eq!(s.cart_status(uid).await.0, 404);
        let r = s.http.get(s.url(uid)).send().await.unwrap();
        assert_eq!(r.status(), 404);
        let r = s.http.delete(s.url(uid)).send().await.unwrap();
        assert_eq!(r.status(), 404, "DELETE {uid}");
    }
    // Carts with the same names as foreign directories: staged, bundled, downloaded, deleted.
    for (uid, bundle) in [("kept", false), ("deleted", true), ("bundled", true)] {
        let body = request(&[("small", "s/small.bin", &small)], bundle);
        assert_eq!(s.post(uid, &body).await.status(), 201);
        assert_eq!(s.wait_settled(uid).await.1, "ready", "{uid}");
        for name in ["", "?filename=other%20name.tar"] {
            let r = s
                .http
                .get(s.url(&format!("{uid}{name}")))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            let bytes = r.bytes().await.unwrap();
            let top = if name.is_empty() {
                let mut ar = tar::Archive::new(&bytes[..]);
                let first = ar.entries().unwrap().next().unwrap().unwrap();
                first.path().unwrap().display().to_string()
            } else {
                "other name".to_owned()
            };
            assert_eq!(tar_files(&bytes, &top).len(), 1);
        }
        if uid == "deleted" {
            let r = s.http.delete(s.url(uid)).send().await.unwrap();
            assert_eq!(r.status(), 200);
            // Deleted: unknown from now on, and deleting it again touches nothing.
            assert_eq!(s.cart_status(uid).await.0, 404);
            let r = s.http.delete(s.url(uid)).send().await.unwrap();
            assert_eq!(r.status(), 404);
        }
    }
    // Malformed requests.
    assert_eq!(s.post("evicted", "not json").await.status(), 400);
    let r = s.http.delete(s.url("..%2Fkept")).send().await.unwrap();
    assert_eq!(r.status(), 400);

    // A big cart evicts the least recently used ones (`kept`, then maybe `bundled`).
    let body = request(&[("big", "b/big.bin", &big)], false);
    assert_eq!(s.post("evicted", &body).await.status(), 201);
    assert_eq!(s.wait_settled("evicted").await.1, "ready");
    assert_eq!(s.cart_status("kept").await.0, 404, "kept was evicted");
    for uid in ["evicted", "bundled"] {
        let r = s.http.delete(s.url(uid)).send().await.unwrap();
        assert!(matches!(r.status().as_u16(), 200 | 404), "{uid}");
    }

    assert_eq!(snapshot(volume.path()), before);
    // The root still answers.
    assert_eq!(s.http.get(s.url("")).send().await.unwrap().status(), 200);
    s.stop().await;
}
