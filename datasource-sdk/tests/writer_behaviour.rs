//! Backpressure, dead letters, failures, events and handlers, flush and close.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use common::*;
use datasource_sdk::{DeadLetterReason, Error, Event, EventKind, MemorySink, Writer};
use futures::StreamExt;
use serde_json::json;
use tokio::time::sleep;

#[tokio::test(start_paused = true)]
async fn write_waits_while_the_buffer_is_full() {
    let sink = Arc::new(GateSink::default());
    let mut retry = fast_retry(3);
    retry.attempt_timeout = Duration::from_secs(3600);
    let writer = Writer::builder(Arc::clone(&sink))
        .with_batch_limits(limits(1000, 500, 10))
        .with_buffer_bytes(1000)
        .with_retry(retry)
        .build()
        .unwrap();
    // Each record is 98 bytes + newline = 99.
    let record = json!({"pad": "x".repeat(88)});
    assert_eq!(serde_json::to_vec(&record).unwrap().len() + 1, 99);
    let done = Arc::new(AtomicU64::new(0));
    let task = {
        let writer = writer.clone();
        let done = Arc::clone(&done);
        tokio::spawn(async move {
            for _ in 0..50 {
                writer.write("t", &record).await.unwrap();
                done.fetch_add(1, Ordering::SeqCst);
            }
        })
    };
    sleep(Duration::from_secs(60)).await;
    let accepted = done.load(Ordering::SeqCst);
    assert_eq!(accepted, 10, "1000 bytes hold 10 records of 99 bytes");
    let stats = writer.stats();
    assert!(stats.buffered_bytes <= 1000 && stats.peak_buffered_bytes <= 1000);
    assert!(!task.is_finished());
    sink.open();
    task.await.unwrap();
    let report = writer.close(far()).await.unwrap();
    assert!(report.all_delivered());
    assert_eq!(report.tables["t"].delivered, 50);
    assert!(writer.stats().peak_buffered_bytes <= 1000);
}

#[tokio::test(start_paused = true)]
async fn an_oversize_record_goes_to_the_dead_letter_sink_and_the_batch_goes_on() {
    let sink = Arc::new(MemorySink::new());
    let dead = Arc::new(MemorySink::new());
    let writer = Writer::builder(Arc::clone(&sink))
        .with_dead_letter(Arc::clone(&dead))
        .with_batch_limits(limits(100, 100, 1000))
        .build()
        .unwrap();
    let mut events = writer.events();
    writer.write("t", &json!({"n": 1})).await.unwrap();
    writer
        .write("t", &json!({"big": "x".repeat(200)}))
        .await
        .unwrap();
    writer.write("t", &json!({"n": 2})).await.unwrap();
    writer.flush().await.unwrap();
    assert_eq!(
        sink.records("t").unwrap(),
        vec![json!({"n": 1}), json!({"n": 2})]
    );
    assert_eq!(
        sink.batches().len(),
        1,
        "the batch went on without the big record"
    );
    let report = writer.close(far()).await.unwrap();
    assert_eq!(dead.records("t").unwrap().len(), 1);
    assert_eq!(report.tables["t"].dead_lettered, 1);
    assert_eq!(report.tables["t"].delivered, 2);
    assert!(report.all_delivered());
    drop(writer); // ends the event stream
    let mut saw = false;
    while let Some(event) = events.next().await {
        if let Event::DeadLetter {
            reason: DeadLetterReason::TooLarge { bytes, max_bytes },
            delivered,
            ..
        } = event
        {
            assert_eq!((bytes, max_bytes, delivered), (211, 100, true));
            saw = true;
        }
    }
    assert!(saw);
}

#[tokio::test(start_paused = true)]
async fn without_a_dead_letter_sink_an_oversize_record_is_handed_back() {
    let sink = Arc::new(MemorySink::new());
    let writer = Writer::builder(Arc::clone(&sink))
        .with_batch_limits(limits(100, 50, 1000))
        .build()
        .unwrap();
    let record = "y".repeat(100);
    let Err(Error::TooLarge(refused)) = writer.write("t", &record).await else {
        panic!("an oversize record must be refused");
    };
    assert_eq!((refused.bytes, refused.max_bytes), (103, 50));
    assert_eq!(refused.table, "t");
    assert_eq!(refused.record, serde_json::to_vec(&record).unwrap());
    assert_eq!(writer.stats().refused, 1);
    assert_eq!(writer.stats().written, 0);
    let report = writer.close(far()).await.unwrap();
    assert!(report.all_delivered());
}

#[tokio::test(start_paused = true)]
async fn a_non_retryable_failure_is_not_retried_and_later_batches_still_go() {
    let sink = Arc::new(ScriptedSink::new(1, false));
    let dead = Arc::new(MemorySink::new());
    let writer = Writer::builder(Arc::clone(&sink))
        .with_dead_letter(Arc::clone(&dead))
        .with_batch_limits(limits(2, 1000, 10))
        .with_retry(fast_retry(10))
        .build()
        .unwrap();
    for n in 0..4 {
        writer.write("t", &json!(n)).await.unwrap();
    }
    // The failed batch is durably dead-lettered: acknowledged, so the flush succeeds.
    writer.flush().await.unwrap();
    assert_eq!(
        sink.calls().len(),
        2,
        "one failed call, not retried, then the next batch"
    );
    assert_eq!(sink.inner.records("t").unwrap(), vec![json!(2), json!(3)]);
    assert_eq!(dead.records("t").unwrap(), vec![json!(0), json!(1)]);
    let report = writer.close(far()).await.unwrap();
    let t = &report.tables["t"];
    assert_eq!((t.delivered, t.failed, t.dead_lettered), (2, 2, 2));
    assert!(!report.all_delivered());
    let stats = writer.stats();
    assert_eq!(
        (
            stats.delivered,
            stats.failed,
            stats.dead_lettered,
            stats.dropped
        ),
        (2, 2, 2, 0)
    );
}

#[tokio::test(start_paused = true)]
async fn events_reach_handlers_and_the_stream_in_order() {
    let sink = Arc::new(ScriptedSink::new(1, true));
    let writer = Writer::builder(Arc::clone(&sink))
        .with_batch_limits(limits(1, 1000, 10))
        .with_retry(fast_retry(5))
        .build()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    for kind in [
        EventKind::Send,
        EventKind::Flush,
        EventKind::Error,
        EventKind::Retry,
    ] {
        let tx = tx.clone();
        writer.on(kind, move |e| {
            let _ = tx.send(e.kind().name());
        });
    }
    drop(tx);
    let mut stream = writer.events();
    writer.write("t", &json!(1)).await.unwrap();
    writer.flush().await.unwrap();
    let mut kinds = Vec::new();
    for _ in 0..5 {
        kinds.push(stream.next().await.unwrap().kind().name());
    }
    assert_eq!(kinds, ["send", "error", "retry", "send", "flush"]);
    writer.close(far()).await.unwrap();
    drop(writer);
    let mut handled: Vec<&str> = rx.iter().collect();
    handled.sort();
    assert_eq!(handled, ["error", "flush", "retry", "send", "send"]);
}

#[tokio::test(start_paused = true)]
async fn a_panicking_handler_never_stops_delivery() {
    let sink = Arc::new(MemorySink::new());
    let writer = Writer::builder(Arc::clone(&sink))
        .with_batch_limits(limits(1, 1000, 10))
        .build()
        .unwrap();
    let calls = Arc::new(AtomicU64::new(0));
    let c = Arc::clone(&calls);
    writer.on(EventKind::Flush, move |_| {
        c.fetch_add(1, Ordering::SeqCst);
        panic!("handler bug");
    });
    for n in 0..20 {
        writer.write("t", &json!(n)).await.unwrap();
    }
    writer.flush().await.unwrap();
    assert_eq!(sink.len(), 20);
    // Wait (bounded) for the handler thread to see the 20 flush events.
    for _ in 0..500 {
        if calls.load(Ordering::SeqCst) == 20 {
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    assert_eq!(
        calls.load(Ordering::SeqCst),
        20,
        "still called after panicking"
    );
    assert_eq!(writer.stats().handler_panics, 20);
    let report = writer.close(far()).await.unwrap();
    assert!(report.all_delivered());
    assert_eq!(report.handler_panics, 20);
}

#[tokio::test(start_paused = true)]
async fn a_stuck_handler_never_stops_delivery_and_lost_events_are_counted() {
    let sink = Arc::new(MemorySink::new());
    let writer = Writer::builder(Arc::clone(&sink))
        .with_settings(datasource_sdk::WriterSettings {
            batch: limits(1, 1000, 10),
            event_capacity: std::num::NonZeroUsize::new(4).unwrap(),
            ..Default::default()
        })
        .build()
        .unwrap();
    let (release, wait) = std::sync::mpsc::channel::<()>();
    let wait = std::sync::Mutex::new(wait);
    writer.on(EventKind::Send, move |_| {
        // Blocks until the test drops `release`.
        let _ = wait.lock().unwrap().recv();
    });
    for n in 0..200 {
        writer.write("t", &json!(n)).await.unwrap();
    }
    writer.flush().await.unwrap();
    assert_eq!(sink.len(), 200);
    drop(release);
    let report = writer.close(far()).await.unwrap();
    assert!(report.all_delivered());
    // Wait (bounded) for the handler thread to notice the lag.
    for _ in 0..500 {
        if writer.stats().events_dropped > 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    assert!(writer.stats().events_dropped > 0);
}

#[tokio::test(start_paused = true)]
async fn per_table_order_is_kept_with_retries_and_many_tables() {
    let sink = Arc::new(ChaosSink::new(7, 0.3, 0.0, Duration::from_secs(1)));
    let writer = Writer::builder(Arc::clone(&sink))
        .with_batch_limits(limits(3, 1000, 5))
        .with_retry(fast_retry(100))
        .build()
        .unwrap();
    for n in 0..300 {
        writer
            .write(&format!("t{}", n % 4), &json!({"n": n}))
            .await
            .unwrap();
    }
    let report = writer.close(far()).await.unwrap();
    assert!(report.all_delivered());
    let stored = sink.stored.lock().unwrap().clone();
    for t in 0..4 {
        let ns: Vec<u64> = stored
            .iter()
            .filter(|(table, _)| table == &format!("t{t}"))
            .map(|(_, v)| v["n"].as_u64().unwrap())
            .collect();
        let expected: Vec<u64> = (0..300).filter(|n| n % 4 == t).collect();
        assert_eq!(ns, expected);
    }
}

#[tokio::test(start_paused = true)]
async fn flush_waits_for_delivery_and_close_is_final() {
    let sink = Arc::new(MemorySink::new());
    let writer = Writer::builder(Arc::clone(&sink)).build().unwrap();
    writer.write("t", &json!(1)).await.unwrap();
    writer.flush().await.unwrap();
    assert_eq!(sink.len(), 1);
    let report = writer.close(far()).await.unwrap();
    assert!(!report.timed_out);
    assert!(matches!(writer.close(far()).await, Err(Error::Closed)));
    assert!(matches!(writer.write("t", &1).await, Err(Error::Closed)));
    assert!(matches!(writer.flush().await, Err(Error::Closed)));
}

#[tokio::test(start_paused = true)]
async fn dropping_every_handle_still_drains() {
    let sink = Arc::new(MemorySink::new());
    let writer = Writer::builder(Arc::clone(&sink)).build().unwrap();
    for n in 0..10 {
        writer.write("t", &json!(n)).await.unwrap();
    }
    drop(writer);
    sleep(Duration::from_secs(1)).await;
    assert_eq!(sink.len(), 10);
}

#[tokio::test(start_paused = true)]
async fn a_record_that_cannot_be_encoded_is_refused() {
    let sink = Arc::new(MemorySink::new());
    let writer = Writer::builder(Arc::clone(&sink)).build().unwrap();
    let mut bad = std::collections::HashMap::new();
    bad.insert(vec![1u8], 1);
    assert!(matches!(
        writer.write("t", &bad).await,
        Err(Error::Encode(_))
    ));
    assert!(matches!(
        Writer::builder(MemorySink::new())
            .with_buffer_bytes(10)
            .build(),
        Err(Error::InvalidInput(_))
    ));
    writer.close(far()).await.unwrap();
}
