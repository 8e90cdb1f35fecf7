//! The bundle store: one conformance suite for the volume and for S3 (on the emulator); carts
//! staged into S3 are served by any engine on the same cart store, byte for byte the tars the
//! volume gives; eviction frees only what the evicting server can free.

#[path = "../../support/emulator.rs"]
mod emulator;

mod common;

use cart_core::testing::{MemoryArchive, bundle_conformance};
use cart_core::{
    BundleStore, CartStatus, Engine, EngineConfig, Error, LocalBundles, MemoryStore, S3Bundles,
    SimulatedDisk, Volume,
};
use common::*;
use futures::TryStreamExt;
use std::sync::Arc;

async fn s3_client(test: &str) -> Option<(aws_sdk_s3::Client, String)> {
    let config = emulator::sdk_config(test).await?;
    let client = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&config)
            .force_path_style(true)
            .build(),
    );
    let bucket = emulator::unique_name("bundles");
    client.create_bucket().bucket(&bucket).send().await.unwrap();
    Some((client, bucket))
}

#[tokio::test]
async fn local_bundle_store_conformance() {
    let volume = tempfile::tempdir().unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let store = LocalBundles::new(Volume::new(volume.path()).unwrap());
    bundle_conformance(&store, scratch.path()).await;
}

#[tokio::test]
async fn s3_bundle_store_conformance() {
    let Some((client, bucket)) = s3_client("s3_bundle_store_conformance").await else {
        return;
    };
    let scratch = tempfile::tempdir().unwrap();
    let store = S3Bundles::new(client.clone(), &bucket, "shared/");
    bundle_conformance(&store, scratch.path()).await;
    // Everything the suite wrote, it removed.
    let left = client
        .list_objects_v2()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    assert_eq!(left.key_count(), Some(0), "{:?}", left.contents());
}

fn deterministic() -> EngineConfig {
    EngineConfig {
        deterministic_tar: true,
        ..fast_config()
    }
}

async fn bytes_of(dl: cart_core::Download) -> Vec<u8> {
    dl.write_to(Vec::new()).await.unwrap()
}

#[tokio::test]
async fn carts_in_s3_are_served_by_any_engine_with_the_volumes_bytes() {
    let Some((client, bucket)) =
        s3_client("carts_in_s3_are_served_by_any_engine_with_the_volumes_bytes").await
    else {
        return;
    };
    let archive = Arc::new(MemoryArchive::new());
    let big: Vec<u8> = (0..9_000_000u32).map(|i| (i % 251) as u8).collect();
    archive.insert("big", big.clone());
    archive.insert("small", b"small file".to_vec());
    let files: [(&str, &str, &[u8]); 2] = [
        ("big", "d/big.bin", &big),
        ("small", "d/e/small.txt", b"small file"),
    ];

    // The reference: the same carts on a local volume. One standing clock for all engines, so
    // the carts' creation times (default names, mtimes) are the same.
    let clock: Arc<dyn cart_core::Clock> = Arc::new(cart_core::ManualClock::new(
        cart_core::Timestamp::from_unix_millis(1_700_000_000_000),
    ));
    let local_dir = tempfile::tempdir().unwrap();
    let local = Engine::builder(MemoryStore::new(), Arc::clone(&archive))
        .volume(local_dir.path())
        .config(deterministic())
        .clock(Arc::clone(&clock))
        .build()
        .unwrap();

    let store = Arc::new(MemoryStore::new());
    let shared: Arc<dyn BundleStore> = Arc::new(S3Bundles::new(client, &bucket, "carts/"));
    let (va, vb) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let engine = |volume: &std::path::Path, node: &str| {
        Engine::builder(Arc::clone(&store), Arc::clone(&archive))
            .volume(volume)
            .config(EngineConfig {
                node_id: node.to_owned(),
                ..deterministic()
            })
            .bundles(Arc::clone(&shared))
            .clock(Arc::clone(&clock))
            .build()
            .unwrap()
    };
    let (a, b) = (engine(va.path(), "a"), engine(vb.path(), "b"));

    for (name, bundle) in [("bundled", true), ("streamed", false)] {
        let id = uid(name);
        for e in [&local, &a] {
            e.submit(id.clone(), request(&files, bundle)).await.unwrap();
            let cart = e.wait_settled(&id).await.unwrap();
            assert_eq!(cart.status, CartStatus::Ready, "{}", cart.message);
        }
        for dl_name in [None, Some("other name.tar")] {
            let n = dl_name.map(|n| n.parse().unwrap());
            let want = bytes_of(local.download(&id, n.clone()).await.unwrap()).await;
            // Served by the engine that did not stage it.
            let dl = b.download(&id, n).await.unwrap();
            assert_eq!(dl.content_length(), want.len() as u64);
            assert_eq!(dl.is_prebuilt(), bundle && dl_name.is_none());
            if dl.is_prebuilt() {
                let part: Vec<bytes::Bytes> = dl
                    .range_stream(1000, 5000)
                    .unwrap()
                    .try_collect()
                    .await
                    .unwrap();
                assert!(part.concat() == want[1000..6000], "a range differs");
            }
            let got = bytes_of(dl).await;
            assert!(
                got == want,
                "{name} {dl_name:?}: tar differs from the volume's"
            );
            assert_eq!(tar_files(&got).len(), 2);
        }
    }
    // Nothing of the carts stays on the servers' volumes.
    for v in [&va, &vb] {
        let left: Vec<_> = tree(v.path())
            .into_iter()
            .filter(|p| p.matches('/').count() > 0 && !p.ends_with(".cart-core-owned"))
            .collect();
        assert!(left.is_empty(), "{left:?}");
    }
    // A delete on one server removes the objects for all.
    let id = uid("bundled");
    assert!(b.delete(&id).await.unwrap());
    assert!(matches!(
        a.download(&id, None).await,
        Err(Error::NotFound(_))
    ));
    let sizes = shared.file_sizes(&id, 2).await.unwrap();
    assert_eq!(sizes, [None, None]);
}

#[tokio::test]
async fn eviction_frees_only_carts_on_the_evicting_servers_volume() {
    let archive = Arc::new(MemoryArchive::new());
    archive.insert("f", vec![1u8; 4000]);
    let store = Arc::new(MemoryStore::new());
    let (va, vb) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let engine = |volume: &std::path::Path, node: &str| {
        Engine::builder(Arc::clone(&store), Arc::clone(&archive))
            .volume(volume)
            .config(EngineConfig {
                node_id: node.to_owned(),
                ..fast_config()
            })
            .space_probe(SimulatedDisk::new(10_000))
            .build()
            .unwrap()
    };
    let (a, b) = (engine(va.path(), "a"), engine(vb.path(), "b"));
    // The oldest cart is b's; then a's own.
    for (e, name) in [(&b, "on-b"), (&a, "on-a")] {
        e.submit(uid(name), request(&[("f", "f", &[1u8; 4000])], false))
            .await
            .unwrap();
        assert_eq!(
            e.wait_settled(&uid(name)).await.unwrap().status,
            CartStatus::Ready
        );
    }
    // a needs 8000 bytes: only its own cart can make room; b's is not touched.
    a.make_room(8000).await.unwrap();
    let status = |n: &str| {
        let e = a.clone();
        let id = uid(n);
        async move { e.status(&id).await.unwrap().unwrap().status }
    };
    assert_eq!(status("on-a").await, CartStatus::Deleted);
    assert_eq!(status("on-b").await, CartStatus::Ready);
    assert!(matches!(a.make_room(9900).await, Err(Error::NoSpace)));
    assert_eq!(status("on-b").await, CartStatus::Ready);
    let got = bytes_of(b.download(&uid("on-b"), None).await.unwrap()).await;
    assert_eq!(tar_files(&got).len(), 1);
}

#[tokio::test]
async fn a_server_on_a_shared_store_evicts_nothing_to_fill_its_volume() {
    let Some((client, bucket)) =
        s3_client("a_server_on_a_shared_store_evicts_nothing_to_fill_its_volume").await
    else {
        return;
    };
    let archive = Arc::new(MemoryArchive::new());
    archive.insert("f", vec![1u8; 4000]);
    let volume = tempfile::tempdir().unwrap();
    let engine = Engine::builder(MemoryStore::new(), archive)
        .volume(volume.path())
        .config(fast_config())
        .space_probe(SimulatedDisk::new(10_000))
        .bundles(Arc::new(S3Bundles::new(client, &bucket, "")))
        .build()
        .unwrap();
    for name in ["one", "two", "three"] {
        engine
            .submit(uid(name), request(&[("f", "f", &[1u8; 4000])], true))
            .await
            .unwrap();
        let cart = engine.wait_settled(&uid(name)).await.unwrap();
        assert_eq!(cart.status, CartStatus::Ready, "{}", cart.message);
    }
    // Three carts of 4000 bytes fit a 10,000-byte volume: they are in S3, and evicting them
    // would free nothing here, so a reservation the volume cannot hold fails and marks none
    // deleted.
    assert!(matches!(engine.make_room(9000).await, Ok(())));
    assert!(matches!(engine.make_room(9900).await, Err(Error::NoSpace)));
    for name in ["one", "two", "three"] {
        let cart = engine.status(&uid(name)).await.unwrap().unwrap();
        assert_eq!(cart.status, CartStatus::Ready);
    }
}
