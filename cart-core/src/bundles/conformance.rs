//! The conformance suite every [`BundleStore`] passes (exported as
//! `testing::bundle_conformance`).

use super::{BundleStore, Object};
use crate::{CartUid, Error};
use bytes::Bytes;
use futures::StreamExt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

fn uid(prefix: &str) -> CartUid {
    static N: AtomicU64 = AtomicU64::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    CartUid::new(&format!("{prefix}-{}-{n}", std::process::id())).expect("valid test uid")
}

fn pattern(seed: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

/// Reads a whole stream, or the first error (of the call or of the stream).
async fn read(
    store: &dyn BundleStore,
    uid: &CartUid,
    object: Object,
    start: u64,
    count: u64,
) -> crate::Result<Vec<u8>> {
    let mut stream = store.read(uid, object, start, count).await?;
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        out.extend_from_slice(&chunk?);
    }
    Ok(out)
}

fn body(data: &[u8], chunk: usize) -> crate::archive::ByteStream {
    let chunks: Vec<crate::Result<Bytes>> = data
        .chunks(chunk.max(1))
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    futures::stream::iter(chunks).boxed()
}

/// Runs every scenario; `scratch` is a directory for the local files being put.
pub async fn bundle_conformance(store: &dyn BundleStore, scratch: &Path) {
    files_are_put_sized_read_and_removed(store, scratch).await;
    bundles_are_written_whole_or_not_at_all(store).await;
    missing_objects_are_not_found(store).await;
}

async fn files_are_put_sized_read_and_removed(store: &dyn BundleStore, scratch: &Path) {
    let cart = uid("bundles-files");
    let small = pattern(1, 5000);
    // Larger than one part of a multipart upload.
    let large = pattern(2, super_part_size() + 4321);
    for (i, data) in [(0usize, &small), (2, &large)] {
        let staged = scratch.join(format!("{cart}-{i}.part"));
        std::fs::write(&staged, data).expect("write a staged file");
        store.put_file(&cart, i, &staged).await.expect("put_file");
        assert!(!staged.exists(), "put_file leaves the staged file behind");
    }
    let sizes = store.file_sizes(&cart, 4).await.expect("file_sizes");
    assert_eq!(
        sizes,
        [Some(5000), None, Some(large.len() as u64), None],
        "sizes of stored files"
    );
    let whole = read(store, &cart, Object::File(0), 0, 5000).await.unwrap();
    assert!(whole == small, "file 0 read back differs");
    let part = read(store, &cart, Object::File(2), 1_000_000, 70_000)
        .await
        .unwrap();
    assert!(
        part.as_slice() == &large[1_000_000..1_070_000],
        "a range of file 2 differs"
    );
    let empty = read(store, &cart, Object::File(0), 10, 0).await.unwrap();
    assert!(empty.is_empty());
    // A range past the end is an error, never a short success.
    assert!(
        read(store, &cart, Object::File(0), 4990, 20).await.is_err(),
        "a read past the end succeeded"
    );

    store.remove_files(&cart, 4).await.expect("remove_files");
    assert_eq!(
        store.file_sizes(&cart, 4).await.unwrap(),
        [None, None, None, None]
    );
    // Removing what is gone is fine.
    store
        .remove_files(&cart, 4)
        .await
        .expect("remove_files again");
    store.remove_cart(&cart, 4).await.expect("remove_cart");
}

fn super_part_size() -> usize {
    // The S3 store's part size: the large cases cross a part boundary on every backend.
    8 << 20
}

async fn bundles_are_written_whole_or_not_at_all(store: &dyn BundleStore) {
    let cart = uid("bundles-tar");
    let tar = pattern(3, 2 * super_part_size() + 777);
    store
        .write_bundle(&cart, body(&tar, 300_000), tar.len() as u64)
        .await
        .expect("write_bundle");
    let back = read(store, &cart, Object::Bundle, 0, tar.len() as u64)
        .await
        .unwrap();
    assert!(back == tar, "the bundle read back differs");
    let start = super_part_size() as u64 - 10;
    let range = read(store, &cart, Object::Bundle, start, 100)
        .await
        .unwrap();
    assert!(
        range.as_slice() == &tar[start as usize..start as usize + 100],
        "a range across a part boundary differs"
    );
    store.remove_cart(&cart, 0).await.expect("remove_cart");
    assert!(read(store, &cart, Object::Bundle, 0, 1).await.is_err());

    // A body shorter or longer than announced leaves no bundle behind.
    for (cart, data, len) in [
        (uid("bundles-short"), pattern(4, 1000), 1001u64),
        (uid("bundles-long"), pattern(5, 1000), 999),
        (
            uid("bundles-short-multipart"),
            pattern(6, super_part_size() + 10),
            super_part_size() as u64 + 11,
        ),
    ] {
        let written = store.write_bundle(&cart, body(&data, 4096), len).await;
        assert!(written.is_err(), "a body of the wrong length was accepted");
        assert!(
            read(store, &cart, Object::Bundle, 0, 1).await.is_err(),
            "a failed write left a bundle"
        );
    }
    // A body that fails midway leaves nothing either.
    let cart = uid("bundles-failing");
    let failing = futures::stream::iter(vec![
        Ok(Bytes::from(vec![1u8; 100])),
        Err(Error::Io(std::io::Error::other("source failed"))),
    ])
    .boxed();
    assert!(store.write_bundle(&cart, failing, 200).await.is_err());
    assert!(read(store, &cart, Object::Bundle, 0, 1).await.is_err());
}

async fn missing_objects_are_not_found(store: &dyn BundleStore) {
    let cart = uid("bundles-missing");
    for object in [Object::File(0), Object::Bundle] {
        match read(store, &cart, object, 0, 10).await {
            Err(Error::NotFound(_)) => {}
            other => panic!("reading a missing {object:?}: {other:?}"),
        }
    }
    assert_eq!(store.file_sizes(&cart, 2).await.unwrap(), [None, None]);
    store.remove_cart(&cart, 2).await.expect("removing nothing");
}
