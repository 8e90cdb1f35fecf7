//! The writer's counters reach the `metrics` facade (feature `metrics`), labelled by table.

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use common::*;
use datasource_sdk::{Writer, metric_names};
use metrics::{
    Counter, CounterFn, Gauge, GaugeFn, Histogram, Key, KeyName, Metadata, Recorder, SharedString,
    Unit,
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

/// A gauge: the f64 bits of its value, and every value set, in order.
#[derive(Debug, Default)]
struct GaugeCell {
    values: Mutex<Vec<f64>>,
}

impl GaugeFn for GaugeCell {
    fn increment(&self, value: f64) {
        let mut values = self.values.lock().unwrap();
        let last = values.last().copied().unwrap_or(0.0);
        values.push(last + value);
    }
    fn decrement(&self, value: f64) {
        self.increment(-value);
    }
    fn set(&self, value: f64) {
        self.values.lock().unwrap().push(value);
    }
}

/// Keeps every counter by "name{table}", and every gauge by name.
#[derive(Debug, Default)]
struct Capture {
    counters: Mutex<BTreeMap<String, Arc<Cell>>>,
    gauges: Mutex<BTreeMap<String, Arc<GaugeCell>>>,
}

impl Capture {
    fn get(&self, name: &str, table: &str) -> u64 {
        self.counters
            .lock()
            .unwrap()
            .get(&format!("{name}{{{table}}}"))
            .map_or(0, |c| c.0.load(Ordering::Relaxed))
    }

    fn gauge(&self, name: &str) -> Vec<f64> {
        self.gauges
            .lock()
            .unwrap()
            .get(name)
            .map(|g| g.values.lock().unwrap().clone())
            .unwrap_or_default()
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
    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        let cell = Arc::clone(
            self.gauges
                .lock()
                .unwrap()
                .entry(key.name().to_owned())
                .or_default(),
        );
        Gauge::from_arc(cell)
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

#[test]
fn the_buffered_bytes_gauge_rises_with_cut_batches_and_falls_with_deliveries() {
    let capture = Capture::default();
    metrics::with_local_recorder(&capture, || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()
            .unwrap();
        rt.block_on(async {
            let sink = Arc::new(GateSink::default());
            let writer = Writer::builder(Arc::clone(&sink))
                .with_batch_limits(limits(2, 100, 10_000))
                .build()
                .unwrap();
            // Each record is `"abcd"` plus a newline: 7 bytes; batches of two.
            for _ in 0..4 {
                writer.write("t", &"abcd").await.unwrap();
            }
            tokio::task::yield_now().await;
            let values = capture.gauge(metric_names::BUFFERED_BYTES);
            assert_eq!(values.last(), Some(&28.0), "{values:?}");
            sink.open();
            writer.flush().await.unwrap();
            let values = capture.gauge(metric_names::BUFFERED_BYTES);
            assert_eq!(values.last(), Some(&0.0), "{values:?}");
            assert_eq!(writer.stats().buffered_bytes, 0);
            assert!(writer.close(far()).await.unwrap().all_delivered());
        });
    });
}
