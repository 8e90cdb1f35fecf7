//! Large `read` answers (over `STREAM_AFTER` bytes) streamed by the real `haystack-server` process (#24): the body arrives
//! in many chunks (none larger than the chunk size), whole, and is exactly the grid a scan of
//! the same data finds, in Zinc and in JSON.

mod haystack_support;

use std::sync::Arc;

use examples::haystack::chunks::{CHUNK_BYTES, STREAM_AFTER};
use examples::haystack::db::Db;
use examples::haystack::formats::Format;
use examples::haystack::sample;
use examples::store::LocalStore;
use haystack_core::Grid;
use haystack_core::defs::Namespace;
use haystack_core::filter::{Filter, GridIndex};
use haystack_support::spawn_server;

/// The grid a scan finds for `filter` (in the standard namespace), as `read` answers it.
fn scanned(grid: &Grid, filter: &str) -> Grid {
    let f: Filter = filter.parse().unwrap();
    let bound = f.in_namespace(Namespace::standard()).unwrap();
    let rows: Vec<usize> = bound.select(grid, &GridIndex::new(grid)).collect();
    grid.select_rows(rows)
}

/// POSTs a read of `filter` asking for `accept`; the body's chunks as they arrived.
async fn read_chunks(
    client: &reqwest::Client,
    base: &str,
    filter: &str,
    accept: &str,
    streamed: bool,
) -> Vec<bytes::Bytes> {
    let request = format!(
        "ver:\"3.0\"\nfilter,limit\n{},100000\n",
        haystack_zinc::value_to_string(&filter.into())
    );
    let mut resp = client
        .post(format!("{base}/read"))
        .header("Content-Type", "text/zinc")
        .header("Accept", accept)
        .body(request)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "{filter}");
    assert_eq!(
        resp.headers().get("content-length").is_none(),
        streamed,
        "{filter}: a streamed body has no length known up front"
    );
    let mut chunks = Vec::new();
    while let Some(c) = resp.chunk().await.unwrap() {
        chunks.push(c);
    }
    chunks
}

#[tokio::test]
async fn large_reads_arrive_whole_in_chunks() {
    let dir = tempfile::tempdir().unwrap();
    // 80 sites: 16,080 entities; the points' answer is about 2 MB of Zinc.
    let grid = sample::campus(80);
    let source = dir.path().join("campus.zinc");
    std::fs::write(&source, haystack_zinc::to_string(&grid)).unwrap();
    let store_dir = dir.path().join("store");
    let store = Arc::new(LocalStore::open(&store_dir).unwrap());
    let db = Db::new(store.clone(), store);
    db.import(&source.to_string_lossy(), &|_| {}).await.unwrap();
    let grid = db.snapshot(None).await.unwrap().unwrap().grid.clone();
    drop(db);

    let server = spawn_server(&["--db", &store_dir.to_string_lossy()], &[]).expect("starts");
    let client = reqwest::Client::new();
    for (filter, accept, format) in [
        ("point", "text/zinc", Format::Zinc),
        ("equip or point", "application/json", Format::Json),
    ] {
        let expected = scanned(&grid, filter);
        let chunks = read_chunks(&client, &server.base, filter, accept, true).await;
        let body: Vec<u8> = chunks.iter().flat_map(|c| c.iter().copied()).collect();
        let text = String::from_utf8(body).unwrap();
        // Byte for byte what the whole-grid writer gives, and read back the same grid.
        assert_eq!(text, format.write_grid(&expected).unwrap(), "{filter}");
        let got = format.read_grid(&text).unwrap();
        assert_eq!(got.len(), expected.len(), "{filter}");
        assert!(got.len() > 5_000, "{filter}: a large answer");
        assert!(
            text.len() > STREAM_AFTER,
            "{filter}: {} bytes, several chunks' worth",
            text.len()
        );
        // Sent as encoded: many chunks, none over the chunk size (the transport may split
        // them further, never join beyond what was sent).
        assert!(chunks.len() >= 16, "{filter}: {} chunks", chunks.len());
        assert!(
            chunks.iter().all(|c| c.len() <= CHUNK_BYTES),
            "{filter}: chunk sizes {:?}",
            chunks.iter().map(|c| c.len()).collect::<Vec<_>>()
        );
    }
    // An answer of many rows but under STREAM_AFTER bytes is sent whole, with its length.
    let mid = read_chunks(
        &client,
        &server.base,
        "point and siteRef == @s3",
        "text/zinc",
        false,
    )
    .await;
    let text: Vec<u8> = mid.iter().flat_map(|c| c.iter().copied()).collect();
    let got = haystack_zinc::from_str(std::str::from_utf8(&text).unwrap()).unwrap();
    assert_eq!(got.len(), 180);
    // A small answer is whole too.
    let small = read_chunks(&client, &server.base, "site", "text/zinc", false).await;
    let text: Vec<u8> = small.iter().flat_map(|c| c.iter().copied()).collect();
    let got = haystack_zinc::from_str(std::str::from_utf8(&text).unwrap()).unwrap();
    assert_eq!(got.len(), 80);
}
