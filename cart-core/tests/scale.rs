//! Storage that scales with files: a file step writes one small record.

mod common;

use cart_core::testing::MemoryArchive;
use cart_core::{
    Cart, CartFile, CartStatus, CartStore, CartSummary, CartUid, Engine, MemoryStore, Result,
    Version,
};
use common::*;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Counts the records a store writes, by kind.
#[derive(Debug, Default)]
struct CountingStore {
    inner: MemoryStore,
    header_writes: AtomicU64,
    file_writes: AtomicU64,
    file_records: AtomicU64,
    largest_file_write: AtomicU64,
}

#[async_trait::async_trait]
impl CartStore for CountingStore {
    async fn insert(&self, cart: &Cart) -> Result<Version> {
        self.inner.insert(cart).await
    }
    async fn load(&self, uid: &CartUid) -> Result<Option<(Cart, Version)>> {
        self.inner.load(uid).await
    }
    async fn save(&self, cart: &Cart, v: Version) -> Result<Version> {
        self.header_writes.fetch_add(1, Ordering::SeqCst);
        self.inner.save(cart, v).await
    }
    async fn save_fenced(&self, cart: &Cart, v: Version, token: u64) -> Result<Version> {
        self.header_writes.fetch_add(1, Ordering::SeqCst);
        self.inner.save_fenced(cart, v, token).await
    }
    async fn save_files(
        &self,
        uid: &CartUid,
        files_key: &str,
        files: &[(usize, CartFile)],
        fence: Option<u64>,
    ) -> Result<()> {
        self.file_writes.fetch_add(1, Ordering::SeqCst);
        self.file_records
            .fetch_add(files.len() as u64, Ordering::SeqCst);
        self.largest_file_write
            .fetch_max(files.len() as u64, Ordering::SeqCst);
        self.inner.save_files(uid, files_key, files, fence).await
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

/// Stages a cart of `n` files; returns (header writes, file writes, file records, largest).
async fn stage(n: usize) -> (u64, u64, u64, u64) {
    let archive = Arc::new(MemoryArchive::new());
    let files: Vec<(String, String, Vec<u8>)> = (0..n)
        .map(|i| {
            (
                format!("f{i}"),
                format!("d/f{i}"),
                format!("{i}").into_bytes(),
            )
        })
        .collect();
    for (id, _, data) in &files {
        archive.insert(id, data.clone());
    }
    let refs: Vec<(&str, &str, &[u8])> = files
        .iter()
        .map(|(id, p, d)| (id.as_str(), p.as_str(), d.as_slice()))
        .collect();
    let store = Arc::new(CountingStore::default());
    let volume = tempfile::tempdir().unwrap();
    let engine = Engine::builder(Arc::clone(&store), archive)
        .volume(volume.path())
        .config(cart_core::EngineConfig {
            // No renewal during the run: header writes are then the same for any size.
            lease_ttl: std::time::Duration::from_secs(3600),
            ..fast_config()
        })
        .build()
        .unwrap();
    let id = uid(&format!("scale-{n}"));
    engine
        .submit(id.clone(), request(&refs, false))
        .await
        .unwrap();
    let cart = engine.wait_settled(&id).await.unwrap();
    assert_eq!(cart.status, CartStatus::Ready, "{}", cart.message);
    (
        store.header_writes.load(Ordering::SeqCst),
        store.file_writes.load(Ordering::SeqCst),
        store.file_records.load(Ordering::SeqCst),
        store.largest_file_write.load(Ordering::SeqCst),
    )
}

#[tokio::test]
async fn store_writes_per_file_step_do_not_grow_with_the_cart() {
    let (small_headers, small_writes, small_records, small_max) = stage(10).await;
    let (big_headers, big_writes, big_records, big_max) = stage(1000).await;
    // Two file steps per file (start, staged), one record each.
    assert_eq!(small_writes, 2 * 10, "{small_writes}");
    assert_eq!(big_writes, 2 * 1000, "{big_writes}");
    assert_eq!((small_records, big_records), (small_writes, big_writes));
    assert_eq!((small_max, big_max), (1, 1));
    // Header writes (claim, steps, renewals, release) do not depend on the file count.
    assert_eq!(
        small_headers, big_headers,
        "{small_headers} vs {big_headers}"
    );
}

#[tokio::test]
async fn deleted_carts_are_purged_after_the_retention_time() {
    let clock = Arc::new(cart_core::ManualClock::new(
        cart_core::Timestamp::from_unix_millis(1_000_000),
    ));
    let archive = Arc::new(MemoryArchive::new());
    archive.insert("a", "a");
    let volume = tempfile::tempdir().unwrap();
    let store = Arc::new(MemoryStore::new());
    let engine = Engine::builder(Arc::clone(&store), archive)
        .volume(volume.path())
        .config(cart_core::EngineConfig {
            deleted_retention: std::time::Duration::from_secs(3600),
            ..fast_config()
        })
        .clock(clock.clone())
        .build()
        .unwrap();
    let id = uid("purged");
    engine
        .submit(id.clone(), request(&[("a", "a", b"a")], false))
        .await
        .unwrap();
    engine.wait_settled(&id).await.unwrap();
    assert!(engine.delete(&id).await.unwrap());
    clock.advance(std::time::Duration::from_secs(3599));
    assert!(engine.purge_deleted().await.unwrap().is_empty());
    assert!(
        store.load(&id).await.unwrap().is_some(),
        "kept within retention"
    );
    clock.advance(std::time::Duration::from_secs(2));
    assert_eq!(engine.purge_deleted().await.unwrap(), vec![id.clone()]);
    assert!(store.load(&id).await.unwrap().is_none());
}
