//! The writer's counters reach the `metrics` facade (feature `metrics`), labelled by table.

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use common::*;
use datasource_sdk::{Writer, metric_names};
use metrics::{
    Counter, CounterFn, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit,
};

#[derive(Debug, Default)]
struct Cell(AtomicU64);

impl CounterFn for Cell {
    fn increment(&self, value: u64) {
        self.0.fetch_add(value, Ordering::Relaxed);
    }
    fn absolute(&self, value: u64) {
        self.0.store(value, Ordering::Relaxed);
    }
}

/// Keeps every counter by "name{table}".
#[derive(Debug, Default)]
struct Capture {
    counters: Mutex<BTreeMap<String, Arc<Cell>>>,
}

impl Capture {
    fn get(&self, name: &str, table: &str) -> u64 {
        self.counters
            .lock()
            .unwrap()
            .get(&format!("{name}{{{table}}}"))
            .map_or(0, |c| c.0.load(Ordering::Relaxed))
    }
}

impl Recorder for Capture {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        let table = key
            .labels()
            .find(|l| l.key() == "table")
            .map(|l| l.value().to_owned())
            .unwrap_or_default();
        let cell = Arc::clone(
            self.counters
                .lock()
                .unwrap()
                .entry(format!("{}{{{table}}}", key.name()))
                .or_default(),
        );
        Counter::from_arc(cell)
    }
    fn register_gauge(&self, _: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::noop()
    }
    fn register_histogram(&self, _: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::noop()
    }
}

#[test]
fn counters_are_exported_through_the_metrics_facade() {
    let capture = Capture::default();
    metrics::with_local_recorder(&capture, || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()
            .unwrap();
        rt.block_on(async {
            let sink = Arc::new(ScriptedSink::new(1, true));
            let writer = Writer::builder(Arc::clone(&sink))
                .with_batch_limits(limits(2, 100, 10))
                .with_retry(fast_retry(5))
                .build()
                .unwrap();
            for n in 0..5 {
                writer.write("orders", &serde_json::json!(n)).await.unwrap();
            }
            assert!(writer.write("orders", &"x".repeat(200)).await.is_err());
            assert!(writer.close(far()).await.unwrap().all_delivered());
        });
    });
    assert_eq!(capture.get(metric_names::DELIVERED, "orders"), 5);
    assert_eq!(capture.get(metric_names::WRITTEN, "orders"), 5);
    assert_eq!(capture.get(metric_names::RETRIED, "orders"), 1);
    assert_eq!(capture.get(metric_names::REFUSED, "orders"), 1);
    assert_eq!(capture.get(metric_names::DROPPED, "orders"), 0);
}
