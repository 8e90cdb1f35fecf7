//! The time series cache at scale on the embedded defaults: a cycle of more identifiers than the
//! in-process queue holds finishes (scheduling and draining run at once, the schedule waits while
//! the queue is full), and its progress is visible in `GET /status`.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use examples::tscache::api;
use examples::tscache::forecast::MemoryForecast;
use examples::tscache::history::LocalObjects;
use examples::tscache::ids::MemoryIdentifiers;
use examples::tscache::pipeline::Cache;
use examples::tscache::queue::{MemoryQueue, Message, WorkQueue};
use examples::tscache::{CacheError, Clock, source};
use time::OffsetDateTime;

const T0: i64 = 1_717_243_321;

async fn serve(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    url
}

fn fixed_clock() -> Clock {
    let t = Arc::new(AtomicI64::new(T0));
    Arc::new(move || {
        OffsetDateTime::from_unix_timestamp(t.load(Ordering::SeqCst))
            .unwrap_or(OffsetDateTime::UNIX_EPOCH)
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cycle_of_more_identifiers_than_the_queue_holds_completes() {
    const QUEUE_BOUND: usize = 20;
    const IDS: usize = 130;
    let dir = tempfile::tempdir().unwrap();
    let clock = fixed_clock();
    let external = serve(source::external_api(clock.clone())).await;
    let queue = Arc::new(MemoryQueue::new(QUEUE_BOUND, 3));
    let cache = Cache::new(
        Arc::new(MemoryIdentifiers::default()),
        Arc::new(LocalObjects::new(dir.path())),
        Arc::new(MemoryForecast::default()),
        "forecast",
        external,
        clock,
    )
    .unwrap()
    .with_queue(queue.clone());
    let cache = Arc::new(cache);
    let api = serve(api::router(cache.clone())).await;
    for i in 0..IDS {
        cache.ids().add(&format!("id-{i:04}")).await.unwrap();
    }
    let before: serde_json::Value = reqwest::get(format!("{api}/status"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(before["cycles_completed"], 0, "{before}");

    // Today's bug: the schedule filled the queue before any worker ran, and waited forever.
    let report = tokio::time::timeout(Duration::from_secs(120), cache.run_cycle())
        .await
        .expect("a cycle larger than the queue bound finishes")
        .unwrap();
    assert_eq!((report.enqueued, report.done), (IDS, IDS), "{report:?}");
    assert_eq!(report.failed, 0, "{report:?}");
    assert_eq!(queue.pending(), 0);
    assert!(
        queue.high_water() <= QUEUE_BOUND,
        "the bound held: {}",
        queue.high_water()
    );

    let status: serde_json::Value = reqwest::get(format!("{api}/status"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(status["cycles_completed"], 1, "{status}");
    assert_eq!(status["running"], false, "{status}");
    assert_eq!(status["last_cycle"]["enqueued"], IDS, "{status}");
    assert_eq!(status["last_cycle"]["fetched"], IDS, "{status}");
    assert_eq!(status["last_cycle"]["failed"], 0, "{status}");

    for id in ["id-0000", "id-0077", "id-0129"] {
        let day_ms = 24 * 3600 * 1000;
        let url = format!(
            "{api}/series/{id}?start={}&end={}",
            T0 * 1000 - day_ms,
            T0 * 1000 + day_ms
        );
        let series: api::Series = reqwest::get(url).await.unwrap().json().await.unwrap();
        assert_eq!(series.points.len(), 576, "{id}");
    }
}

/// The in-process queue with what SQS adds: the first `failures` receives fail (an unreachable
/// queue), and every receive takes `latency`; records how many receives were in flight at once.
#[derive(Debug)]
struct TestQueue {
    inner: MemoryQueue,
    failures: std::sync::atomic::AtomicU32,
    latency: Duration,
    now: std::sync::atomic::AtomicUsize,
    most: std::sync::atomic::AtomicUsize,
}

impl TestQueue {
    fn new(inner: MemoryQueue, failures: u32, latency: Duration) -> Self {
        TestQueue {
            inner,
            failures: failures.into(),
            latency,
            now: Default::default(),
            most: Default::default(),
        }
    }
}

#[async_trait::async_trait]
impl WorkQueue for TestQueue {
    async fn send_batch(&self, bodies: &[String]) -> Result<(), CacheError> {
        self.inner.send_batch(bodies).await
    }
    async fn receive(&self, max: usize, wait: Duration) -> Result<Vec<Message>, CacheError> {
        let failing = self
            .failures
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| {
                left.checked_sub(1)
            })
            .is_ok();
        if failing {
            return Err(CacheError::Unavailable("connection refused".into()));
        }
        let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.most.fetch_max(now, Ordering::SeqCst);
        tokio::time::sleep(self.latency).await;
        let got = self.inner.receive(max, wait).await;
        self.now.fetch_sub(1, Ordering::SeqCst);
        got
    }
    async fn delete(&self, messages: &[Message]) -> Result<(), CacheError> {
        self.inner.delete(messages).await
    }
    async fn release(&self, message: &Message, delay: Duration) -> Result<(), CacheError> {
        self.inner.release(message, delay).await
    }
    async fn extend(&self, message: &Message, visibility: Duration) -> Result<(), CacheError> {
        self.inner.extend(message, visibility).await
    }
    fn visibility_timeout(&self) -> Option<Duration> {
        None
    }
    fn max_receives(&self) -> u32 {
        self.inner.max_receives()
    }
    async fn is_empty(&self) -> Result<bool, CacheError> {
        self.inner.is_empty().await
    }
    async fn dead_letters(&self) -> Result<Vec<String>, CacheError> {
        WorkQueue::dead_letters(&self.inner).await
    }
}

/// A cache on the embedded defaults (history in `dir`) with `queue`, fetching from a source
/// served on loopback at the fixed clock.
async fn embedded_cache(dir: &std::path::Path, queue: Arc<dyn WorkQueue>) -> Cache {
    let clock = fixed_clock();
    let external = serve(source::external_api(clock.clone())).await;
    Cache::new(
        Arc::new(MemoryIdentifiers::default()),
        Arc::new(LocalObjects::new(dir)),
        Arc::new(MemoryForecast::default()),
        "forecast",
        external,
        clock,
    )
    .unwrap()
    .with_queue(queue)
}

#[tokio::test]
async fn receive_errors_are_retried_and_reported_not_the_end_of_the_workers() {
    let dir = tempfile::tempdir().unwrap();
    let queue = Arc::new(TestQueue::new(MemoryQueue::new(100, 3), 3, Duration::ZERO));
    let mut cache = embedded_cache(dir.path(), queue.clone()).await;
    cache.queue_retry.initial_backoff = Duration::from_millis(1);
    let cache = Arc::new(cache);
    for i in 0..5 {
        cache.ids().add(&format!("id-{i}")).await.unwrap();
    }
    let report = tokio::time::timeout(Duration::from_secs(60), cache.run_cycle())
        .await
        .expect("the cycle ends")
        .unwrap();
    assert_eq!((report.enqueued, report.done), (5, 5), "{report:?}");
    let errors: Vec<_> = report
        .failures
        .iter()
        .filter(|f| f.contains("receiving") && f.contains("connection refused"))
        .collect();
    assert_eq!(errors.len(), 3, "each receive error reported: {report:?}");
    let status = cache.progress().status();
    assert_eq!(status.current.queue_errors, 3, "{status:?}");
    assert_eq!(status.recent_errors.len(), 3, "{status:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_receives_are_in_flight_for_many_workers_never_more_than_their_slots() {
    const IDS: usize = 300;
    let dir = tempfile::tempdir().unwrap();
    let queue = Arc::new(TestQueue::new(
        MemoryQueue::new(1000, 3),
        0,
        Duration::from_millis(20),
    ));
    let mut cache = embedded_cache(dir.path(), queue.clone()).await;
    cache.workers = 40;
    cache.receive_wait = Duration::from_millis(100);
    let cache = Arc::new(cache);
    for i in 0..IDS {
        cache.ids().add(&format!("id-{i:04}")).await.unwrap();
    }
    let report = tokio::time::timeout(Duration::from_secs(120), cache.run_cycle())
        .await
        .expect("the cycle ends")
        .unwrap();
    assert_eq!(
        (report.enqueued, report.done, report.failed),
        (IDS, IDS, 0),
        "{report:?}"
    );
    let most = queue.most.load(Ordering::SeqCst);
    // Before: one receive at a time, so a queue with latency starved all but ten workers.
    assert_eq!(
        most, 4,
        "one receive in flight per 10 of the 40 worker slots (at most)"
    );
    assert_eq!(queue.inner.pending(), 0);
}
