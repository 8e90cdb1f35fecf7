//! Chaos: the sink fails 30% of calls (retryable) and stalls at random; after `close`, every
//! record was delivered at least once, in order per table, and the report says so.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use common::*;
use datasource_sdk::{RetryPolicy, Writer};
use serde_json::json;

#[tokio::test(start_paused = true)]
async fn every_record_is_delivered_despite_failures_and_stalls() {
    for seed in [1u64, 2, 3] {
        let sink = Arc::new(ChaosSink::new(seed, 0.3, 0.1, Duration::from_secs(20)));
        let writer = Writer::builder(Arc::clone(&sink))
            .with_batch_limits(limits(25, 4000, 200))
            .with_buffer_bytes(16_000)
            .with_retry(RetryPolicy {
                max_attempts: std::num::NonZeroU32::new(60).unwrap(),
                initial_backoff: Duration::from_millis(20),
                max_backoff: Duration::from_secs(2),
                max_elapsed: Duration::from_secs(3600),
                attempt_timeout: Duration::from_secs(5),
            })
            .build()
            .unwrap();
        const N: u64 = 3000;
        let tables = ["orders", "users", "events"];
        let mut producers = Vec::new();
        // Three concurrent producers, one per table.
        for (t, &table) in tables.iter().enumerate() {
            let writer = writer.clone();
            producers.push(tokio::spawn(async move {
                for n in (t as u64..N).step_by(3) {
                    writer.write(table, &json!({"n": n})).await.unwrap();
                }
            }));
        }
        for p in producers {
            p.await.unwrap();
        }
        let report = writer.close(far()).await.unwrap();
        assert!(report.all_delivered(), "seed {seed}: {report:?}");
        assert_eq!(report.total().delivered, N, "seed {seed}");
        assert!(
            sink.failures.load(Ordering::Relaxed) > 50,
            "the sink did fail"
        );
        assert!(
            sink.stalls.load(Ordering::Relaxed) > 5,
            "the sink did stall"
        );

        let stored = sink.stored.lock().unwrap().clone();
        let mut first_seen: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
        let mut seen = std::collections::HashSet::new();
        for (table, v) in &stored {
            let n = v["n"].as_u64().unwrap();
            if seen.insert(n) {
                first_seen.entry(table.as_str()).or_default().push(n);
            }
        }
        assert_eq!(
            seen.len() as u64,
            N,
            "seed {seed}: every record at least once"
        );
        for (t, table) in tables.iter().enumerate() {
            let want: Vec<u64> = (t as u64..N).step_by(3).collect();
            assert_eq!(first_seen[table], want, "seed {seed}: order of {table}");
        }
    }
}
