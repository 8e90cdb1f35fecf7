//! Records per second through the writer into the in-memory sink, for ~200-byte records.
//!
//! `cargo bench -p datasource-sdk --bench writer` prints a criterion throughput line and a plain
//! `writer -> MemorySink: N records/s` line.

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_main};
use datasource_sdk::{MemorySink, Writer};
use serde::Serialize;

#[derive(Serialize)]
struct Row<'a> {
    id: u64,
    name: &'a str,
    email: &'a str,
    created: &'a str,
    active: bool,
    score: f64,
    note: &'a str,
}

const NOTE: &str = "a short note that pads the record to about two hundred bytes";

fn row(id: u64) -> Row<'static> {
    Row {
        id,
        name: "Ada Lovelace",
        email: "ada@example.com",
        created: "2024-01-02T03:04:05Z",
        active: id.is_multiple_of(2),
        score: 12.5,
        note: NOTE,
    }
}

/// Writes `n` records into a fresh writer and closes it; returns the elapsed time.
async fn run(n: u64) -> Duration {
    let sink = Arc::new(MemorySink::new());
    let writer = Writer::builder(Arc::clone(&sink)).build().expect("writer");
    let start = Instant::now();
    for id in 0..n {
        writer.write("bench", &row(id)).await.expect("write");
    }
    let report = writer
        .close(tokio::time::Instant::now() + Duration::from_secs(60))
        .await
        .expect("close");
    let elapsed = start.elapsed();
    assert!(report.all_delivered());
    assert_eq!(sink.len() as u64, n);
    elapsed
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let size = serde_json::to_vec(&row(123_456))
        .map(|v| v.len())
        .unwrap_or(0);
    const N: u64 = 200_000;
    let mut group = c.benchmark_group("writer");
    group.throughput(Throughput::Elements(N));
    group.sample_size(10);
    group.bench_function(format!("memory_sink_{size}B_records"), |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    total += run(N).await;
                }
                total
            })
        })
    });
    group.finish();

    let n = 2_000_000;
    let elapsed = rt.block_on(run(n));
    println!(
        "writer -> MemorySink: {:.0} records/s ({n} records of {size} bytes in {:.3} s)",
        n as f64 / elapsed.as_secs_f64(),
        elapsed.as_secs_f64()
    );
}

/// The criterion group (generated functions carry no docs).
#[allow(missing_docs)]
mod group {
    use super::bench;
    criterion::criterion_group!(benches, bench);
}

criterion_main!(group::benches);
