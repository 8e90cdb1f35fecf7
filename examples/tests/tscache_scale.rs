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
use examples::tscache::queue::MemoryQueue;
use examples::tscache::{Clock, source};
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
