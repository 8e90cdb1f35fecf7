//! Helpers shared by the engine tests.
#![allow(dead_code)]

use cart_core::{
    CartRequest, CartStatus, CartUid, Engine, EngineConfig, HashType, testing::MemoryArchive,
};
use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

pub fn uid(s: &str) -> CartUid {
    CartUid::new(s).unwrap()
}

/// Settings with short waits, for tests.
pub fn fast_config() -> EngineConfig {
    EngineConfig {
        poll_initial: Duration::from_millis(10),
        poll_max: Duration::from_millis(50),
        retry_backoff: Duration::from_millis(10),
        stage_timeout: Duration::from_secs(600),
        read_idle_timeout: Duration::from_secs(30),
        ..EngineConfig::default()
    }
}

/// A request for `(id, path)` pairs with sha256 digests of `data`.
pub fn request(files: &[(&str, &str, &[u8])], bundle: bool) -> CartRequest {
    let fileids: Vec<serde_json::Value> = files
        .iter()
        .map(|(id, path, data)| {
            serde_json::json!({"id": id, "path": path, "hashtype": "sha256",
                               "hashsum": HashType::Sha256.digest_hex(data)})
        })
        .collect();
    let body = serde_json::json!({"fileids": fileids, "bundle": bundle});
    CartRequest::from_json(body.to_string().as_bytes()).unwrap()
}

pub fn memory_engine(archive: Arc<MemoryArchive>, volume: &std::path::Path) -> Engine {
    Engine::builder(cart_core::MemoryStore::new(), archive)
        .volume(volume)
        .config(fast_config())
        .build()
        .unwrap()
}

/// Waits (bounded by the engine's own deadlines) for a status.
pub async fn wait_for(engine: &Engine, uid: &CartUid, status: CartStatus) {
    for _ in 0..2000 {
        let cart = engine.status(uid).await.unwrap().unwrap();
        if cart.status == status {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("cart {uid} never reached {status}");
}

/// The regular files of a tar: (path, bytes).
pub fn tar_files(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut ar = tar::Archive::new(bytes);
    let mut out = Vec::new();
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        if e.header().entry_type().is_file() {
            let p = e.path().unwrap().to_string_lossy().into_owned();
            let mut d = Vec::new();
            e.read_to_end(&mut d).unwrap();
            out.push((p, d));
        }
    }
    out
}

/// Every path under `dir`, relative.
pub fn tree(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let p = e.path();
            out.push(p.strip_prefix(dir).unwrap().display().to_string());
            if e.file_type().unwrap().is_dir() {
                stack.push(p);
            }
        }
    }
    out.sort();
    out
}
