//! The sink conformance suite: every [`Sink`] backend runs these scenarios in its tests.
//!
//! A backend's test builds the sink and a `read_back` function that returns every record
//! stored for a table (decoded JSON), then calls [`run_all`]. Records carry an `"id"` string
//! (usable as a DynamoDB hash key) unique to the scenario, so scenarios sharing a table do not
//! see each other's records.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use serde_json::{Value, json};

use crate::{Batch, BatchId, BatchLimits, Error, Result, Sink, Writer};

/// Reads back every record a sink stored for a table.
pub type ReadBack = Arc<dyn Fn(String) -> BoxFuture<'static, Result<Vec<Value>>> + Send + Sync>;

/// What the suite needs to know about a backend.
#[derive(Clone)]
pub struct Suite {
    /// The sink under test.
    pub sink: Arc<dyn Sink>,
    /// Reads a table back.
    pub read_back: ReadBack,
    /// Two distinct tables the sink can write (created beforehand where the backend needs it).
    pub tables: [String; 2],
    /// Whether `read_back` returns records in delivery order (false for DynamoDB scans).
    pub ordered: bool,
}

impl std::fmt::Debug for Suite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Suite")
            .field("sink", &self.sink)
            .field("tables", &self.tables)
            .field("ordered", &self.ordered)
            .finish_non_exhaustive()
    }
}

fn record(scenario: &str, n: usize) -> Value {
    json!({"id": format!("{scenario}-{n:05}"), "n": n, "scenario": scenario, "payload": "x".repeat(40)})
}

fn batch(seq: u64, table: &str, records: &[Value]) -> Batch {
    let encoded = records
        .iter()
        .map(|r| serde_json::to_vec(r).unwrap_or_default())
        .collect();
    // A random writer id per batch keeps ids unique across test runs against a shared server.
    Batch::new(
        BatchId {
            writer: rand::random(),
            seq,
        },
        table,
        encoded,
    )
}

impl Suite {
    /// The records of `scenario` in `table`, sorted by `n` unless the sink is ordered.
    async fn stored(&self, table: &str, scenario: &str) -> Result<Vec<Value>> {
        let all = (self.read_back)(table.to_owned()).await?;
        let mut mine: Vec<Value> = all
            .into_iter()
            .filter(|r| r.get("scenario").and_then(Value::as_str) == Some(scenario))
            .collect();
        if !self.ordered {
            mine.sort_by_key(|r| r.get("n").and_then(Value::as_u64));
        }
        Ok(mine)
    }

    fn tag(&self, name: &str) -> String {
        format!("{name}-{:08x}", rand::random::<u32>())
    }
}

/// One batch is stored whole, records equal to what was sent, in order.
pub async fn delivers_a_batch(suite: &Suite) -> Result<()> {
    let scenario = suite.tag("one-batch");
    let table = &suite.tables[0];
    let records: Vec<Value> = (0..5).map(|n| record(&scenario, n)).collect();
    suite.sink.deliver(&batch(0, table, &records)).await?;
    assert_eq!(suite.stored(table, &scenario).await?, records);
    Ok(())
}

/// Delivering the same batch (same id) again does not store its records twice.
pub async fn redelivery_is_idempotent(suite: &Suite) -> Result<()> {
    let scenario = suite.tag("redelivery");
    let table = &suite.tables[0];
    let records: Vec<Value> = (0..3).map(|n| record(&scenario, n)).collect();
    let b = batch(1, table, &records);
    suite.sink.deliver(&b).await?;
    suite.sink.deliver(&b).await?;
    assert_eq!(suite.stored(table, &scenario).await?, records);
    Ok(())
}

/// An empty batch is accepted and stores nothing.
pub async fn empty_batch(suite: &Suite) -> Result<()> {
    let scenario = suite.tag("empty");
    suite.sink.deliver(&batch(2, &suite.tables[0], &[])).await?;
    assert!(suite.stored(&suite.tables[0], &scenario).await?.is_empty());
    Ok(())
}

/// Records of one table never show up in another.
pub async fn tables_are_separate(suite: &Suite) -> Result<()> {
    let scenario = suite.tag("separate");
    let [a, b] = &suite.tables;
    let in_a: Vec<Value> = (0..2).map(|n| record(&scenario, n)).collect();
    let in_b: Vec<Value> = (2..5).map(|n| record(&scenario, n)).collect();
    suite.sink.deliver(&batch(3, a, &in_a)).await?;
    suite.sink.deliver(&batch(4, b, &in_b)).await?;
    assert_eq!(suite.stored(a, &scenario).await?, in_a);
    assert_eq!(suite.stored(b, &scenario).await?, in_b);
    Ok(())
}

/// Through a [`Writer`] with small batches: everything is delivered, the report says so, and
/// each table holds its records (in order, for ordered sinks).
pub async fn through_the_writer(suite: &Suite) -> Result<()> {
    let scenario = suite.tag("writer");
    let writer = Writer::builder(Arc::clone(&suite.sink))
        .with_batch_limits(BatchLimits {
            max_records: std::num::NonZeroUsize::new(7).unwrap_or(std::num::NonZeroUsize::MIN),
            max_bytes: std::num::NonZeroUsize::new(4096).unwrap_or(std::num::NonZeroUsize::MIN),
            timeout: Duration::from_millis(50),
        })
        .build()?;
    let mut expected: [Vec<Value>; 2] = [Vec::new(), Vec::new()];
    for n in 0..60 {
        let r = record(&scenario, n);
        let t = n % 3 % 2;
        writer.write(&suite.tables[t], &r).await?;
        expected[t].push(r);
    }
    let report = writer
        .close(tokio::time::Instant::now() + Duration::from_secs(60))
        .await?;
    assert!(report.all_delivered(), "{report:?}");
    assert_eq!(report.total().delivered, 60);
    for (t, table) in suite.tables.iter().enumerate() {
        let stored = suite.stored(table, &scenario).await?;
        assert_eq!(stored, expected[t], "table {table}");
    }
    Ok(())
}

/// A table name that is not usable is refused with a non-retryable error (or accepted whole).
pub async fn odd_table_names(suite: &Suite) -> Result<()> {
    let scenario = suite.tag("odd");
    let records = vec![record(&scenario, 0)];
    match suite.sink.deliver(&batch(5, "../escape", &records)).await {
        Ok(()) => Ok(()),
        Err(e) if !e.is_retryable() => Ok(()),
        Err(e) => Err(Error::Other(format!(
            "a bad table name must not be retried: {e}"
        ))),
    }
}

/// Every scenario, in turn.
pub async fn run_all(suite: &Suite) -> Result<()> {
    delivers_a_batch(suite).await?;
    redelivery_is_idempotent(suite).await?;
    empty_batch(suite).await?;
    tables_are_separate(suite).await?;
    through_the_writer(suite).await?;
    odd_table_names(suite).await?;
    let ids: BTreeSet<&String> = suite.tables.iter().collect();
    assert_eq!(ids.len(), 2, "the suite needs two distinct tables");
    Ok(())
}
