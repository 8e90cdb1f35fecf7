//! The runner: stamping, state merging and checkpoints, read retries, resume after a crash,
//! and token refresh.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use common::*;
use datasource_sdk::{
    Context, DataSource, Error, FileStateStore, Map, MemorySink, MemoryStateStore, Record, Result,
    Runner, RunnerSettings, SourceEvent, StateStore, TokenGuard, TokenRefresher, Tokens, Writer,
};
use serde_json::{Value, json};
use tokio::time::Instant;

fn obj(v: Value) -> Map {
    v.as_object().cloned().unwrap()
}

/// Pages of `page` records out of `total`, resuming from the `offset` in the state; each read
/// takes `delay`; reads whose number is in `fail_reads` fail retryably first.
#[derive(Debug)]
struct Paged {
    total: u64,
    page: u64,
    delay: Duration,
    reads: u32,
    fail_reads: Vec<u32>,
    offset: Option<u64>,
}

impl Paged {
    fn new(total: u64, page: u64) -> Self {
        Self {
            total,
            page,
            delay: Duration::from_millis(100),
            reads: 0,
            fail_reads: Vec::new(),
            offset: None,
        }
    }
}

#[async_trait]
impl DataSource for Paged {
    async fn read(&mut self, _n: usize, ctx: &Context) -> Result<Option<Vec<Record>>> {
        self.reads += 1;
        tokio::time::sleep(self.delay).await;
        if let Some(i) = self.fail_reads.iter().position(|r| *r == self.reads) {
            self.fail_reads.remove(i);
            return Err(Error::retryable("flaky API"));
        }
        let offset = match self.offset {
            Some(o) => o,
            None => ctx
                .merged_state()
                .get("offset")
                .and_then(Value::as_u64)
                .unwrap_or(0),
        };
        if offset >= self.total {
            return Ok(None);
        }
        let end = (offset + self.page).min(self.total);
        let records = (offset..end).map(|id| obj(json!({"id": id}))).collect();
        self.offset = Some(end);
        ctx.state(format!("page-{offset}"), obj(json!({"offset": end})));
        ctx.progress(
            end,
            Some(self.total),
            format!("{end}/{} records", self.total),
        );
        Ok(Some(records))
    }
}

fn ids(sink: &MemorySink, table: &str) -> Vec<u64> {
    sink.records(table)
        .unwrap()
        .iter()
        .map(|v| v["id"].as_u64().unwrap())
        .collect()
}

#[tokio::test(start_paused = true)]
async fn stamps_records_and_commits_merged_state() {
    let sink = Arc::new(MemorySink::new());
    let writer = Writer::builder(Arc::clone(&sink)).build().unwrap();
    let store = Arc::new(MemoryStateStore::new());
    let runner = Runner::new(writer.clone(), Arc::clone(&store), "src");
    let ctx = runner
        .open(
            obj(json!({"type": "paged", "destination": "items"})),
            Map::new(),
        )
        .await
        .unwrap();
    let mut events = ctx.subscribe();
    let report = runner.run(&mut Paged::new(25, 10), &ctx).await.unwrap();
    assert_eq!(report.records, 25);
    assert_eq!(report.reads, 3);
    assert!(!report.resumed);
    let records = sink.records("items").unwrap();
    assert_eq!(
        records[0],
        json!({"id": 0, "__table": "items", "__state": "page-0"})
    );
    assert_eq!(records[24]["__state"], "page-20");
    let saved = store.load("src").await.unwrap().unwrap();
    assert_eq!(saved.state, obj(json!({"offset": 25})));
    assert_eq!(saved.records, 25);
    let mut progress = Vec::new();
    while let Ok(e) = events.try_recv() {
        if let SourceEvent::Progress { loaded, total, .. } = e {
            progress.push((loaded, total));
        }
    }
    assert_eq!(
        progress,
        vec![(10, Some(25)), (20, Some(25)), (25, Some(25))]
    );
    writer.close(far()).await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn checkpoints_follow_the_interval() {
    let sink = Arc::new(MemorySink::new());
    let writer = Writer::builder(Arc::clone(&sink)).build().unwrap();
    let runner =
        Runner::new(writer.clone(), MemoryStateStore::new(), "src").with_settings(RunnerSettings {
            checkpoint_interval: Duration::from_millis(350),
            ..RunnerSettings::default()
        });
    let ctx = runner.open(Map::new(), Map::new()).await.unwrap();
    let mut events = ctx.subscribe();
    // 10 reads of 100 ms each (+1 end read): a checkpoint every 4th read, and one at the end.
    let report = runner.run(&mut Paged::new(100, 10), &ctx).await.unwrap();
    let mut at = Vec::new();
    while let Ok(e) = events.try_recv() {
        if let SourceEvent::Checkpoint { records, .. } = e {
            at.push(records);
        }
    }
    assert_eq!(at, vec![40, 80, 100]);
    assert_eq!(report.checkpoints, 3);
    writer.close(far()).await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn retryable_read_errors_are_retried_with_backoff() {
    let sink = Arc::new(MemorySink::new());
    let writer = Writer::builder(Arc::clone(&sink)).build().unwrap();
    let runner = Runner::new(writer.clone(), MemoryStateStore::new(), "src");
    let ctx = runner.open(Map::new(), Map::new()).await.unwrap();
    let mut source = Paged::new(20, 10);
    source.delay = Duration::ZERO;
    source.fail_reads = vec![2, 3];
    let t0 = Instant::now();
    let report = runner.run(&mut source, &ctx).await.unwrap();
    let spent = Instant::now() - t0;
    // Retries wait 1 s then 2 s, each with jitter down to half.
    assert!(
        spent >= Duration::from_millis(1500) && spent <= Duration::from_secs(3),
        "{spent:?}"
    );
    assert_eq!(report.read_retries, 2);
    assert_eq!(ids(&sink, "records"), (0..20).collect::<Vec<_>>());

    // A fourth failure in a row gives up (3 retries by default).
    let mut failing = Paged::new(20, 10);
    failing.delay = Duration::ZERO;
    failing.fail_reads = vec![1, 1, 1, 1];
    failing.reads = 0;
    let ctx = runner.open(Map::new(), Map::new()).await.unwrap();
    struct AlwaysFails;
    #[async_trait]
    impl DataSource for AlwaysFails {
        async fn read(&mut self, _n: usize, _ctx: &Context) -> Result<Option<Vec<Record>>> {
            Err(Error::retryable("down"))
        }
    }
    let err = runner.run(&mut AlwaysFails, &ctx).await.unwrap_err();
    assert!(err.is_retryable());
    struct NotFound(u32);
    #[async_trait]
    impl DataSource for NotFound {
        async fn read(&mut self, _n: usize, _ctx: &Context) -> Result<Option<Vec<Record>>> {
            self.0 += 1;
            Err(Error::fatal("404"))
        }
    }
    let mut nf = NotFound(0);
    assert!(runner.run(&mut nf, &ctx).await.is_err());
    assert_eq!(nf.0, 1, "a non-retryable error is not retried");
    writer.close(far()).await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_crashed_run_resumes_from_the_file_store_without_skipping() {
    let dir = tempfile::tempdir().unwrap();
    let sink = Arc::new(MemorySink::new());
    const TOTAL: u64 = 1000;
    let settings = RunnerSettings {
        checkpoint_interval: Duration::from_millis(300),
        ..RunnerSettings::default()
    };

    // First run: killed mid-way; what the writer still buffered is lost with it.
    let writer = Writer::builder(Arc::clone(&sink))
        .with_batch_limits(limits(1000, 256_000, 250))
        .build()
        .unwrap();
    let runner = Runner::new(
        writer.clone(),
        FileStateStore::new(dir.path()).unwrap(),
        "paged",
    )
    .with_settings(settings.clone());
    let task = tokio::spawn(async move {
        let ctx = runner.open(Map::new(), Map::new()).await.unwrap();
        runner.run(&mut Paged::new(TOTAL, 30), &ctx).await
    });
    tokio::time::sleep(Duration::from_millis(1750)).await;
    task.abort();
    assert!(task.await.unwrap_err().is_cancelled());
    let lost = writer.close(Instant::now()).await.unwrap();
    let store = FileStateStore::new(dir.path()).unwrap();
    let committed = store.load("paged").await.unwrap().unwrap();
    let offset = committed.state["offset"].as_u64().unwrap();
    assert!(offset > 0 && offset < TOTAL, "crashed mid-run at {offset}");
    assert!(
        lost.total().undelivered > 0 || (ids(&sink, "records").len() as u64) > offset,
        "the crash lost or outran uncommitted records: a resume must redo them"
    );

    // Second run: resumes from the committed offset.
    let writer = Writer::builder(Arc::clone(&sink)).build().unwrap();
    let runner = Runner::new(writer.clone(), store, "paged").with_settings(settings);
    let ctx = runner.open(Map::new(), Map::new()).await.unwrap();
    assert_eq!(ctx.resume_state()["offset"], offset);
    let report = runner.run(&mut Paged::new(TOTAL, 30), &ctx).await.unwrap();
    assert!(report.resumed);
    assert_eq!(report.records, TOTAL - offset, "it did not start over");
    assert!(writer.close(far()).await.unwrap().all_delivered());

    let got: BTreeSet<u64> = ids(&sink, "records").into_iter().collect();
    assert_eq!(
        got,
        (0..TOTAL).collect::<BTreeSet<_>>(),
        "no record skipped"
    );
}

#[tokio::test(start_paused = true)]
async fn state_is_not_committed_past_undelivered_records() {
    let sink = Arc::new(ScriptedSink::new(u32::MAX, false));
    let writer = Writer::builder(Arc::clone(&sink)).build().unwrap();
    let store = Arc::new(MemoryStateStore::new());
    let runner = Runner::new(writer.clone(), Arc::clone(&store), "src");
    let ctx = runner.open(Map::new(), Map::new()).await.unwrap();
    let err = runner.run(&mut Paged::new(20, 10), &ctx).await.unwrap_err();
    assert!(matches!(err, Error::Undelivered { .. }), "{err}");
    assert_eq!(store.load("src").await.unwrap(), None);
    writer.close(far()).await.unwrap();
}

#[derive(Debug, Default)]
struct FakeRefresher {
    calls: AtomicU32,
}

#[async_trait]
impl TokenRefresher for FakeRefresher {
    async fn refresh(&self, refresh_token: &str) -> Result<Tokens> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if refresh_token != "r1" {
            return Err(Error::Unauthorized("bad refresh token".into()));
        }
        Ok(Tokens {
            access_token: "a2".into(),
            refresh_token: Some("r2".into()),
            expires_in: Some(3600),
        })
    }
}

/// Calls an "API" that accepts only access token `a2`, through a token guard.
#[derive(Debug)]
struct Authed {
    guard: Arc<TokenGuard>,
    done: bool,
    api_calls: Arc<AtomicU32>,
}

#[async_trait]
impl DataSource for Authed {
    async fn read(&mut self, _n: usize, ctx: &Context) -> Result<Option<Vec<Record>>> {
        if self.done {
            return Ok(None);
        }
        let calls = Arc::clone(&self.api_calls);
        let records = self
            .guard
            .call(ctx, move |token| {
                let calls = Arc::clone(&calls);
                async move {
                    calls.fetch_add(1, Ordering::SeqCst);
                    if token == "a2" {
                        Ok(vec![obj(json!({"ok": true}))])
                    } else {
                        Err(Error::Unauthorized("expired".into()))
                    }
                }
            })
            .await?;
        self.done = true;
        Ok(Some(records))
    }
}

#[tokio::test(start_paused = true)]
async fn an_expired_token_is_refreshed_saved_and_the_call_retried_once() {
    let sink = Arc::new(MemorySink::new());
    let writer = Writer::builder(Arc::clone(&sink)).build().unwrap();
    let store = Arc::new(MemoryStateStore::new());
    let runner = Runner::new(writer.clone(), Arc::clone(&store), "oauth");
    let refresher = Arc::new(FakeRefresher::default());
    let seen = Arc::new(std::sync::Mutex::new(None));
    let s = Arc::clone(&seen);
    let guard = Arc::new(
        TokenGuard::new(Arc::clone(&refresher))
            .with_callback(move |t| *s.lock().unwrap() = Some(t.access_token.clone())),
    );
    let api_calls = Arc::new(AtomicU32::new(0));
    let ctx = runner
        .open(
            obj(json!({"access_token": "a1", "refresh_token": "r1"})),
            Map::new(),
        )
        .await
        .unwrap();
    let mut events = ctx.subscribe();
    let mut source = Authed {
        guard: Arc::clone(&guard),
        done: false,
        api_calls: Arc::clone(&api_calls),
    };
    runner.run(&mut source, &ctx).await.unwrap();
    assert_eq!(
        api_calls.load(Ordering::SeqCst),
        2,
        "failed once, retried once"
    );
    assert_eq!(refresher.calls.load(Ordering::SeqCst), 1);
    assert_eq!(seen.lock().unwrap().as_deref(), Some("a2"));
    assert_eq!(sink.len(), 1);
    let mut changed = false;
    while let Ok(e) = events.try_recv() {
        if let SourceEvent::SourceChange { changes } = e {
            assert_eq!(
                changes,
                obj(json!({"access_token": "a2", "refresh_token": "r2"}))
            );
            changed = true;
        }
    }
    assert!(changed, "source-change fired");
    // Saved: a new run starts with the new tokens.
    let saved = store.load("oauth").await.unwrap().unwrap();
    assert_eq!(saved.source_changes["refresh_token"], "r2");
    let next = runner
        .open(
            obj(json!({"access_token": "a1", "refresh_token": "r1"})),
            Map::new(),
        )
        .await
        .unwrap();
    assert_eq!(next.param_str("access_token").as_deref(), Some("a2"));

    // With the refresh token refused, the error comes back and there is no second call.
    let ctx = Context::new(
        obj(json!({"access_token": "a1", "refresh_token": "bad"})),
        Map::new(),
        Map::new(),
    );
    let calls = Arc::new(AtomicU32::new(0));
    let c = Arc::clone(&calls);
    let result: Result<()> = guard
        .call(&ctx, move |_| {
            c.fetch_add(1, Ordering::SeqCst);
            async { Err(Error::Unauthorized("expired".into())) }
        })
        .await;
    assert!(matches!(result, Err(Error::Unauthorized(_))));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    writer.close(far()).await.unwrap();
}
