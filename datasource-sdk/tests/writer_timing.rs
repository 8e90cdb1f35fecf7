//! Every timing rule of the writer, on a paused clock.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use datasource_sdk::{MemorySink, RetryPolicy, Writer};
use serde_json::json;
use tokio::time::{Instant, sleep};

#[tokio::test(start_paused = true)]
async fn the_timer_starts_at_the_first_record_of_a_batch() {
    let sink = Arc::new(MemorySink::new());
    let writer = Writer::builder(Arc::clone(&sink)).build().unwrap();
    let t0 = Instant::now();
    writer.write("t", &json!({"n": 1})).await.unwrap();
    sleep(Duration::from_millis(1500)).await;
    writer.write("t", &json!({"n": 2})).await.unwrap();
    sleep_until_ms(t0, 1999).await;
    assert!(sink.is_empty(), "nothing goes before the default 2 s");
    sleep_until_ms(t0, 2001).await;
    assert_eq!(sink.batches().len(), 1);
    assert_eq!(
        sink.len(),
        2,
        "both records in the batch the first one opened"
    );

    // A new batch starts at 2.5 s: it goes at 4.5 s, not at 4 s.
    sleep_until_ms(t0, 2500).await;
    writer.write("t", &json!({"n": 3})).await.unwrap();
    sleep_until_ms(t0, 4100).await;
    assert_eq!(sink.batches().len(), 1);
    sleep_until_ms(t0, 4501).await;
    assert_eq!(sink.batches().len(), 2);
    writer.close(far()).await.unwrap();
}

async fn sleep_until_ms(t0: Instant, ms: u64) {
    tokio::time::sleep_until(t0 + Duration::from_millis(ms)).await;
}

#[tokio::test(start_paused = true)]
async fn each_table_has_its_own_timer_and_the_timeout_is_configurable() {
    let sink = Arc::new(MemorySink::new());
    let writer = Writer::builder(Arc::clone(&sink))
        .with_batch_limits(limits(1000, 100_000, 100))
        .build()
        .unwrap();
    let t0 = Instant::now();
    writer.write("a", &json!(1)).await.unwrap();
    sleep_until_ms(t0, 60).await;
    writer.write("b", &json!(2)).await.unwrap();
    sleep_until_ms(t0, 101).await;
    assert_eq!(sink.tables(), vec!["a".to_owned()]);
    sleep_until_ms(t0, 161).await;
    assert_eq!(sink.tables(), vec!["a".to_owned(), "b".to_owned()]);
    writer.close(far()).await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_full_batch_goes_without_waiting_for_the_timer() {
    let sink = Arc::new(MemorySink::new());
    let writer = Writer::builder(Arc::clone(&sink))
        .with_batch_limits(limits(3, 100_000, 60_000))
        .build()
        .unwrap();
    let t0 = Instant::now();
    for n in 0..7 {
        writer.write("t", &json!(n)).await.unwrap();
    }
    // Let the delivery task run without moving the clock.
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    assert_eq!(Instant::now(), t0);
    assert_eq!(
        sink.len(),
        6,
        "two full batches went at once; one record waits"
    );
    // By bytes: 3 records of 5 bytes (4 + newline) fill a 15-byte batch.
    let sink2 = Arc::new(MemorySink::new());
    let w2 = Writer::builder(Arc::clone(&sink2))
        .with_batch_limits(limits(100, 15, 60_000))
        .build()
        .unwrap();
    for _ in 0..3 {
        w2.write("t", &json!("ab")).await.unwrap();
    }
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    assert_eq!(sink2.len(), 3);
    writer.close(far()).await.unwrap();
    w2.close(far()).await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn retries_back_off_exponentially_with_jitter() {
    let sink = Arc::new(ScriptedSink::new(4, true));
    let retry = RetryPolicy {
        max_attempts: std::num::NonZeroU32::new(10).unwrap(),
        initial_backoff: Duration::from_millis(100),
        max_backoff: Duration::from_secs(10),
        max_elapsed: Duration::from_secs(60),
        attempt_timeout: Duration::from_secs(30),
    };
    let writer = Writer::builder(Arc::clone(&sink))
        .with_retry(retry.clone())
        .with_batch_limits(limits(1, 1000, 10))
        .build()
        .unwrap();
    writer.write("t", &json!(1)).await.unwrap();
    writer.flush().await.unwrap();
    let calls = sink.calls();
    assert_eq!(calls.len(), 5, "4 failures then success");
    for (i, pair) in calls.windows(2).enumerate() {
        let gap = pair[1] - pair[0];
        let base = retry.base_delay(i as u32 + 1);
        assert!(
            gap >= base / 2 && gap <= base,
            "retry {i}: {gap:?} vs {base:?}"
        );
    }
    assert_eq!(sink.inner.len(), 1);
    writer.close(far()).await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_stalled_attempt_times_out_and_is_retried() {
    let mut s = ScriptedSink::new(0, true);
    s.stall_calls = vec![1];
    let sink = Arc::new(s);
    let mut retry = fast_retry(5);
    retry.attempt_timeout = Duration::from_secs(7);
    let writer = Writer::builder(Arc::clone(&sink))
        .with_retry(retry)
        .with_batch_limits(limits(1, 1000, 10))
        .build()
        .unwrap();
    writer.write("t", &json!(1)).await.unwrap();
    writer.flush().await.unwrap();
    let calls = sink.calls();
    assert_eq!(calls.len(), 2);
    assert!(calls[1] - calls[0] >= Duration::from_secs(7));
    assert!(calls[1] - calls[0] <= Duration::from_secs(7) + Duration::from_millis(10));
    writer.close(far()).await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn retries_stop_at_the_time_cap() {
    let sink = Arc::new(ScriptedSink::new(u32::MAX, true));
    let retry = RetryPolicy {
        max_attempts: std::num::NonZeroU32::new(1000).unwrap(),
        initial_backoff: Duration::from_millis(100),
        max_backoff: Duration::from_millis(100),
        max_elapsed: Duration::from_secs(2),
        attempt_timeout: Duration::from_secs(30),
    };
    let writer = Writer::builder(Arc::clone(&sink))
        .with_retry(retry)
        .with_batch_limits(limits(1, 1000, 10))
        .build()
        .unwrap();
    let t0 = Instant::now();
    writer.write("t", &json!(1)).await.unwrap();
    let err = writer.flush().await.unwrap_err();
    assert!(
        matches!(
            err,
            datasource_sdk::Error::Undelivered {
                batches: 1,
                records: 1
            }
        ),
        "{err}"
    );
    let spent = Instant::now() - t0;
    assert!(spent <= Duration::from_millis(2100), "{spent:?}");
    assert!(spent >= Duration::from_millis(1900), "{spent:?}");
    let attempts = sink.calls().len();
    assert!((20..=42).contains(&attempts), "{attempts}");
    let report = writer.close(far()).await.unwrap();
    assert_eq!(report.tables["t"].failed, 1);
    assert!(!report.all_delivered());
}

#[tokio::test(start_paused = true)]
async fn retries_stop_at_the_attempt_cap() {
    let sink = Arc::new(ScriptedSink::new(u32::MAX, true));
    let writer = Writer::builder(Arc::clone(&sink))
        .with_retry(fast_retry(3))
        .with_batch_limits(limits(1, 1000, 10))
        .build()
        .unwrap();
    writer.write("t", &json!(1)).await.unwrap();
    assert!(writer.flush().await.is_err());
    assert_eq!(sink.calls().len(), 3);
    writer.close(far()).await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn close_stops_at_its_deadline_and_returns_what_is_left() {
    let sink = Arc::new(GateSink::default());
    let mut retry = fast_retry(3);
    retry.attempt_timeout = Duration::from_secs(3600);
    let writer = Writer::builder(Arc::clone(&sink))
        .with_retry(retry)
        .with_batch_limits(limits(2, 1000, 10))
        .build()
        .unwrap();
    for n in 0..5 {
        writer.write("t", &json!(n)).await.unwrap();
    }
    let t0 = Instant::now();
    let report = writer.close(t0 + Duration::from_secs(5)).await.unwrap();
    assert_eq!(Instant::now() - t0, Duration::from_secs(5));
    assert!(report.timed_out);
    assert!(!report.all_delivered());
    assert_eq!(report.tables["t"].undelivered, 5);
    assert_eq!(report.tables["t"].delivered, 0);
    let kept: usize = report.undelivered.iter().map(|b| b.len()).sum();
    assert_eq!(kept, 5, "the caller gets every undelivered record back");
    assert!(matches!(
        writer.write("t", &json!(9)).await,
        Err(datasource_sdk::Error::Closed)
    ));
}
