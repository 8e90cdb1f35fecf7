//! Archive backends against real peers: the Pacifica archive interface (started by
//! `scripts/test`, `ARCHIVE_INTERFACE_URL`) and S3 on the emulator.

#[path = "../../support/emulator.rs"]
mod emulator;

mod common;

use cart_core::{Archive, ArchiveId, CartStatus, Engine, Error, MemoryStore};
use common::*;
use futures::TryStreamExt;

/// The archive interface URL, or `None` after a visible SKIPPED line (fails under CI).
fn archive_interface(test: &str) -> Option<String> {
    match std::env::var("ARCHIVE_INTERFACE_URL") {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var_os("CI").is_none(),
                "{test}: ARCHIVE_INTERFACE_URL is not set; run `{}`",
                emulator::TEST_COMMAND
            );
            eprintln!(
                "SKIPPED (needs archive interface): {test}: run `{}`",
                emulator::TEST_COMMAND
            );
            None
        }
    }
}

async fn put(url: &str, id: &str, data: &[u8]) {
    let resp = reqwest::Client::new()
        .put(format!("{url}{id}"))
        .header("Content-Type", "application/octet-stream")
        .header("Last-Modified", "Sun, 06 Nov 1994 08:49:37 GMT")
        .body(data.to_vec())
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "PUT {id}: {}", resp.status());
}

async fn read_all(archive: &dyn Archive, id: &ArchiveId) -> Vec<u8> {
    let chunks: Vec<_> = archive.read(id).await.unwrap().try_collect().await.unwrap();
    chunks.concat()
}

/// One test, so requests to the (not thread-safe) archive interface never overlap.
#[tokio::test]
async fn pacifica_archive_interface() {
    let Some(url) = archive_interface("pacifica_archive_interface") else {
        return;
    };
    pacifica_archive_protocol(&url).await;
    pacifica_archive_full_cart_and_5xx(&url).await;
}

async fn pacifica_archive_protocol(url: &str) {
    let url = url.to_owned();
    let archive = cart_core::PacificaArchive::new(&url).unwrap();
    let name = emulator::unique_name("pa");
    let data: Vec<u8> = (0..200_000u32).map(|i| (i % 97) as u8).collect();
    put(&url, &name, &data).await;
    let id = ArchiveId::new(&name).unwrap();
    archive.stage(&id).await.unwrap();
    let status = archive.status(&id).await.unwrap();
    assert_eq!(status.size, Some(data.len() as u64));
    assert!(status.ready, "{status:?}");
    assert_eq!(read_all(&archive, &id).await, data);

    // The archive interface answers 500 for unknown ids: a retryable archive error.
    let missing = ArchiveId::new(&emulator::unique_name("missing")).unwrap();
    match archive.status(&missing).await {
        Err(Error::Archive {
            retryable, message, ..
        }) => {
            assert!(retryable);
            assert!(message.contains("500"), "{message}");
        }
        other => panic!("{other:?}"),
    }
}

async fn pacifica_archive_full_cart_and_5xx(url: &str) {
    let url = url.to_owned();
    let a = emulator::unique_name("cart-a");
    let b = emulator::unique_name("cart-b");
    put(&url, &a, b"alpha").await;
    put(&url, &b, b"bravo").await;
    let volume = tempfile::tempdir().unwrap();
    let engine = Engine::builder(
        MemoryStore::new(),
        cart_core::PacificaArchive::new(&url).unwrap(),
    )
    .volume(volume.path())
    .config(fast_config())
    .build()
    .unwrap();
    let id = uid("pacifica");
    engine
        .submit(
            id.clone(),
            request(
                &[(&a, "1/2/3/a.txt", b"alpha"), (&b, "b.txt", b"bravo")],
                true,
            ),
        )
        .await
        .unwrap();
    let cart = engine.wait_settled(&id).await.unwrap();
    assert_eq!(cart.status, CartStatus::Ready, "{}", cart.message);
    let dl = engine
        .download(&id, Some("out.tar".parse().unwrap()))
        .await
        .unwrap();
    let files = tar_files(&dl.write_to(Vec::new()).await.unwrap());
    assert_eq!(
        files,
        [
            ("out/1/2/3/a.txt".to_owned(), b"alpha".to_vec()),
            ("out/b.txt".to_owned(), b"bravo".to_vec())
        ]
    );

    let bad = uid("pacifica-missing");
    let missing = emulator::unique_name("nothing");
    engine
        .submit(bad.clone(), request(&[(&missing, "x", b"")], false))
        .await
        .unwrap();
    let cart = engine.wait_settled(&bad).await.unwrap();
    assert_eq!(cart.status, CartStatus::Error);
    assert!(
        cart.message
            .starts_with("Failed to pull file(archive error: status of")
            && cart.message.contains("500"),
        "{}",
        cart.message
    );
}

#[tokio::test]
async fn s3_archive_reads_objects() {
    let Some(config) = emulator::sdk_config("s3_archive_reads_objects").await else {
        return;
    };
    let client = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&config)
            .force_path_style(true)
            .build(),
    );
    let bucket = emulator::unique_name("carts");
    client.create_bucket().bucket(&bucket).send().await.unwrap();
    let data = vec![5u8; 100_000];
    client
        .put_object()
        .bucket(&bucket)
        .key("archive/dir/obj.bin")
        .body(data.clone().into())
        .send()
        .await
        .unwrap();
    let archive = cart_core::S3Archive::new(client, &bucket).with_prefix("archive/");
    let id = ArchiveId::new("dir/obj.bin").unwrap();
    archive.stage(&id).await.unwrap();
    let status = archive.status(&id).await.unwrap();
    assert_eq!(status.size, Some(100_000));
    assert!(status.ready);
    assert_eq!(read_all(&archive, &id).await, data);
    let missing = ArchiveId::new("nope").unwrap();
    assert!(matches!(
        archive.status(&missing).await,
        Err(Error::NotFound(_))
    ));

    let volume = tempfile::tempdir().unwrap();
    let engine = Engine::builder(MemoryStore::new(), archive)
        .volume(volume.path())
        .config(fast_config())
        .build()
        .unwrap();
    let cart_id = uid("s3cart");
    engine
        .submit(
            cart_id.clone(),
            request(&[("dir/obj.bin", "o.bin", &data)], false),
        )
        .await
        .unwrap();
    let cart = engine.wait_settled(&cart_id).await.unwrap();
    assert_eq!(cart.status, CartStatus::Ready, "{}", cart.message);
}
