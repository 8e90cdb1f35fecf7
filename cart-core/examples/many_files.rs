//! A cart of many files (100,000 by default) staged from a local directory archive into a
//! SQLite store: prints the time to stage it and the store writes per file step.
//!
//! Run with `cargo run --release -p cart-core --example many_files -- [FILES]`.

use cart_core::{
    Cart, CartFile, CartRequest, CartStatus, CartStore, CartSummary, CartUid, Engine, EngineConfig,
    LocalArchive, Result, SqliteStore, Version,
};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The SQLite store, counting what it writes.
#[derive(Debug)]
struct Counting {
    inner: SqliteStore,
    header_writes: AtomicU64,
    file_writes: AtomicU64,
    file_records: AtomicU64,
}

#[async_trait::async_trait]
impl CartStore for Counting {
    async fn insert(&self, cart: &Cart) -> Result<Version> {
        self.inner.insert(cart).await
    }
    async fn load(&self, uid: &CartUid) -> Result<Option<(Cart, Version)>> {
        self.inner.load(uid).await
    }
    async fn save(&self, cart: &Cart, v: Version) -> Result<Version> {
        self.header_writes.fetch_add(1, Ordering::Relaxed);
        self.inner.save(cart, v).await
    }
    async fn save_fenced(&self, cart: &Cart, v: Version, token: u64) -> Result<Version> {
        self.header_writes.fetch_add(1, Ordering::Relaxed);
        self.inner.save_fenced(cart, v, token).await
    }
    async fn save_files(
        &self,
        uid: &CartUid,
        key: &str,
        files: &[(usize, CartFile)],
        fence: Option<u64>,
    ) -> Result<()> {
        self.file_writes.fetch_add(1, Ordering::Relaxed);
        self.file_records
            .fetch_add(files.len() as u64, Ordering::Relaxed);
        self.inner.save_files(uid, key, files, fence).await
    }
    async fn list(&self) -> Result<Vec<CartSummary>> {
        self.inner.list().await
    }
    async fn remove(&self, uid: &CartUid) -> Result<bool> {
        self.inner.remove(uid).await
    }
    async fn purge(&self, uid: &CartUid, before: cart_core::Timestamp) -> Result<bool> {
        self.inner.purge(uid, before).await
    }
}

#[tokio::main]
async fn main() -> std::result::Result<(), Box<dyn std::error::Error>> {
    let files: usize = match std::env::args().nth(1) {
        Some(n) => n.parse()?,
        None => 100_000,
    };
    let archive_dir = tempfile::tempdir()?;
    let started = Instant::now();
    let mut fileids = Vec::with_capacity(files);
    for i in 0..files {
        let dir = format!("d{}", i / 1000);
        std::fs::create_dir_all(archive_dir.path().join(&dir))?;
        let id = format!("{dir}/f{i}.dat");
        std::fs::write(archive_dir.path().join(&id), format!("file {i}\n"))?;
        fileids.push(serde_json::json!({"id": id, "path": format!("data/{id}")}));
    }
    println!(
        "archive of {files} files written in {:.1?}",
        started.elapsed()
    );
    let work = tempfile::tempdir()?;
    let store = Arc::new(Counting {
        inner: SqliteStore::open(work.path().join("carts.db")).await?,
        header_writes: AtomicU64::new(0),
        file_writes: AtomicU64::new(0),
        file_records: AtomicU64::new(0),
    });
    let engine = Engine::builder(Arc::clone(&store), LocalArchive::new(archive_dir.path())?)
        .volume(work.path().join("volume"))
        .config(EngineConfig {
            lease_ttl: Duration::from_secs(60),
            ..EngineConfig::default()
        })
        .build()?;
    let body = serde_json::json!({ "fileids": fileids }).to_string();
    let request = CartRequest::from_json(body.as_bytes())?;
    let uid = CartUid::new("many-files")?;
    let t = Instant::now();
    engine.submit(uid.clone(), request).await?;
    let inserted = t.elapsed();
    let cart = engine.wait_settled(&uid).await?;
    let staged = t.elapsed();
    if cart.status != CartStatus::Ready {
        return Err(format!("cart ended {}: {}", cart.status, cart.message).into());
    }
    let writes = store.file_writes.load(Ordering::Relaxed);
    let records = store.file_records.load(Ordering::Relaxed);
    let headers = store.header_writes.load(Ordering::Relaxed);
    println!(
        "{files} files: inserted in {inserted:.1?}, staged (ready) after {staged:.1?} \
         ({:.0} files/s)",
        files as f64 / staged.as_secs_f64()
    );
    println!(
        "store writes: {writes} file writes carrying {records} file records for {} file steps \
         ({:.2} records per file step), {headers} header writes in all",
        2 * files,
        records as f64 / (2 * files) as f64
    );
    let t = Instant::now();
    let download = engine.download(&uid, None).await?;
    let len = download.content_length();
    let sink = download.write_to(std::io::sink()).await;
    sink?;
    println!("tar of {len} bytes streamed in {:.1?}", t.elapsed());
    Ok(())
}
