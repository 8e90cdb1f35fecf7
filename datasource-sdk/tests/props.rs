//! Property tests: batch limits respected, per-table order kept, nothing lost.

mod common;

use std::sync::Arc;

use common::*;
use datasource_sdk::{MemorySink, Writer};
use proptest::prelude::*;

/// Runs `ops` (table index, payload length) through a writer on a paused clock and returns the
/// sink and the report.
fn run(
    ops: &[(u8, usize)],
    max_records: usize,
    max_bytes: usize,
    flush_every: usize,
) -> (Arc<MemorySink>, datasource_sdk::CloseReport) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap();
    rt.block_on(async {
        let sink = Arc::new(MemorySink::new());
        let writer = Writer::builder(Arc::clone(&sink))
            .with_batch_limits(limits(max_records, max_bytes, 50))
            .with_buffer_bytes(max_bytes * 3)
            .build()
            .unwrap();
        for (i, (table, len)) in ops.iter().enumerate() {
            let record = serde_json::json!({"i": i, "p": "x".repeat(*len)});
            writer.write(&format!("t{table}"), &record).await.unwrap();
            if flush_every > 0 && i % flush_every == 0 {
                writer.flush().await.unwrap();
            }
            if i % 7 == 0 {
                tokio::time::sleep(std::time::Duration::from_millis(13)).await;
            }
        }
        let report = writer.close(far()).await.unwrap();
        (sink, report)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn limits_order_and_nothing_lost(
        ops in prop::collection::vec((0u8..4, 0usize..120), 0..300),
        max_records in 1usize..20,
        max_bytes in 150usize..2000,
        flush_every in 0usize..50,
    ) {
        let (sink, report) = run(&ops, max_records, max_bytes, flush_every);
        // Records of 12 + len bytes (+1 newline) never exceed 133 < 150: none dead-lettered.
        prop_assert!(report.all_delivered());
        prop_assert_eq!(report.total().delivered, ops.len() as u64);
        for (_, _, records, bytes) in sink.batches() {
            prop_assert!(records >= 1 && records <= max_records);
            prop_assert!(bytes <= max_bytes);
        }
        for t in 0..4u8 {
            let got: Vec<u64> = sink
                .records(&format!("t{t}"))
                .unwrap()
                .iter()
                .map(|v| v["i"].as_u64().unwrap())
                .collect();
            let want: Vec<u64> = ops
                .iter()
                .enumerate()
                .filter(|(_, (table, _))| *table == t)
                .map(|(i, _)| i as u64)
                .collect();
            prop_assert_eq!(got, want);
        }
    }
}
