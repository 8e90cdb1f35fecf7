//! History written by many workers at once: every write is conditional (create if absent,
//! replace if unchanged) and redone on conflict, so concurrent merges into the same day object
//! and the same `latest` marker lose no point. On the local directory, and on S3 (the emulator
//! answers `If-None-Match: *` and `If-Match` with 412 like S3).

#[path = "../../support/emulator.rs"]
mod emulator;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use async_trait::async_trait;
use bytes::Bytes;
use examples::tscache::history::{Condition, History, LocalObjects, Objects, S3Objects, Versioned};
use examples::tscache::{CacheError, Point};

const DAY_START: i64 = 1_717_200_000; // 2024-06-01T00:00:00Z

/// Objects that let other tasks run between a read and the write that follows it (so racing
/// writers really interleave), counting the conflicts the store reports.
#[derive(Debug)]
struct Interleaving<O> {
    inner: O,
    conflicts: AtomicU32,
}

#[async_trait]
impl<O: Objects> Objects for Interleaving<O> {
    async fn get(&self, key: &str) -> Result<Option<Versioned>, CacheError> {
        let got = self.inner.get(key).await;
        for _ in 0..3 {
            tokio::task::yield_now().await;
        }
        got
    }
    async fn put(
        &self,
        key: &str,
        body: Bytes,
        condition: Condition,
    ) -> Result<String, CacheError> {
        let put = self.inner.put(key, body, condition).await;
        if matches!(put, Err(CacheError::Conflict(_))) {
            self.conflicts.fetch_add(1, Ordering::SeqCst);
        }
        put
    }
}

/// `writers` histories over the same objects merge one distinct point each (plus one shared
/// point) into the same day at once; every point must be there, and the marker at the newest.
async fn racing_writers_lose_nothing<O: Objects>(objects: Arc<Interleaving<O>>, writers: i64) {
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..writers {
        let history = History::new(objects.clone());
        tasks.spawn(async move {
            let points = [
                Point {
                    time: DAY_START + 300 * w,
                    value: w as f64,
                },
                Point {
                    time: DAY_START + 86_000,
                    value: 1.0,
                },
            ];
            history.merge("sensor-1", &points).await
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap().unwrap();
    }
    let history = History::new(objects.clone());
    let points = history
        .range("sensor-1", DAY_START, DAY_START + 86_399)
        .await
        .unwrap();
    assert_eq!(points.len() as i64, writers + 1, "{points:?}");
    for w in 0..writers {
        assert!(
            points
                .iter()
                .any(|p| p.time == DAY_START + 300 * w && p.value == w as f64),
            "writer {w}'s point kept"
        );
    }
    assert_eq!(
        history.latest("sensor-1").await.unwrap(),
        Some(DAY_START + 86_000)
    );
    assert!(
        objects.conflicts.load(Ordering::SeqCst) > 0,
        "the writers did race (else this test shows nothing)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_merges_into_local_history_lose_no_point() {
    let dir = tempfile::tempdir().unwrap();
    let objects = Arc::new(Interleaving {
        inner: LocalObjects::new(dir.path()),
        conflicts: AtomicU32::new(0),
    });
    racing_writers_lose_nothing(objects, 16).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_merges_into_s3_history_lose_no_point() {
    let Some(config) =
        emulator::sdk_config("tscache concurrent_merges_into_s3_history_lose_no_point").await
    else {
        return;
    };
    let s3 = S3Objects::new(&config, emulator::unique_name("history"));
    s3.create_bucket().await.unwrap();
    // The conditions themselves, as S3 answers them.
    let tag = s3
        .put("k", Bytes::from("1"), Condition::IfAbsent)
        .await
        .unwrap();
    let again = s3.put("k", Bytes::from("2"), Condition::IfAbsent).await;
    assert!(matches!(again, Err(CacheError::Conflict(_))), "{again:?}");
    let newer = s3
        .put("k", Bytes::from("2"), Condition::IfMatch(tag.clone()))
        .await
        .unwrap();
    let stale = s3.put("k", Bytes::from("3"), Condition::IfMatch(tag)).await;
    assert!(matches!(stale, Err(CacheError::Conflict(_))), "{stale:?}");
    let now = s3.get("k").await.unwrap().unwrap();
    assert_eq!((now.body, now.etag), (Bytes::from("2"), newer));

    let objects = Arc::new(Interleaving {
        inner: s3,
        conflicts: AtomicU32::new(0),
    });
    racing_writers_lose_nothing(objects, 8).await;
}
