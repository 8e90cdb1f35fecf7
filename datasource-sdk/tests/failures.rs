//! One test per failure the writer, runner and token guard used to have (issue 20): a panicking
//! sink, an oversize record without a dead-letter sink, one permanent failure poisoning later
//! flushes, `Duration::MAX` limits, close at its deadline with a dead-letter delivery in flight,
//! state reported by a failed read, secrets in `Debug`, world-readable state files, and
//! concurrent refreshes of one token.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use common::*;
use datasource_sdk::{
    Batch, Context, DataSource, Error, FileStateStore, Map, MemorySink, MemoryStateStore, Record,
    Result, RetryPolicy, Runner, Sink, StateStore, TokenGuard, TokenRefresher, Tokens, Writer,
};
use serde_json::{Value, json};
use tokio::time::Instant;

fn obj(v: Value) -> Map {
    v.as_object().cloned().unwrap()
}

/// Panics in its first `panics` calls, then stores.
#[derive(Debug)]
struct PanickySink {
    inner: MemorySink,
    panics: u32,
    calls: AtomicU32,
}

#[async_trait]
impl Sink for PanickySink {
    async fn deliver(&self, batch: &Batch) -> Result<()> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        if n <= self.panics {
            panic!("sink bug in call {n}");
        }
        self.inner.deliver(batch).await
    }
}

#[tokio::test(start_paused = true)]
async fn a_panicking_sink_is_a_failed_attempt_not_the_end_of_the_writer() {
    let sink = Arc::new(PanickySink {
        inner: MemorySink::new(),
        panics: 2,
        calls: AtomicU32::new(0),
    });
    let writer = Writer::builder(Arc::clone(&sink))
        .with_batch_limits(limits(2, 1000, 10))
        .with_retry(fast_retry(5))
        .build()
        .unwrap();
    for n in 0..6 {
        writer.write("t", &json!(n)).await.unwrap();
    }
    writer.flush().await.unwrap();
    // The writer still works after the panics.
    writer.write("t", &json!(6)).await.unwrap();
    let report = writer.close(far()).await.unwrap();
    assert!(report.all_delivered(), "{report:?}");
    assert_eq!(report.tables["t"].delivered, 7);
    assert_eq!(
        sink.inner.records("t").unwrap(),
        (0..7).map(|n| json!(n)).collect::<Vec<_>>()
    );
    assert_eq!(
        sink.calls.load(Ordering::SeqCst),
        6,
        "4 batches + 2 panicked attempts"
    );
}

#[tokio::test(start_paused = true)]
async fn an_oversize_record_without_a_dead_letter_sink_is_refused_not_dropped() {
    let sink = Arc::new(MemorySink::new());
    let writer = Writer::builder(Arc::clone(&sink))
        .with_batch_limits(limits(100, 50, 1000))
        .build()
        .unwrap();
    let result = writer.write("t", &"y".repeat(100)).await;
    assert!(result.is_err(), "write must refuse what it cannot deliver");
    writer.write("t", &json!(1)).await.unwrap();
    writer.flush().await.unwrap();
    let report = writer.close(far()).await.unwrap();
    assert!(report.all_delivered(), "{report:?}");
    assert_eq!(sink.records("t").unwrap(), vec![json!(1)]);
}

#[tokio::test(start_paused = true)]
async fn one_permanent_failure_does_not_fail_later_flushes() {
    // The first call fails for good; no dead-letter sink.
    let sink = Arc::new(ScriptedSink::new(1, false));
    let writer = Writer::builder(Arc::clone(&sink))
        .with_batch_limits(limits(10, 1000, 10))
        .with_retry(fast_retry(3))
        .build()
        .unwrap();
    writer.write("t", &json!(0)).await.unwrap();
    assert!(matches!(
        writer.flush().await,
        Err(Error::Undelivered {
            batches: 1,
            records: 1
        })
    ));
    writer.write("t", &json!(1)).await.unwrap();
    writer.flush().await.unwrap();
    writer.write("u", &json!(2)).await.unwrap();
    writer.flush().await.unwrap();
    let report = writer.close(far()).await.unwrap();
    assert_eq!(report.tables["t"].dropped, 1);
    assert_eq!(sink.inner.len(), 2);
}

#[tokio::test(start_paused = true)]
async fn unbounded_durations_do_not_overflow() {
    let sink = Arc::new(MemorySink::new());
    let mut batch = limits(1000, 10_000, 0);
    batch.timeout = Duration::MAX;
    let retry = RetryPolicy {
        attempt_timeout: Duration::MAX,
        max_elapsed: Duration::MAX,
        max_backoff: Duration::MAX,
        ..fast_retry(3)
    };
    let writer = Writer::builder(Arc::clone(&sink))
        .with_batch_limits(batch)
        .with_retry(retry)
        .build()
        .unwrap();
    writer.write("t", &json!(1)).await.unwrap();
    writer.write("t", &json!(2)).await.unwrap();
    // No timer: the batch waits for a flush.
    tokio::time::sleep(Duration::from_secs(3600)).await;
    assert!(sink.is_empty());
    writer.flush().await.unwrap();
    assert_eq!(sink.len(), 2);
    assert!(writer.close(far()).await.unwrap().all_delivered());
}

#[tokio::test(start_paused = true)]
async fn close_at_its_deadline_hands_back_dead_letter_batches_in_flight() {
    // Every main-sink call fails for good; the dead-letter sink never answers.
    let sink = Arc::new(ScriptedSink::new(u32::MAX, false));
    let dead = Arc::new(GateSink::default());
    let mut retry = fast_retry(2);
    retry.attempt_timeout = Duration::from_secs(3600);
    let writer = Writer::builder(Arc::clone(&sink))
        .with_dead_letter(Arc::clone(&dead))
        .with_batch_limits(limits(10, 1000, 10))
        .with_retry(retry)
        .build()
        .unwrap();
    writer.write("t", &json!({"n": 1})).await.unwrap();
    writer.write("t", &json!({"n": 2})).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let report = writer
        .close(Instant::now() + Duration::from_secs(1))
        .await
        .unwrap();
    let t = &report.tables["t"];
    assert_eq!(t.dropped, 0, "nothing was dropped: {t:?}");
    assert_eq!(t.undelivered, 2, "{t:?}");
    let handed_back: usize = report.undelivered.iter().map(|b| b.len()).sum();
    assert_eq!(handed_back, 2, "the caller gets the records back");
}

/// Pages of 10 records; each read takes the offset from the merged state. Read 2 reports its
/// state and then fails (retryably or not, as `fatal` says).
#[derive(Debug)]
struct ReportsThenFails {
    total: u64,
    reads: u32,
    fatal: bool,
}

#[async_trait]
impl DataSource for ReportsThenFails {
    async fn read(&mut self, _n: usize, ctx: &Context) -> Result<Option<Vec<Record>>> {
        self.reads += 1;
        let offset = ctx
            .merged_state()
            .get("offset")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        if offset >= self.total {
            return Ok(None);
        }
        let end = (offset + 10).min(self.total);
        ctx.state(format!("p{offset}"), obj(json!({"offset": end})));
        if self.reads == 2 {
            return Err(if self.fatal {
                Error::fatal("the API broke mid-page")
            } else {
                Error::retryable("the API timed out mid-page")
            });
        }
        Ok(Some(
            (offset..end).map(|id| obj(json!({"id": id}))).collect(),
        ))
    }
}

#[tokio::test(start_paused = true)]
async fn state_reported_by_a_failed_read_is_not_committed() {
    let sink = Arc::new(MemorySink::new());
    let writer = Writer::builder(Arc::clone(&sink)).build().unwrap();
    let store = Arc::new(MemoryStateStore::new());
    let runner = Runner::new(writer.clone(), Arc::clone(&store), "src");

    // A read that fails for good after reporting its state: the run fails, and the committed
    // state is the one after the first page, not the failed one.
    let ctx = runner.open(Map::new(), Map::new()).await.unwrap();
    let mut source = ReportsThenFails {
        total: 30,
        reads: 0,
        fatal: true,
    };
    assert!(runner.run(&mut source, &ctx).await.is_err());
    let saved = store.load("src").await.unwrap().unwrap();
    assert_eq!(saved.state, obj(json!({"offset": 10})));

    // A read retried after reporting its state: the retry starts from the state before it, so
    // no page is skipped.
    let store = Arc::new(MemoryStateStore::new());
    let runner = Runner::new(writer.clone(), Arc::clone(&store), "src2");
    let ctx = runner
        .open(obj(json!({"destination": "retried"})), Map::new())
        .await
        .unwrap();
    let mut source = ReportsThenFails {
        total: 30,
        reads: 0,
        fatal: false,
    };
    runner.run(&mut source, &ctx).await.unwrap();
    let ids: Vec<u64> = sink
        .records("retried")
        .unwrap()
        .iter()
        .map(|v| v["id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, (0..30).collect::<Vec<_>>());
    writer.close(far()).await.unwrap();
}

#[test]
fn tokens_and_context_hide_secrets_in_debug() {
    let tokens = Tokens {
        access_token: "secret-access".into(),
        refresh_token: Some("secret-refresh".into()),
        expires_in: Some(60),
    };
    let text = format!("{tokens:?}");
    assert!(!text.contains("secret"), "{text}");
    let ctx = Context::new(
        obj(json!({"access_token": "secret-a", "refresh_token": "secret-r"})),
        obj(json!({"password": "secret-p"})),
        Map::new(),
    );
    let text = format!("{ctx:?}");
    assert!(!text.contains("secret"), "{text}");
}

#[cfg(unix)]
#[tokio::test]
async fn state_files_are_readable_by_their_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let store = FileStateStore::new(dir.path()).unwrap();
    let checkpoint = datasource_sdk::Checkpoint {
        source_changes: obj(json!({"refresh_token": "r"})),
        ..Default::default()
    };
    store.save("k", &checkpoint).await.unwrap();
    store.save("k", &checkpoint).await.unwrap();
    let mode = std::fs::metadata(dir.path().join("k.json"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "{mode:o}");
}

/// A provider that rotates refresh tokens: each refresh token works once.
#[derive(Debug, Default)]
struct RotatingRefresher {
    calls: AtomicU32,
}

#[async_trait]
impl TokenRefresher for RotatingRefresher {
    async fn refresh(&self, refresh_token: &str) -> Result<Tokens> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
        if refresh_token != "r1" {
            return Err(Error::Unauthorized(format!(
                "refresh token {refresh_token} was already used"
            )));
        }
        Ok(Tokens {
            access_token: format!("a{}", n + 1),
            refresh_token: Some("r2".into()),
            expires_in: Some(3600),
        })
    }
}

#[tokio::test(start_paused = true)]
async fn concurrent_unauthorized_calls_refresh_once() {
    let refresher = Arc::new(RotatingRefresher::default());
    let guard = Arc::new(TokenGuard::new(Arc::clone(&refresher)));
    let ctx = Arc::new(Context::new(
        obj(json!({"access_token": "a1", "refresh_token": "r1"})),
        Map::new(),
        Map::new(),
    ));
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let guard = Arc::clone(&guard);
        let ctx = Arc::clone(&ctx);
        tasks.push(tokio::spawn(async move {
            guard
                .call(&ctx, |token| async move {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    if token == "a1" {
                        Err(Error::Unauthorized("expired".into()))
                    } else {
                        Ok(token)
                    }
                })
                .await
        }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap().unwrap(), "a2");
    }
    assert_eq!(refresher.calls.load(Ordering::SeqCst), 1, "single flight");
}
