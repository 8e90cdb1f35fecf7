//! Peak memory with a stalled sink: the writer holds at most its configured buffer.
//!
//! `cargo bench -p datasource-sdk --bench memory` writes ~200-byte records into a writer whose
//! sink never answers, until `write` blocks (backpressure), and prints the bytes the writer
//! held at its peak next to the configured buffer, and the growth of the process's peak RSS.

use std::time::Duration;

use async_trait::async_trait;
use datasource_sdk::{Batch, Result, RetryPolicy, Sink, Writer};

/// A sink whose deliveries never finish.
#[derive(Debug)]
struct Stalled;

#[async_trait]
impl Sink for Stalled {
    async fn deliver(&self, _batch: &Batch) -> Result<()> {
        std::future::pending::<()>().await;
        Ok(())
    }
}

/// Peak resident set size (VmHWM) in bytes, where /proc is available.
fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    const BUFFER: usize = 16 * 1024 * 1024;
    let before = peak_rss();
    let (accepted, stats) = rt.block_on(async {
        let writer = Writer::builder(Stalled)
            .with_buffer_bytes(BUFFER)
            .with_retry(RetryPolicy {
                attempt_timeout: Duration::from_secs(3600),
                ..RetryPolicy::default()
            })
            .build()
            .expect("writer");
        let record = serde_json::json!({
            "id": 0, "name": "Ada Lovelace", "email": "ada@example.com",
            "created": "2024-01-02T03:04:05Z", "active": true, "score": 12.5,
            "note": "a short note that pads the record to about two hundred bytes"
        });
        let mut accepted = 0u64;
        // Far more than the buffer holds: 1,000,000 x ~200 B = ~200 MB.
        for _ in 0..1_000_000u64 {
            let write = writer.write("stalled", &record);
            match tokio::time::timeout(Duration::from_millis(500), write).await {
                Ok(Ok(())) => accepted += 1,
                Ok(Err(e)) => panic!("write failed: {e}"),
                Err(_) => break, // blocked: the buffer is full
            }
        }
        let stats = writer.stats();
        let report = writer
            .close(tokio::time::Instant::now())
            .await
            .expect("close");
        assert_eq!(report.total().undelivered, accepted);
        (accepted, stats)
    });
    let after = peak_rss();
    println!(
        "stalled sink: buffer {BUFFER} B, peak held {} B (within buffer: {}), {accepted} records accepted before write blocked",
        stats.peak_buffered_bytes,
        stats.peak_buffered_bytes <= BUFFER
    );
    if let (Some(b), Some(a)) = (before, after) {
        println!(
            "stalled sink: peak RSS {:.1} MiB -> {:.1} MiB (+{:.1} MiB for a {:.1} MiB buffer)",
            b as f64 / 1048576.0,
            a as f64 / 1048576.0,
            a.saturating_sub(b) as f64 / 1048576.0,
            BUFFER as f64 / 1048576.0
        );
    }
    assert!(stats.peak_buffered_bytes <= BUFFER);
}
