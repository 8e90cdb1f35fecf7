//! Behaviour the crate documents that had no test of its own (issue 20): the cap on batches in
//! flight across tables (`max_in_flight`), the bytes-buffered gauge of [`WriterStats`], and the
//! token guard's refresh ahead of `expires_in`.

mod common;

use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use common::*;
use datasource_sdk::{
    Batch, Context, Error, Map, MemorySink, Result, Sink, TokenGuard, TokenRefresher, Tokens,
    Writer, WriterSettings, WriterStats,
};
use serde_json::json;

/// Counts the deliveries running at once; each takes 100 ms (of the paused clock).
#[derive(Debug, Default)]
struct ConcurrencySink {
    inner: MemorySink,
    now: AtomicUsize,
    max: AtomicUsize,
}

#[async_trait]
impl Sink for ConcurrencySink {
    async fn deliver(&self, batch: &Batch) -> Result<()> {
        let running = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.max.fetch_max(running, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(100)).await;
        self.now.fetch_sub(1, Ordering::SeqCst);
        self.inner.deliver(batch).await
    }
}

#[tokio::test(start_paused = true)]
async fn max_in_flight_caps_batches_in_the_sink_across_tables() {
    for cap in [1, 3] {
        let sink = Arc::new(ConcurrencySink::default());
        let writer = Writer::builder(Arc::clone(&sink))
            .with_settings(WriterSettings {
                batch: limits(1, 1000, 10),
                max_in_flight: NonZeroUsize::new(cap).unwrap(),
                ..WriterSettings::default()
            })
            .build()
            .unwrap();
        // Ten tables, two one-record batches each: 20 batches that could all go at once.
        for n in 0..20 {
            writer
                .write(&format!("t{}", n % 10), &json!({ "n": n }))
                .await
                .unwrap();
        }
        writer.flush().await.unwrap();
        assert_eq!(sink.inner.len(), 20);
        assert_eq!(
            sink.max.load(Ordering::SeqCst),
            cap,
            "at most {cap} batches in the sink at once, and the cap is used"
        );
        writer.close(far()).await.unwrap();
    }
}

#[tokio::test(start_paused = true)]
async fn the_buffered_bytes_gauge_counts_open_and_in_flight_records() {
    let sink = Arc::new(GateSink::default());
    let writer = Writer::builder(Arc::clone(&sink))
        .with_batch_limits(limits(2, 1000, 60_000))
        .with_buffer_bytes(10_000)
        .build()
        .unwrap();
    let held = |s: &WriterStats| (s.buffered_bytes, s.peak_buffered_bytes);
    assert_eq!(held(&writer.stats()), (0, 0));
    // `"abcd"` is 6 bytes, 7 with its newline.
    for _ in 0..5 {
        writer.write("t", &"abcd").await.unwrap();
    }
    // Two batches cut (one in the sink, one waiting behind it) and one record open.
    tokio::task::yield_now().await;
    assert_eq!(held(&writer.stats()), (35, 35));
    writer.write("u", &"ab").await.unwrap();
    assert_eq!(held(&writer.stats()), (40, 40));
    sink.open();
    writer.flush().await.unwrap();
    let stats = writer.stats();
    assert_eq!(held(&stats), (0, 40));
    assert_eq!((stats.written, stats.delivered), (6, 6));
    assert_eq!(stats.buffer_bytes, 10_000);
    writer.close(far()).await.unwrap();
}

/// Hands out `a2`, `a3`, ... living `life` seconds, and counts its calls.
#[derive(Debug)]
struct CountingRefresher {
    life: u64,
    calls: AtomicU32,
}

#[async_trait]
impl TokenRefresher for CountingRefresher {
    async fn refresh(&self, _refresh_token: &str) -> Result<Tokens> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        Ok(Tokens {
            access_token: format!("a{}", n + 1),
            refresh_token: None,
            expires_in: Some(self.life),
        })
    }
}

/// Runs one call through `guard` that never fails; returns the token it was given.
async fn call(guard: &TokenGuard, ctx: &Context, seen: &Mutex<Vec<String>>) -> String {
    guard
        .call(ctx, |token| async move {
            seen.lock().unwrap().push(token.clone());
            Ok::<_, Error>(token)
        })
        .await
        .unwrap()
}

#[tokio::test(start_paused = true)]
async fn the_token_guard_refreshes_ahead_of_expires_in() {
    // (lifetime, when the guard refreshes ahead): 60 s before the end, or a tenth of the
    // lifetime when that is shorter.
    for (life, ahead_at) in [(3600, 3540), (100, 90)] {
        let refresher = Arc::new(CountingRefresher {
            life,
            calls: AtomicU32::new(0),
        });
        let guard = TokenGuard::new(Arc::clone(&refresher));
        let mut params = Map::new();
        params.insert("access_token".into(), json!("a1"));
        params.insert("refresh_token".into(), json!("r1"));
        let ctx = Context::new(params, Map::new(), Map::new());
        let seen = Mutex::new(Vec::new());
        // No lifetime known yet: no refresh ahead.
        assert_eq!(call(&guard, &ctx, &seen).await, "a1");
        assert_eq!(guard.refresh(&ctx).await.unwrap().access_token, "a2");
        let start = tokio::time::Instant::now();
        tokio::time::sleep_until(start + Duration::from_secs(ahead_at - 1)).await;
        assert_eq!(call(&guard, &ctx, &seen).await, "a2", "{life} s: too early");
        assert_eq!(refresher.calls.load(Ordering::SeqCst), 1);
        tokio::time::sleep_until(start + Duration::from_secs(ahead_at)).await;
        assert_eq!(
            call(&guard, &ctx, &seen).await,
            "a3",
            "{life} s: refreshed ahead"
        );
        assert_eq!(refresher.calls.load(Ordering::SeqCst), 2);
        assert_eq!(ctx.param_str("access_token").as_deref(), Some("a3"));
        // The new token has a new lifetime: not refreshed again right away.
        assert_eq!(call(&guard, &ctx, &seen).await, "a3");
        assert_eq!(refresher.calls.load(Ordering::SeqCst), 2);
        assert_eq!(*seen.lock().unwrap(), ["a1", "a2", "a3", "a3"]);
    }
}

#[tokio::test]
async fn settings_out_of_range_are_refused_before_anything_is_allocated() {
    let too_many_events = WriterSettings {
        event_capacity: NonZeroUsize::new(datasource_sdk::MAX_EVENT_CAPACITY + 1).unwrap(),
        ..WriterSettings::default()
    };
    let small_buffer = WriterSettings {
        buffer_bytes: WriterSettings::default().batch.max_bytes.get() - 1,
        ..WriterSettings::default()
    };
    let huge_buffer = WriterSettings {
        buffer_bytes: datasource_sdk::MAX_BUFFER_BYTES + 1,
        ..WriterSettings::default()
    };
    for settings in [too_many_events, small_buffer, huge_buffer] {
        let built = Writer::builder(MemorySink::new())
            .with_settings(settings.clone())
            .build();
        assert!(
            matches!(built, Err(Error::InvalidInput(_))),
            "{settings:?} must be refused"
        );
    }
}

/// Notes the `mine` ids of the records it stores.
#[derive(Debug, Default)]
struct MineSink {
    mine: Mutex<std::collections::HashSet<u64>>,
}

#[async_trait]
impl Sink for MineSink {
    async fn deliver(&self, batch: &Batch) -> Result<()> {
        let mut mine = self.mine.lock().unwrap();
        for record in batch.records() {
            let value: serde_json::Value = serde_json::from_slice(record)?;
            if let Some(n) = value["mine"].as_u64() {
                mine.insert(n);
            }
        }
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flush_covers_records_whose_batch_another_producer_cut() {
    // Another producer fills the same table at the same time, so the batch holding a record
    // is often cut by that producer (or by the timer) around the flush.
    let sink = Arc::new(MineSink::default());
    let writer = Writer::builder(Arc::clone(&sink))
        .with_batch_limits(limits(3, 100_000, 1))
        .build()
        .unwrap();
    let other = writer.clone();
    let noise = tokio::spawn(async move {
        for n in 0..20_000u64 {
            other.write("t", &json!({ "noise": n })).await.unwrap();
            if n % 64 == 0 {
                tokio::task::yield_now().await;
            }
        }
    });
    for n in 0..300u64 {
        writer.write("t", &json!({ "mine": n })).await.unwrap();
        writer.flush().await.unwrap();
        assert!(
            sink.mine.lock().unwrap().contains(&n),
            "record {n} was written before the flush that returned"
        );
    }
    noise.await.unwrap();
    assert!(writer.close(far()).await.unwrap().all_delivered());
}
