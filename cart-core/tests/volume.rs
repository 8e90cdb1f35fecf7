//! The volume: nothing outside a cart's own data is touched, staged files are stored under
//! names the engine chooses, and space limits fail early.

mod common;

use cart_core::testing::{Behavior, MemoryArchive};
use cart_core::{
    CartStatus, Engine, EngineConfig, Error, FileStatus, MemoryStore, SimulatedDisk, Volume,
};
use common::*;
use std::path::Path;
use std::sync::Arc;

/// Foreign entries named like uids (and like the engine's own files) in `VOLUME_PATH`.
fn plant_foreign(volume: &Path) {
    for dir in ["a", "b", "gone", "nope", "tmp", "files"] {
        std::fs::create_dir_all(volume.join(dir).join("files")).unwrap();
        std::fs::write(volume.join(dir).join("files/0"), b"not a cart").unwrap();
        std::fs::write(volume.join(dir).join("bundle.tar"), b"not a tar").unwrap();
    }
    std::fs::write(volume.join("a.part"), b"foreign file").unwrap();
}

/// Path -> bytes of every file under `dir`, outside the engine's own directory.
fn foreign(dir: &Path) -> Vec<(String, Vec<u8>)> {
    tree(dir)
        .into_iter()
        .filter(|p| !p.starts_with("cart-core-carts"))
        .map(|p| {
            let full = dir.join(&p);
            let data = if full.is_file() {
                std::fs::read(&full).unwrap()
            } else {
                Vec::new()
            };
            (p, data)
        })
        .collect()
}

#[tokio::test]
async fn foreign_entries_named_like_uids_survive_delete_eviction_and_work() {
    let volume = tempfile::tempdir().unwrap();
    plant_foreign(volume.path());
    let before = foreign(volume.path());
    assert!(before.len() > 10);

    let archive = Arc::new(MemoryArchive::new());
    for id in ["a", "gone"] {
        archive.insert(id, vec![7u8; 3000]);
    }
    archive.insert("b", vec![7u8; 12_000]);
    let engine = Engine::builder(MemoryStore::new(), archive)
        .volume(volume.path())
        .config(fast_config())
        // Room for the first two carts; the third evicts the least recently used.
        .space_probe(SimulatedDisk::new(
            before.iter().map(|f| f.1.len() as u64).sum::<u64>() + 20_000,
        ))
        .build()
        .unwrap();
    for (name, bundle) in [("a", false), ("gone", true)] {
        let id = uid(name);
        engine
            .submit(
                id.clone(),
                request(&[(name, "x/f.bin", &[7u8; 3000])], bundle),
            )
            .await
            .unwrap();
        assert_eq!(
            engine.wait_settled(&id).await.unwrap().status,
            CartStatus::Ready
        );
        let bytes = engine
            .download(&id, None)
            .await
            .unwrap()
            .write_to(Vec::new())
            .await
            .unwrap();
        assert_eq!(tar_files(&bytes).len(), 1);
    }
    // Unknown uids whose names exist as foreign directories: nothing is removed.
    for name in ["nope", "tmp", "files", "b"] {
        assert!(!engine.delete(&uid(name)).await.unwrap());
    }
    // Eviction: `a` (least recently used) goes to make room for `b`.
    engine
        .submit(uid("b"), request(&[("b", "f", &[7u8; 12_000])], false))
        .await
        .unwrap();
    assert_eq!(
        engine.wait_settled(&uid("b")).await.unwrap().status,
        CartStatus::Ready
    );
    assert_eq!(
        engine.status(&uid("a")).await.unwrap().unwrap().status,
        CartStatus::Deleted
    );
    // A known cart deleted twice.
    assert!(engine.delete(&uid("gone")).await.unwrap());
    assert!(!engine.delete(&uid("gone")).await.unwrap());
    assert!(engine.delete(&uid("b")).await.unwrap());

    assert_eq!(foreign(volume.path()), before);
    // The engine's own directory is back to its marker.
    assert_eq!(
        tree(&volume.path().join("cart-core-carts")),
        [".cart-core-owned"]
    );
}

#[tokio::test]
async fn a_foreign_file_inside_a_cart_directory_is_left_alone() {
    let volume = tempfile::tempdir().unwrap();
    let archive = Arc::new(MemoryArchive::new());
    archive.insert("f", b"data".to_vec());
    let engine = memory_engine(archive, volume.path());
    let id = uid("c1");
    engine
        .submit(id.clone(), request(&[("f", "f", b"data")], false))
        .await
        .unwrap();
    engine.wait_settled(&id).await.unwrap();
    let cart_dir = volume.path().join("cart-core-carts/c1");
    std::fs::write(cart_dir.join("notes.txt"), b"someone else's").unwrap();
    assert!(engine.delete(&id).await.unwrap());
    assert_eq!(tree(&cart_dir), ["notes.txt"]);
}

#[test]
fn an_unmarked_engine_directory_is_refused() {
    let volume = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(volume.path().join("cart-core-carts/precious")).unwrap();
    let err = Volume::new(volume.path()).unwrap_err();
    assert!(
        matches!(err, Error::InvalidInput { what: "volume", .. }),
        "{err:?}"
    );
    assert!(volume.path().join("cart-core-carts/precious").is_dir());
    // Empty, or marked: it is ours.
    let fresh = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(fresh.path().join("cart-core-carts")).unwrap();
    let v = Volume::new(fresh.path()).unwrap();
    assert!(v.carts_dir().join(".cart-core-owned").is_file());
    Volume::new(fresh.path()).unwrap();
}

#[tokio::test]
async fn staged_files_have_names_of_the_engines_choosing() {
    let volume = tempfile::tempdir().unwrap();
    let archive = Arc::new(MemoryArchive::new());
    let files: [(&str, &str, &[u8]); 4] = [
        ("1", "Dir/A.txt", b"upper"),
        ("2", "dir/a.txt", b"lower"),
        ("3", "caf\u{e9}", b"composed"),
        ("4", "dir/cafe\u{301}x", b"decomposed"),
    ];
    for (id, _, data) in files {
        archive.insert(id, data.to_vec());
    }
    let engine = memory_engine(archive, volume.path());
    let id = uid("names");
    engine
        .submit(id.clone(), request(&files, false))
        .await
        .unwrap();
    assert_eq!(
        engine.wait_settled(&id).await.unwrap().status,
        CartStatus::Ready
    );
    let cart_dir = volume.path().join("cart-core-carts/names");
    assert_eq!(
        tree(&cart_dir),
        ["files", "files/0", "files/1", "files/2", "files/3", "tmp"]
    );
    let name = "x.tar".parse().unwrap();
    let bytes = engine
        .download(&id, Some(name))
        .await
        .unwrap()
        .write_to(Vec::new())
        .await
        .unwrap();
    let got = tar_files(&bytes);
    assert_eq!(
        got,
        vec![
            ("x/Dir/A.txt".to_owned(), b"upper".to_vec()),
            ("x/dir/a.txt".to_owned(), b"lower".to_vec()),
            ("x/caf\u{e9}".to_owned(), b"composed".to_vec()),
            ("x/dir/caf\u{e9}x".to_owned(), b"decomposed".to_vec()),
        ]
    );
}

#[tokio::test]
async fn a_file_of_unknown_size_is_bounded() {
    let volume = tempfile::tempdir().unwrap();
    let archive = Arc::new(MemoryArchive::new());
    let unknown = Behavior {
        size_unknown: true,
        ..Behavior::default()
    };
    archive.insert_with("small", vec![1u8; 1000], unknown.clone());
    archive.insert_with("big", vec![1u8; 5000], unknown);
    let engine = Engine::builder(MemoryStore::new(), archive)
        .volume(volume.path())
        .config(EngineConfig {
            max_unknown_size: 4096,
            ..fast_config()
        })
        .build()
        .unwrap();
    let ok = uid("ok");
    engine
        .submit(ok.clone(), request(&[("small", "s", &[1u8; 1000])], false))
        .await
        .unwrap();
    let cart = engine.wait_settled(&ok).await.unwrap();
    assert_eq!(cart.status, CartStatus::Ready, "{}", cart.message);
    assert_eq!(cart.files[0].size, Some(1000));

    let too_big = uid("too-big");
    engine
        .submit(
            too_big.clone(),
            request(&[("big", "b", &[1u8; 5000])], false),
        )
        .await
        .unwrap();
    let cart = engine.wait_settled(&too_big).await.unwrap();
    assert_eq!(cart.status, CartStatus::Error);
    assert!(
        cart.message
            .contains("larger than the maximum of 4096 bytes"),
        "{}",
        cart.message
    );
    assert_eq!(cart.files[0].status, FileStatus::Error);
}

#[tokio::test]
async fn a_reservation_larger_than_the_volume_fails_at_once() {
    let volume = tempfile::tempdir().unwrap();
    let archive = Arc::new(MemoryArchive::new());
    archive.insert("old", vec![1u8; 3000]);
    archive.insert("huge", vec![1u8; 20_000]);
    let engine = Engine::builder(MemoryStore::new(), archive)
        .volume(volume.path())
        .config(fast_config())
        .space_probe(SimulatedDisk::new(10_000))
        .build()
        .unwrap();
    let old = uid("old");
    engine
        .submit(old.clone(), request(&[("old", "o", &[1u8; 3000])], false))
        .await
        .unwrap();
    assert_eq!(
        engine.wait_settled(&old).await.unwrap().status,
        CartStatus::Ready
    );
    let huge = uid("huge");
    engine
        .submit(
            huge.clone(),
            request(&[("huge", "h", &[1u8; 20_000])], false),
        )
        .await
        .unwrap();
    let cart = engine.wait_settled(&huge).await.unwrap();
    assert_eq!(
        (cart.status, cart.message.as_str()),
        (CartStatus::Error, "No Space Available")
    );
    // Nothing was evicted for it.
    assert_eq!(
        engine.status(&old).await.unwrap().unwrap().status,
        CartStatus::Ready
    );
    assert!(matches!(
        engine.make_room(10_001).await,
        Err(Error::NoSpace)
    ));
    assert_eq!(
        engine.status(&old).await.unwrap().unwrap().status,
        CartStatus::Ready
    );
}

#[tokio::test]
async fn a_bundled_cart_keeps_only_its_tar() {
    let volume = tempfile::tempdir().unwrap();
    let archive = Arc::new(MemoryArchive::new());
    archive.insert("x", vec![3u8; 2000]);
    archive.insert("y", vec![4u8; 10]);
    let engine = memory_engine(archive, volume.path());
    let id = uid("tarred");
    let files: [(&str, &str, &[u8]); 2] = [("x", "d/x", &[3u8; 2000]), ("y", "y", &[4u8; 10])];
    engine
        .submit(id.clone(), request(&files, true))
        .await
        .unwrap();
    assert_eq!(
        engine.wait_settled(&id).await.unwrap().status,
        CartStatus::Ready
    );
    let cart_dir = volume.path().join("cart-core-carts/tarred");
    assert_eq!(tree(&cart_dir), ["bundle.tar", "tmp"]);
    // Any name still downloads, read out of the tar.
    for name in [None, Some("other name (2).tar".parse().unwrap())] {
        let dl = engine.download(&id, name).await.unwrap();
        let len = dl.content_length();
        let chunks: Vec<_> = futures::StreamExt::collect(dl.into_stream()).await;
        let bytes: Vec<u8> = chunks
            .into_iter()
            .flat_map(|c| c.unwrap().to_vec())
            .collect();
        assert_eq!(bytes.len() as u64, len);
        let got = tar_files(&bytes);
        assert_eq!(got.len(), 2);
        assert!(got[0].0.ends_with("/d/x") && got[0].1 == vec![3u8; 2000]);
        assert!(got[1].0.ends_with("/y") && got[1].1 == vec![4u8; 10]);
    }
    assert!(engine.delete(&id).await.unwrap());
    assert!(!cart_dir.exists());
}
