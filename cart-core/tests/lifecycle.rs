//! Restarts (SQLite) and space: recovery after a restart, LRU eviction order, carts in use.

mod common;

use cart_core::testing::{Behavior, MemoryArchive};
use cart_core::{
    CartStatus, CartStore, Engine, EngineConfig, FileStatus, ManualClock, MemoryStore,
    SimulatedDisk, SqliteStore, Step, Timestamp, store,
};
use common::*;
use std::sync::Arc;
use std::time::Duration;

#[tokio::test]
async fn restart_resumes_interrupted_work_from_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("carts.db");
    let volume = dir.path().join("volume");
    let id = uid("restart");
    {
        let archive = Arc::new(MemoryArchive::new());
        archive.insert("fast", "fast");
        archive.insert_with(
            "slow",
            "slow",
            Behavior {
                ready_after_polls: Some(u32::MAX),
                ..Behavior::default()
            },
        );
        let engine = Engine::builder(SqliteStore::open(&db).await.unwrap(), archive)
            .volume(&volume)
            .config(fast_config())
            .build()
            .unwrap();
        engine
            .submit(
                id.clone(),
                request(
                    &[("fast", "a/fast", b"fast"), ("slow", "b/slow", b"slow")],
                    true,
                ),
            )
            .await
            .unwrap();
        for _ in 0..2000 {
            let cart = engine.status(&id).await.unwrap().unwrap();
            if cart.files[0].status == FileStatus::Staged {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        // The process goes away mid-staging.
        engine.shutdown().await;
        let cart = engine.status(&id).await.unwrap().unwrap();
        assert_eq!(cart.status, CartStatus::Staging);
        assert_eq!(cart.files[0].status, FileStatus::Staged);
        assert_eq!(cart.files[1].status, FileStatus::Staging);
    }
    // A new process on the same database and volume, with the archive now serving the file.
    let archive = Arc::new(MemoryArchive::new());
    archive.insert("slow", "slow");
    let engine = Engine::builder(SqliteStore::open(&db).await.unwrap(), archive)
        .volume(&volume)
        .config(fast_config())
        .build()
        .unwrap();
    let report = engine.recover().await.unwrap();
    assert_eq!(report.resumed, vec![id.clone()]);
    assert!(report.failed.is_empty());
    let cart = engine.wait_settled(&id).await.unwrap();
    assert_eq!(cart.status, CartStatus::Ready, "{}", cart.message);
    assert_eq!(cart.restarts, 1);
    // "fast" was not fetched again (the new archive does not have it) yet is in the tar.
    let dl = engine.download(&id, None).await.unwrap();
    let files = tar_files(&dl.write_to(Vec::new()).await.unwrap());
    let names: Vec<_> = files
        .iter()
        .map(|(p, _)| p.rsplit('/').next().unwrap())
        .collect();
    assert_eq!(names, ["fast", "slow"]);
}

#[tokio::test]
async fn recovery_fails_carts_interrupted_too_often_and_respects_live_leases() {
    let dir = tempfile::tempdir().unwrap();
    let db = SqliteStore::open(dir.path().join("carts.db"))
        .await
        .unwrap();
    let now = Timestamp::now();
    let mut stuck = cart_core::Cart::new(uid("stuck"), request(&[("a", "a", b"a")], true), now);
    stuck.apply(&Step::start_staging(), now).unwrap();
    stuck.apply(&Step::start_bundling(), now).unwrap();
    stuck.restarts = 3;
    db.insert(&stuck).await.unwrap();
    let mut other = cart_core::Cart::new(uid("other"), request(&[("a", "a", b"a")], false), now);
    other.apply(&Step::start_staging(), now).unwrap();
    db.insert(&other).await.unwrap();
    store::claim(
        &db,
        &other.uid,
        "node-2",
        now,
        Duration::from_secs(3600),
        None,
    )
    .await
    .unwrap();

    let archive = Arc::new(MemoryArchive::new());
    archive.insert("a", "a");
    let engine = Engine::builder(db.clone(), archive)
        .volume(dir.path().join("volume"))
        .config(fast_config())
        .build()
        .unwrap();
    let report = engine.recover().await.unwrap();
    assert!(report.resumed.is_empty());
    assert_eq!(report.failed.len(), 1);
    let cart = engine.status(&stuck.uid).await.unwrap().unwrap();
    assert_eq!(cart.status, CartStatus::Error);
    assert_eq!(
        cart.message,
        "Failed to pull file(work was interrupted 4 times by restarts)"
    );
    // node-2 holds a live lease on the other cart: left alone.
    let cart = engine.status(&other.uid).await.unwrap().unwrap();
    assert_eq!(cart.status, CartStatus::Staging);
    // No cart remains in staging or bundling without an owner.
    for c in db.list().await.unwrap() {
        if matches!(c.status, CartStatus::Staging | CartStatus::Bundling) {
            assert!(c.lease.is_some_and(|l| l.owner == "node-2"));
        }
    }
}

#[tokio::test]
async fn eviction_is_lru_oldest_first_and_spares_carts_in_use() {
    let archive = Arc::new(MemoryArchive::new());
    let data = vec![1u8; 3000];
    for id in ["a", "b", "c", "d", "e", "f", "g"] {
        archive.insert(id, data.clone());
    }
    let clock = Arc::new(ManualClock::new(Timestamp::from_unix_millis(1_000_000_000)));
    let volume = tempfile::tempdir().unwrap();
    let engine = Engine::builder(MemoryStore::new(), archive)
        .volume(volume.path())
        .config(EngineConfig {
            lru_buffer: Duration::from_secs(60),
            ..fast_config()
        })
        .space_probe(SimulatedDisk::new(10_000))
        .clock(clock.clone())
        .build()
        .unwrap();
    let submit = |name: &'static str| {
        let engine = engine.clone();
        let data = data.clone();
        async move {
            let id = uid(name);
            engine
                .submit(id.clone(), request(&[(name, "f.bin", &data)], false))
                .await
                .unwrap();
            engine.wait_settled(&id).await.unwrap()
        }
    };
    let status = |name: &'static str| {
        let engine = engine.clone();
        async move { engine.status(&uid(name)).await.unwrap().unwrap().status }
    };
    for name in ["a", "b", "c"] {
        assert_eq!(submit(name).await.status, CartStatus::Ready);
        clock.advance(Duration::from_secs(10));
    }
    clock.advance(Duration::from_secs(200));
    // b is being downloaded: in use and recently used.
    let download_b = engine.download(&uid("b"), None).await.unwrap();

    assert_eq!(submit("d").await.status, CartStatus::Ready);
    assert_eq!(status("a").await, CartStatus::Deleted, "oldest goes first");
    assert_eq!(status("c").await, CartStatus::Ready);
    assert!(!volume.path().join("cart-core-carts/a").exists());
    clock.advance(Duration::from_secs(1));

    assert_eq!(submit("e").await.status, CartStatus::Ready);
    assert_eq!(status("c").await, CartStatus::Deleted);
    assert_eq!(
        status("b").await,
        CartStatus::Ready,
        "in use: never evicted"
    );
    clock.advance(Duration::from_secs(1));

    let f = submit("f").await;
    assert_eq!(f.status, CartStatus::Error);
    assert_eq!(f.message, "No Space Available");
    for name in ["b", "d", "e"] {
        assert_eq!(status(name).await, CartStatus::Ready, "{name}");
    }

    // Once the download ends and the buffer time passes, b (least recently used) goes.
    drop(download_b);
    clock.advance(Duration::from_secs(120));
    assert_eq!(submit("g").await.status, CartStatus::Ready);
    assert_eq!(status("b").await, CartStatus::Deleted);
    assert_eq!(status("d").await, CartStatus::Ready);
}

#[tokio::test]
async fn bundle_space_counts_the_tar_itself() {
    let archive = Arc::new(MemoryArchive::new());
    archive.insert("x", vec![0u8; 4000]);
    let volume = tempfile::tempdir().unwrap();
    let engine = Engine::builder(MemoryStore::new(), archive)
        .volume(volume.path())
        .config(fast_config())
        .space_probe(SimulatedDisk::new(6000))
        .build()
        .unwrap();
    let id = uid("tar");
    engine
        .submit(id.clone(), request(&[("x", "x", &[0u8; 4000])], true))
        .await
        .unwrap();
    let cart = engine.wait_settled(&id).await.unwrap();
    assert_eq!(cart.status, CartStatus::Error);
    assert_eq!(cart.message, "No Space Available");
    assert_eq!(cart.files[0].status, FileStatus::Staged);
}
