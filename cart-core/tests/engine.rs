//! The engine end to end: the full cycle, failures with their messages, deletion.

mod common;

use bytes::Bytes;
use cart_core::testing::{Behavior, MemoryArchive};
use cart_core::{
    CartStatus, DownloadName, Engine, EngineConfig, Error, FileStatus, LocalArchive, MemoryStore,
    SimulatedDisk, SpaceProbe,
};
use common::*;
use futures::StreamExt;
use std::sync::Arc;
use std::time::Duration;

#[tokio::test]
async fn full_cycle_local_archive_streamed_and_prebuilt() {
    let archive_dir = tempfile::tempdir().unwrap();
    let big: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(archive_dir.path().join("foo.txt"), b"foo").unwrap();
    std::fs::write(archive_dir.path().join("big.bin"), &big).unwrap();
    let volume = tempfile::tempdir().unwrap();
    let engine = Engine::builder(
        MemoryStore::new(),
        LocalArchive::new(archive_dir.path()).unwrap(),
    )
    .volume(volume.path())
    .config(EngineConfig {
        deterministic_tar: true,
        ..fast_config()
    })
    .build()
    .unwrap();
    for bundle in [false, true] {
        let id = uid(if bundle { "bundled" } else { "streamed" });
        let req = request(
            &[
                ("foo.txt", "1/2/3/foo.txt", b"foo"),
                ("big.bin", "big/big.bin", &big),
            ],
            bundle,
        );
        engine.submit(id.clone(), req).await.unwrap();
        let cart = engine.wait_settled(&id).await.unwrap();
        assert_eq!(cart.status, CartStatus::Ready, "{}", cart.message);
        assert!(cart.files.iter().all(|f| f.status == FileStatus::Staged));
        assert_eq!(cart.bundle_size.is_some(), bundle);
        let files_dir = volume
            .path()
            .join("cart-core-carts")
            .join(id.as_str())
            .join("files");
        assert_eq!(
            files_dir.exists(),
            !bundle,
            "staged copies are dropped once tarred"
        );

        // Default name: the pre-built tar when bundled.
        let dl = engine.download(&id, None).await.unwrap();
        assert_eq!(dl.prebuilt_path().is_some(), bundle);
        let default_stem = cart.default_download_name().stem().to_owned();
        assert!(default_stem.starts_with("data_"));
        let len = dl.content_length();
        let bytes = dl.write_to(Vec::new()).await.unwrap();
        assert_eq!(bytes.len() as u64, len);
        let files = tar_files(&bytes);
        assert_eq!(files.len(), 2);
        assert_eq!(files[0].0, format!("{default_stem}/1/2/3/foo.txt"));
        assert_eq!(files[1].1, big);

        // A chosen name, as a stream: same layout under another top directory.
        let name = DownloadName::new("my_cart.tar").unwrap();
        let dl = engine.download(&id, Some(name)).await.unwrap();
        assert!(dl.prebuilt_path().is_none());
        let len = dl.content_length();
        let chunks: Vec<_> = dl.into_stream().collect().await;
        let streamed: Vec<u8> = chunks
            .into_iter()
            .flat_map(|c| c.unwrap().to_vec())
            .collect();
        assert_eq!(streamed.len() as u64, len);
        let files = tar_files(&streamed);
        assert_eq!(files[0], ("my_cart/1/2/3/foo.txt".into(), b"foo".to_vec()));
        assert_eq!(files[1].0, "my_cart/big/big.bin");

        assert!(engine.delete(&id).await.unwrap());
        assert!(!engine.delete(&id).await.unwrap());
        assert_eq!(
            engine.status(&id).await.unwrap().unwrap().status,
            CartStatus::Deleted
        );
        assert!(matches!(
            engine.download(&id, None).await,
            Err(Error::NotFound(_))
        ));
        assert!(
            !volume
                .path()
                .join("cart-core-carts")
                .join(id.as_str())
                .exists()
        );
    }
}

#[tokio::test]
async fn existing_uid_is_rejected_until_deleted() {
    let archive = Arc::new(MemoryArchive::new());
    archive.insert("a", "x");
    let volume = tempfile::tempdir().unwrap();
    let engine = memory_engine(archive, volume.path());
    let id = uid("same");
    engine
        .submit(id.clone(), request(&[("a", "a", b"x")], false))
        .await
        .unwrap();
    let again = engine
        .submit(id.clone(), request(&[("a", "a", b"x")], false))
        .await;
    assert!(matches!(again, Err(Error::AlreadyExists(_))));
    engine.wait_settled(&id).await.unwrap();
    engine.delete(&id).await.unwrap();
    engine
        .submit(id.clone(), request(&[("a", "b", b"x")], false))
        .await
        .unwrap();
    let cart = engine.wait_settled(&id).await.unwrap();
    assert_eq!(cart.status, CartStatus::Ready);
    assert_eq!(cart.files[0].path.as_str(), "b");
}

async fn settle_with(behavior: Behavior, data: &'static [u8]) -> cart_core::Cart {
    let archive = Arc::new(MemoryArchive::new());
    archive.insert_with("f", Bytes::from_static(data), behavior);
    archive.insert("ok", "fine");
    let volume = tempfile::tempdir().unwrap();
    let engine = memory_engine(archive, volume.path());
    let id = uid("c");
    engine
        .submit(
            id.clone(),
            request(&[("ok", "ok.txt", b"fine"), ("f", "f.bin", data)], false),
        )
        .await
        .unwrap();
    let cart = engine.wait_settled(&id).await.unwrap();
    assert_eq!(cart.status, CartStatus::Error);
    assert!(
        !volume.path().join("cart-core-carts/c/files/1").exists(),
        "a failed file must not be left as staged"
    );
    cart
}

#[tokio::test(start_paused = true)]
async fn hash_mismatch_ends_in_error() {
    let cart = settle_with(
        Behavior {
            served: Some(Bytes::from_static(b"evil")),
            ..Behavior::default()
        },
        b"good",
    )
    .await;
    assert!(
        cart.message
            .starts_with("Failed to pull file(sha256 mismatch for f"),
        "{}",
        cart.message
    );
    assert_eq!(cart.files[1].status, FileStatus::Error);
    assert!(cart.files[1].error.contains("mismatch"));
}

#[tokio::test(start_paused = true)]
async fn size_mismatch_ends_in_error() {
    let cart = settle_with(
        Behavior {
            reported_size: Some(3),
            ..Behavior::default()
        },
        b"good",
    )
    .await;
    assert!(
        cart.message
            .contains("size mismatch for f: expected 3 bytes"),
        "{}",
        cart.message
    );
}

#[tokio::test(start_paused = true)]
async fn archive_5xx_is_retried_then_ends_in_error() {
    let cart = settle_with(
        Behavior {
            always_fail: true,
            ..Behavior::default()
        },
        b"good",
    )
    .await;
    assert_eq!(
        cart.message,
        "Failed to pull file(archive error: 500 Internal Server Error for f)"
    );
}

#[tokio::test(start_paused = true)]
async fn transient_5xx_recovers() {
    let archive = Arc::new(MemoryArchive::new());
    archive.insert_with(
        "f",
        "data",
        Behavior {
            failures: 2,
            ready_after_polls: Some(3),
            ..Behavior::default()
        },
    );
    let volume = tempfile::tempdir().unwrap();
    let engine = memory_engine(archive, volume.path());
    let id = uid("flaky");
    engine
        .submit(id.clone(), request(&[("f", "f", b"data")], false))
        .await
        .unwrap();
    let cart = engine.wait_settled(&id).await.unwrap();
    assert_eq!(cart.status, CartStatus::Ready, "{}", cart.message);
}

#[tokio::test(start_paused = true)]
async fn never_ready_times_out() {
    let started = tokio::time::Instant::now();
    let cart = settle_with(
        Behavior {
            ready_after_polls: Some(u32::MAX),
            ..Behavior::default()
        },
        b"good",
    )
    .await;
    assert_eq!(
        cart.message,
        "Failed to pull file(timed out: file f was not ready 600s after staging)"
    );
    // The paused clock jumped over the deadline; no real time was spent waiting.
    assert!(started.elapsed() >= Duration::from_secs(600));
}

#[tokio::test(start_paused = true)]
async fn stalled_read_times_out() {
    let cart = settle_with(
        Behavior {
            stall: true,
            ..Behavior::default()
        },
        b"good",
    )
    .await;
    assert_eq!(
        cart.message,
        "Failed to pull file(timed out: no data for 30s while reading file f)"
    );
}

#[tokio::test(start_paused = true)]
async fn unknown_archive_id_ends_in_error() {
    let archive = Arc::new(MemoryArchive::new());
    let volume = tempfile::tempdir().unwrap();
    let engine = memory_engine(archive, volume.path());
    let id = uid("missing");
    engine
        .submit(id.clone(), request(&[("nope", "n", b"")], false))
        .await
        .unwrap();
    let cart = engine.wait_settled(&id).await.unwrap();
    assert_eq!(
        cart.message,
        "Failed to pull file(not found: archive file nope)"
    );
}

#[tokio::test(start_paused = true)]
async fn delete_while_staging_cancels_work() {
    let archive = Arc::new(MemoryArchive::new());
    archive.insert_with(
        "slow",
        "data",
        Behavior {
            ready_after_polls: Some(u32::MAX),
            ..Behavior::default()
        },
    );
    let volume = tempfile::tempdir().unwrap();
    let engine = memory_engine(archive, volume.path());
    let id = uid("staging");
    engine
        .submit(id.clone(), request(&[("slow", "s", b"data")], false))
        .await
        .unwrap();
    wait_for(&engine, &id, CartStatus::Staging).await;
    assert!(engine.delete(&id).await.unwrap());
    tokio::time::sleep(Duration::from_secs(3600)).await;
    let cart = engine.status(&id).await.unwrap().unwrap();
    assert_eq!(cart.status, CartStatus::Deleted, "{}", cart.message);
    assert!(cart.lease.is_none());
    assert!(!volume.path().join("cart-core-carts/staging").exists());
}

/// A space probe that blocks its `block_at`-th call until released.
#[derive(Debug)]
struct GateProbe {
    calls: std::sync::atomic::AtomicUsize,
    block_at: usize,
    entered: std::sync::Mutex<std::sync::mpsc::Sender<()>>,
    release: std::sync::Mutex<std::sync::mpsc::Receiver<()>>,
}

impl SpaceProbe for GateProbe {
    fn available(&self, volume: &std::path::Path) -> std::io::Result<u64> {
        let n = self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
        if n == self.block_at {
            self.entered.lock().unwrap().send(()).unwrap();
            let _ = self
                .release
                .lock()
                .unwrap()
                .recv_timeout(Duration::from_secs(10));
        }
        SimulatedDisk::new(u64::MAX / 2).available(volume)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_during_bundling_cancels_and_cleans_up() {
    let archive = Arc::new(MemoryArchive::new());
    archive.insert("a", "aaa");
    archive.insert("b", "bbb");
    let (entered_tx, entered_rx) = std::sync::mpsc::channel();
    let (release_tx, release_rx) = std::sync::mpsc::channel();
    let probe = GateProbe {
        calls: Default::default(),
        // One call per file, then the tar's own space check.
        block_at: 3,
        entered: std::sync::Mutex::new(entered_tx),
        release: std::sync::Mutex::new(release_rx),
    };
    let volume = tempfile::tempdir().unwrap();
    let engine = Engine::builder(MemoryStore::new(), archive)
        .volume(volume.path())
        .config(EngineConfig {
            max_concurrent_files: std::num::NonZeroUsize::new(1).unwrap(),
            ..fast_config()
        })
        .space_probe(probe)
        .build()
        .unwrap();
    let id = uid("bundling");
    engine
        .submit(
            id.clone(),
            request(&[("a", "a", b"aaa"), ("b", "b", b"bbb")], true),
        )
        .await
        .unwrap();
    tokio::task::spawn_blocking(move || entered_rx.recv_timeout(Duration::from_secs(10)))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        engine.status(&id).await.unwrap().unwrap().status,
        CartStatus::Bundling
    );
    assert!(engine.delete(&id).await.unwrap());
    release_tx.send(()).unwrap();
    let cart = engine.status(&id).await.unwrap().unwrap();
    assert_eq!(cart.status, CartStatus::Deleted);
    assert!(!volume.path().join("cart-core-carts/bundling").exists());
    assert!(matches!(
        engine.download(&id, None).await,
        Err(Error::NotFound(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_during_download_fails_the_stream_visibly() {
    let archive = Arc::new(MemoryArchive::new());
    let big = vec![7u8; 8 * 1024 * 1024];
    archive.insert("big", big.clone());
    let volume = tempfile::tempdir().unwrap();
    let engine = memory_engine(archive, volume.path());
    let id = uid("dl");
    engine
        .submit(id.clone(), request(&[("big", "big", &big)], false))
        .await
        .unwrap();
    assert_eq!(
        engine.wait_settled(&id).await.unwrap().status,
        CartStatus::Ready
    );
    let dl = engine.download(&id, None).await.unwrap();
    let total = dl.content_length();
    let mut stream = Box::pin(dl.into_stream());
    let first = stream.next().await.unwrap().unwrap();
    assert!(!first.is_empty());
    assert!(engine.delete(&id).await.unwrap());
    let mut got = first.len() as u64;
    let mut failed = false;
    while let Some(item) = stream.next().await {
        match item {
            Ok(c) => got += c.len() as u64,
            Err(e) => {
                assert_eq!(e.kind(), std::io::ErrorKind::Interrupted);
                failed = true;
            }
        }
    }
    assert!(failed, "a deleted cart's download must end with an error");
    assert!(got < total);
}

#[tokio::test]
async fn not_ready_and_unknown_downloads() {
    let archive = Arc::new(MemoryArchive::new());
    archive.insert_with(
        "slow",
        "x",
        Behavior {
            ready_after_polls: Some(u32::MAX),
            ..Behavior::default()
        },
    );
    let volume = tempfile::tempdir().unwrap();
    let engine = memory_engine(archive, volume.path());
    let id = uid("wait");
    engine
        .submit(id.clone(), request(&[("slow", "s", b"x")], false))
        .await
        .unwrap();
    assert!(matches!(
        engine.download(&id, None).await,
        Err(Error::NotReady { .. })
    ));
    assert!(matches!(
        engine.download(&uid("nobody"), None).await,
        Err(Error::NotFound(_))
    ));
    engine.shutdown().await;
}

/// An archive whose reads take a while, recording how many run at once.
#[derive(Debug, Default)]
struct CountingArchive {
    now: std::sync::atomic::AtomicUsize,
    peak: std::sync::atomic::AtomicUsize,
}

#[async_trait::async_trait]
impl cart_core::Archive for CountingArchive {
    async fn stage(&self, _: &cart_core::ArchiveId) -> cart_core::Result<()> {
        Ok(())
    }
    async fn status(
        &self,
        _: &cart_core::ArchiveId,
    ) -> cart_core::Result<cart_core::ArchiveStatus> {
        Ok(cart_core::ArchiveStatus {
            size: Some(1),
            ready: true,
            message: String::new(),
        })
    }
    async fn read(&self, _: &cart_core::ArchiveId) -> cart_core::Result<cart_core::ByteStream> {
        use std::sync::atomic::Ordering::SeqCst;
        let n = self.now.fetch_add(1, SeqCst) + 1;
        self.peak.fetch_max(n, SeqCst);
        tokio::time::sleep(Duration::from_secs(5)).await;
        self.now.fetch_sub(1, SeqCst);
        Ok(futures::stream::iter([Ok(Bytes::from_static(b"x"))]).boxed())
    }
}

#[tokio::test(start_paused = true)]
async fn file_transfers_are_bounded_over_all_carts() {
    let archive = Arc::new(CountingArchive::default());
    let volume = tempfile::tempdir().unwrap();
    let engine = Engine::builder(MemoryStore::new(), Arc::clone(&archive))
        .volume(volume.path())
        .config(EngineConfig {
            max_concurrent_files: std::num::NonZeroUsize::new(3).unwrap(),
            max_concurrent_carts: std::num::NonZeroUsize::new(2).unwrap(),
            ..fast_config()
        })
        .build()
        .unwrap();
    let files: Vec<(String, String)> = (0..6).map(|i| (format!("f{i}"), format!("p{i}"))).collect();
    let refs: Vec<(&str, &str, &[u8])> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str(), &b"x"[..]))
        .collect();
    let ids: Vec<_> = (0..4).map(|i| uid(&format!("c{i}"))).collect();
    for id in &ids {
        engine
            .submit(id.clone(), request(&refs, false))
            .await
            .unwrap();
    }
    for id in &ids {
        let cart = engine.wait_settled(id).await.unwrap();
        assert_eq!(cart.status, CartStatus::Ready, "{}", cart.message);
    }
    assert_eq!(archive.peak.load(std::sync::atomic::Ordering::SeqCst), 3);
}
