//! Shared helpers of the cart server end-to-end tests: a server on 127.0.0.1:0, a reqwest
//! client, archive files with known digests, and tar checks.

#![allow(dead_code)]

use cart_core::Engine;
use examples::cart::{CartConfig, CartServer, DrainReport, ServerOptions};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A running server.
pub struct Running {
    pub base: String,
    pub http: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<DrainReport, examples::cart::Error>>>,
}

impl Running {
    pub async fn start(server: CartServer) -> Running {
        let base = format!("http://{}", server.local_addr());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(server.run(async {
            let _ = stopped.await;
        }));
        Running {
            base,
            http: reqwest::Client::new(),
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// Starts a server from a config (port forced to 0).
    pub async fn from_config(mut config: CartConfig) -> Running {
        config.port = 0;
        Running::start(CartServer::from_config(&config).await.unwrap()).await
    }

    /// Starts a server on an engine.
    pub async fn on_engine(engine: Engine, options: ServerOptions) -> Running {
        let server = CartServer::bind(engine, "127.0.0.1:0".parse().unwrap(), options)
            .await
            .unwrap();
        Running::start(server).await
    }

    pub fn url(&self, rest: &str) -> String {
        format!("{}/{rest}", self.base)
    }

    /// Stops the server and returns its drain report.
    pub async fn stop(mut self) -> DrainReport {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        let task = self.task.take().unwrap();
        tokio::time::timeout(Duration::from_secs(30), task)
            .await
            .expect("server stopped in time")
            .unwrap()
            .unwrap()
    }

    pub async fn post(&self, uid: &str, body: &str) -> reqwest::Response {
        self.http
            .post(self.url(uid))
            .body(body.to_owned())
            .send()
            .await
            .unwrap()
    }

    pub async fn head(&self, uid: &str) -> reqwest::Response {
        self.http.head(self.url(uid)).send().await.unwrap()
    }

    /// `X-Pacifica-Status` and `X-Pacifica-Message` of `HEAD /{uid}`, with the HTTP status.
    pub async fn cart_status(&self, uid: &str) -> (u16, String, String) {
        let r = self.head(uid).await;
        let h = |n: &str| {
            r.headers()
                .get(n)
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default()
        };
        (
            r.status().as_u16(),
            h("x-pacifica-status"),
            h("x-pacifica-message"),
        )
    }

    /// Polls `HEAD` (short sleeps, bounded) until the cart is no longer waiting, staging or
    /// bundling; returns the last status.
    pub async fn wait_settled(&self, uid: &str) -> (u16, String, String) {
        for _ in 0..600 {
            let s = self.cart_status(uid).await;
            if !matches!(s.1.as_str(), "waiting" | "staging" | "bundling") {
                return s;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("cart {uid} did not settle within 15 s");
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

/// Deterministic content of `len` bytes from `seed`.
pub fn content(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// Writes `data` as archive file `id` under `root`.
pub fn put(root: &Path, id: &str, data: &[u8]) -> PathBuf {
    let p = root.join(id);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, data).unwrap();
    p
}

/// The regular files of a tar: path -> bytes; also checks every entry sits under `top/`.
pub fn tar_files(tar_bytes: &[u8], top: &str) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut archive = tar::Archive::new(tar_bytes);
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = entry.path().unwrap().to_str().unwrap().to_owned();
        assert!(
            path == top || path.starts_with(&format!("{top}/")),
            "{path} outside {top}/"
        );
        if entry.header().entry_type().is_file() {
            let mut data = Vec::new();
            std::io::Read::read_to_end(&mut entry, &mut data).unwrap();
            out.insert(path, data);
        }
    }
    out
}

/// A cart request body for `(id, path, data)` files with sha256 digests.
pub fn request(files: &[(&str, &str, &[u8])], bundle: bool) -> String {
    let fileids: Vec<serde_json::Value> = files
        .iter()
        .map(|(id, path, data)| {
            serde_json::json!({
                "id": id, "path": path, "hashtype": "sha256", "hashsum": sha256_hex(data)
            })
        })
        .collect();
    serde_json::json!({ "fileids": fileids, "bundle": bundle }).to_string()
}
