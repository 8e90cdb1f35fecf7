//! The at-least-once property, end to end: a paged source with random read failures and
//! stalls, run by the `Runner` into a writer whose sink fails, panics and stalls at random,
//! with records too large for any batch, crashed (the task aborted and the writer dropped with
//! what it buffered) and resumed from the state store several times. After the final run every
//! record the source produced is in the sink (or the dead-letter sink) at least once, and no
//! checkpoint was ever committed ahead of its records.

mod common;

use std::collections::HashSet;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use common::*;
use datasource_sdk::{
    Batch, Checkpoint, Context, DataSource, Error, Map, MemoryStateStore, Record, Result,
    RetryPolicy, Runner, RunnerSettings, Sink, StateStore, Writer,
};
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use tokio::time::Instant;

/// Ids of every record stored durably, in the sink or the dead-letter sink.
type Seen = Arc<Mutex<HashSet<u64>>>;

fn note(seen: &Seen, batch: &Batch) -> Result<()> {
    let mut seen = seen.lock().unwrap();
    for v in batch.to_values()? {
        seen.insert(v["id"].as_u64().unwrap());
    }
    Ok(())
}

/// Fails, panics and stalls at random (seeded).
#[derive(Debug)]
struct Chaos {
    rng: Mutex<StdRng>,
    fail: f64,
    panic: f64,
    stall: f64,
    seen: Seen,
    troubles: AtomicU32,
}

#[async_trait]
impl Sink for Chaos {
    async fn deliver(&self, batch: &Batch) -> Result<()> {
        let roll: f64 = self.rng.lock().unwrap().random();
        if roll < self.fail {
            self.troubles.fetch_add(1, Ordering::Relaxed);
            return Err(Error::Unavailable("chaos".into()));
        }
        if roll < self.fail + self.panic {
            self.troubles.fetch_add(1, Ordering::Relaxed);
            panic!("chaos panic");
        }
        if roll < self.fail + self.panic + self.stall {
            self.troubles.fetch_add(1, Ordering::Relaxed);
            // Longer than the attempt timeout: the attempt is abandoned and retried.
            tokio::time::sleep(Duration::from_secs(10)).await;
        }
        note(&self.seen, batch)
    }
}

/// A dead-letter sink that always works.
#[derive(Debug)]
struct Dead {
    seen: Seen,
}

#[async_trait]
impl Sink for Dead {
    async fn deliver(&self, batch: &Batch) -> Result<()> {
        note(&self.seen, batch)
    }
}

/// A store that checks, at every save, that each record before the committed offset is
/// already durable.
#[derive(Debug)]
struct Checked {
    inner: MemoryStateStore,
    seen: Seen,
    violations: AtomicU64,
    saves: AtomicU64,
}

#[async_trait]
impl StateStore for Checked {
    async fn load(&self, key: &str) -> Result<Option<Checkpoint>> {
        self.inner.load(key).await
    }
    async fn save(&self, key: &str, checkpoint: &Checkpoint) -> Result<()> {
        let offset = checkpoint
            .state
            .get("offset")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        {
            let seen = self.seen.lock().unwrap();
            if (0..offset).any(|id| !seen.contains(&id)) {
                self.violations.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.saves.fetch_add(1, Ordering::Relaxed);
        self.inner.save(key, checkpoint).await
    }
}

/// Pages from the offset in the state; reads fail or stall at random after reporting state.
#[derive(Debug)]
struct Source {
    total: u64,
    page: u64,
    big_every: u64,
    rng: StdRng,
    fail: f64,
    stall: f64,
}

#[async_trait]
impl DataSource for Source {
    async fn read(&mut self, _n: usize, ctx: &Context) -> Result<Option<Vec<Record>>> {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let offset = ctx
            .merged_state()
            .get("offset")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        if offset >= self.total {
            return Ok(None);
        }
        let end = (offset + self.page).min(self.total);
        ctx.state(format!("o{offset}"), obj(json!({"offset": end})));
        let roll: f64 = self.rng.random();
        if roll < self.fail {
            return Err(Error::retryable("flaky page"));
        }
        if roll < self.fail + self.stall {
            tokio::time::sleep(Duration::from_secs(10)).await;
        }
        let records = (offset..end)
            .map(|id| {
                let pad = if id % self.big_every == 0 { 700 } else { 20 };
                obj(json!({"id": id, "pad": "x".repeat(pad)}))
            })
            .collect();
        Ok(Some(records))
    }
}

fn obj(v: Value) -> Map {
    v.as_object().cloned().unwrap()
}

#[derive(Debug, Clone)]
struct Case {
    seed: u64,
    total: u64,
    page: u64,
    big_every: u64,
    sink_fail: f64,
    sink_panic: f64,
    sink_stall: f64,
    read_fail: f64,
    read_stall: f64,
    crashes: Vec<u64>,
}

fn retry(attempts: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts: std::num::NonZeroU32::new(attempts).unwrap(),
        initial_backoff: Duration::from_millis(5),
        max_backoff: Duration::from_millis(200),
        max_elapsed: Duration::from_secs(3600),
        attempt_timeout: Duration::from_secs(1),
    }
}

/// Runs the case; returns (ids missing at the end, checkpoint violations, saves, troubles).
fn run_case(case: &Case) -> (Vec<u64>, u64, u64, u32) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap();
    rt.block_on(async {
        let seen: Seen = Arc::default();
        let store = Arc::new(Checked {
            inner: MemoryStateStore::new(),
            seen: Arc::clone(&seen),
            violations: AtomicU64::new(0),
            saves: AtomicU64::new(0),
        });
        let sink = Arc::new(Chaos {
            rng: Mutex::new(StdRng::seed_from_u64(case.seed)),
            fail: case.sink_fail,
            panic: case.sink_panic,
            stall: case.sink_stall,
            seen: Arc::clone(&seen),
            troubles: AtomicU32::new(0),
        });
        let settings = RunnerSettings {
            read_size: std::num::NonZeroUsize::new(10).unwrap(),
            read_retry: retry(40),
            checkpoint_interval: Duration::from_millis(150),
        };
        // Crashed runs first, then runs until one completes (a run that fails is resumed too).
        let mut crash_after = case.crashes.iter().copied();
        for round in 0..50u64 {
            let writer = Writer::builder(Arc::clone(&sink))
                .with_dead_letter(Dead {
                    seen: Arc::clone(&seen),
                })
                .with_batch_limits(limits(8, 512, 50))
                .with_buffer_bytes(4096)
                .with_retry(retry(30))
                .build()
                .unwrap();
            let runner = Runner::new(writer.clone(), Arc::clone(&store), "case")
                .with_settings(settings.clone());
            let mut source = Source {
                total: case.total,
                page: case.page,
                big_every: case.big_every,
                rng: StdRng::seed_from_u64(case.seed ^ round.wrapping_mul(0x9e37)),
                fail: case.read_fail,
                stall: case.read_stall,
            };
            let task = tokio::spawn(async move {
                let ctx = runner.open(Map::new(), Map::new()).await?;
                runner.run(&mut source, &ctx).await
            });
            match crash_after.next() {
                Some(ms) => {
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                    task.abort();
                    let _ = task.await;
                    // The crash loses what the writer still held.
                    let _ = writer.close(Instant::now()).await;
                }
                None => {
                    let outcome = task.await.unwrap();
                    let _ = writer
                        .close(Instant::now() + Duration::from_secs(3600))
                        .await;
                    if outcome.is_ok() {
                        break;
                    }
                }
            }
        }
        let seen = seen.lock().unwrap();
        let missing = (0..case.total).filter(|id| !seen.contains(id)).collect();
        (
            missing,
            store.violations.load(Ordering::Relaxed),
            store.saves.load(Ordering::Relaxed),
            sink.troubles.load(Ordering::Relaxed),
        )
    })
}

fn cases() -> impl Strategy<Value = Case> {
    (
        any::<u64>(),
        50u64..400,
        1u64..25,
        3u64..40,
        (0.0..0.3f64, 0.0..0.1f64, 0.0..0.1f64),
        (0.0..0.3f64, 0.0..0.1f64),
        prop::collection::vec(1u64..2000, 0..4),
    )
        .prop_map(
            |(seed, total, page, big_every, (sf, sp, ss), (rf, rs), crashes)| Case {
                seed,
                total,
                page,
                big_every,
                sink_fail: sf,
                sink_panic: sp,
                sink_stall: ss,
                read_fail: rf,
                read_stall: rs,
                crashes,
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn every_record_at_least_once_and_no_state_ahead_of_its_records(case in cases()) {
        let (missing, violations, saves, _) = run_case(&case);
        prop_assert!(missing.is_empty(), "missing {:?} in {:?}", missing, case);
        prop_assert_eq!(violations, 0, "a checkpoint ran ahead of its records: {:?}", case);
        prop_assert!(saves > 0);
    }
}

/// One heavy case, to show the chaos really happens (the property's cases may be mild).
#[test]
fn a_rough_case_loses_nothing() {
    let case = Case {
        seed: 7,
        total: 600,
        page: 13,
        big_every: 11,
        sink_fail: 0.25,
        sink_panic: 0.08,
        sink_stall: 0.08,
        read_fail: 0.25,
        read_stall: 0.08,
        crashes: vec![400, 900, 1500],
    };
    let (missing, violations, saves, troubles) = run_case(&case);
    assert!(missing.is_empty(), "missing {missing:?}");
    assert_eq!(violations, 0);
    assert!(saves >= 3, "{saves}");
    assert!(troubles > 20, "the sink did misbehave: {troubles}");
}
