//! Records per second through the writer into the in-memory sink, for ~200-byte records.
//!
//! `cargo bench -p datasource-sdk --bench writer` prints criterion throughput lines and plain
//! `writer ... -> MemorySink: N records/s` lines: plain writes on two worker threads, and, on a
//! single-threaded runtime (one core), writes with end-to-end acknowledgement tracking (one
//! `Acks` per page of 1000 records, as the runner does, all awaited at the end).

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_main};
use datasource_sdk::{Acks, MemorySink, Writer};
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

/// Like [`run`], with every record tracked: one tracker per 1000 records, all settled at the end.
async fn run_tracked(n: u64) -> Duration {
    let sink = Arc::new(MemorySink::new());
    let writer = Writer::builder(Arc::clone(&sink)).build().expect("writer");
    let start = Instant::now();
    let mut pages = Vec::with_capacity((n / 1000 + 1) as usize);
    let mut acks = Acks::new();
    for id in 0..n {
        if id % 1000 == 0 {
            acks = Acks::new();
            pages.push(acks.clone());
        }
        writer
            .write_tracked("bench", &row(id), &acks)
            .await
            .expect("write");
    }
    writer.send_open_batches().expect("send");
    let mut delivered = 0;
    for page in &pages {
        let summary = page.settled().await;
        assert!(summary.all_acknowledged());
        delivered += summary.delivered;
    }
    let elapsed = start.elapsed();
    assert_eq!(delivered, n);
    let report = writer
        .close(tokio::time::Instant::now() + Duration::from_secs(60))
        .await
        .expect("close");
    assert!(report.all_delivered());
    assert_eq!(sink.len() as u64, n);
    elapsed
}

/// CPU time (user + system) this process has used, from `/proc/self/stat` (Linux; `None`
/// elsewhere). On a shared, loaded machine, records per CPU-second is the fairer number.
fn cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line: 12 and 13 after the name.
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // Linux reports them in USER_HZ, 100 per second on every common configuration.
    Some(Duration::from_millis(ticks * 10))
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
    let one_core = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    group.bench_function(format!("memory_sink_{size}B_records_acks_1_core"), |b| {
        b.iter_custom(|iters| {
            one_core.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    total += run_tracked(N).await;
                }
                total
            })
        })
    });
    group.finish();

    let n = 2_000_000;
    let cpu_before = cpu_time();
    let elapsed = one_core.block_on(run_tracked(n));
    let cpu = cpu_time()
        .zip(cpu_before)
        .map(|(after, before)| after.saturating_sub(before));
    println!(
        "writer (acks, 1 core) -> MemorySink: {:.0} records/s ({n} records of {size} bytes in {:.3} s)",
        n as f64 / elapsed.as_secs_f64(),
        elapsed.as_secs_f64()
    );
    if let Some(cpu) = cpu.filter(|c| !c.is_zero()) {
        println!(
            "writer (acks, 1 core) -> MemorySink: {:.0} records per CPU-second ({:.3} s of CPU)",
            n as f64 / cpu.as_secs_f64(),
            cpu.as_secs_f64()
        );
    }
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
