//! The time series cache API under random windows, sub-second, empty, reversed and huge ones
//! included, against the embedded service over loopback: every answer is 200 with points
//! inside the window, in order, each time once, or 400 with a reason; never a panic, a dropped
//! connection or a 5xx.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use examples::tscache::api::{self, Series};
use examples::tscache::forecast::MemoryForecast;
use examples::tscache::history::LocalObjects;
use examples::tscache::ids::MemoryIdentifiers;
use examples::tscache::pipeline::Cache;
use examples::tscache::{Clock, source};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use time::OffsetDateTime;

const T0: i64 = 1_717_243_321;

async fn serve(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    url
}

/// A window around the data: sub-second, within a day, reversed, negative, past year 9999.
fn windows() -> impl Strategy<Value = (Option<i64>, Option<i64>)> {
    let around = (T0 - 2 * 86_400) * 1000..(T0 + 2 * 86_400) * 1000;
    let any_ms = prop_oneof![
        3 => around.clone(),
        1 => any::<i64>(),
        1 => Just(0i64),
        1 => Just(253_402_300_799_999i64),
    ];
    prop_oneof![
        // Sub-second windows and windows of up to a few seconds.
        3 => (around.clone(), 0i64..3000).prop_map(|(s, len)| (Some(s), Some(s + len))),
        3 => (any_ms.clone(), any_ms.clone()).prop_map(|(s, e)| (Some(s), Some(e))),
        1 => any_ms.clone().prop_map(|s| (Some(s), None)),
        1 => any_ms.prop_map(|e| (None, Some(e))),
        1 => Just((None, None)),
    ]
}

#[test]
fn random_windows_never_break_the_api() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (api, client) = rt.block_on(async {
        let now = Arc::new(AtomicI64::new(T0));
        let t = Arc::clone(&now);
        let clock: Clock = Arc::new(move || {
            OffsetDateTime::from_unix_timestamp(t.load(Ordering::SeqCst))
                .unwrap_or(OffsetDateTime::UNIX_EPOCH)
        });
        let external = serve(source::external_api(clock.clone())).await;
        let ids = Arc::new(MemoryIdentifiers::default());
        let cache = Arc::new(
            Cache::new(
                ids.clone(),
                Arc::new(LocalObjects::new(dir.path())),
                Arc::new(MemoryForecast::default()),
                "forecast",
                external,
                clock,
            )
            .unwrap(),
        );
        use examples::tscache::ids::IdentifierTable;
        ids.add("sensor-1").await.unwrap();
        let report = cache.run_cycle().await.unwrap();
        assert!(report.failures.is_empty(), "{report:?}");
        (serve(api::router(cache)).await, reqwest::Client::new())
    });
    // An unknown identifier is refused.
    let status = rt.block_on(async {
        client
            .get(format!("{api}/series/nobody"))
            .send()
            .await
            .unwrap()
            .status()
    });
    assert_eq!(status, 400);

    let mut runner = TestRunner::new(Config {
        cases: 300,
        ..Config::default()
    });
    let answered = [
        std::sync::atomic::AtomicU32::new(0),
        std::sync::atomic::AtomicU32::new(0),
    ];
    runner
        .run(&windows(), |(start, end)| {
            let mut query = Vec::new();
            if let Some(s) = start {
                query.push(format!("start={s}"));
            }
            if let Some(e) = end {
                query.push(format!("end={e}"));
            }
            let url = format!("{api}/series/sensor-1?{}", query.join("&"));
            let (status, body) = rt.block_on(async {
                let response = client
                    .get(&url)
                    .send()
                    .await
                    .map_err(|e| TestCaseError::fail(format!("{url}: {e}")))?;
                let status = response.status().as_u16();
                let body = response
                    .text()
                    .await
                    .map_err(|e| TestCaseError::fail(format!("{url}: {e}")))?;
                Ok::<_, TestCaseError>((status, body))
            })?;
            match status {
                200 => {
                    answered[0].fetch_add(1, Ordering::Relaxed);
                    let series: Series = serde_json::from_str(&body)
                        .map_err(|e| TestCaseError::fail(format!("{url}: {e}: {body}")))?;
                    for p in &series.points {
                        prop_assert!(p.time >= series.start && p.time <= series.end, "{url}");
                    }
                    for pair in series.points.windows(2) {
                        prop_assert!(pair[0].time < pair[1].time, "{url}: order or duplicate");
                    }
                }
                400 => {
                    answered[1].fetch_add(1, Ordering::Relaxed);
                    prop_assert!(!body.is_empty(), "{url}: a 400 says why");
                }
                other => prop_assert!(false, "{url}: status {other}: {body}"),
            }
            Ok(())
        })
        .unwrap();
    let (ok, refused) = (
        answered[0].load(Ordering::Relaxed),
        answered[1].load(Ordering::Relaxed),
    );
    assert!(ok > 30 && refused > 30, "{ok} answered, {refused} refused");
    // The sub-second window that used to panic the handler.
    let status = rt.block_on(async {
        client
            .get(format!(
                "{api}/series/sensor-1?start=1700000000001&end=1700000000999"
            ))
            .send()
            .await
            .unwrap()
            .status()
    });
    assert_eq!(status, 400);
}
