//! Sinks and helpers shared by the integration tests.
#![allow(dead_code)]

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use datasource_sdk::{Batch, BatchLimits, Error, MemorySink, Result, RetryPolicy, Sink};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::time::Instant;

pub fn limits(max_records: usize, max_bytes: usize, timeout_ms: u64) -> BatchLimits {
    BatchLimits {
        max_records: std::num::NonZeroUsize::new(max_records).unwrap(),
        max_bytes: std::num::NonZeroUsize::new(max_bytes).unwrap(),
        timeout: Duration::from_millis(timeout_ms),
    }
}

pub fn far() -> Instant {
    Instant::now() + Duration::from_secs(24 * 3600)
}

/// Records when each call happened and fails the first `fail_first` calls with `error`.
#[derive(Debug)]
pub struct ScriptedSink {
    pub inner: MemorySink,
    pub calls: Mutex<Vec<Instant>>,
    pub fail_first: u32,
    pub retryable: bool,
    /// Calls (from 1) that never finish.
    pub stall_calls: Vec<u32>,
    count: AtomicU32,
}

impl ScriptedSink {
    pub fn new(fail_first: u32, retryable: bool) -> Self {
        Self {
            inner: MemorySink::new(),
            calls: Mutex::new(Vec::new()),
            fail_first,
            retryable,
            stall_calls: Vec::new(),
            count: AtomicU32::new(0),
        }
    }

    pub fn calls(&self) -> Vec<Instant> {
        self.calls.lock().unwrap().clone()
    }
}

#[async_trait]
impl Sink for ScriptedSink {
    async fn deliver(&self, batch: &Batch) -> Result<()> {
        let n = self.count.fetch_add(1, Ordering::SeqCst) + 1;
        self.calls.lock().unwrap().push(Instant::now());
        if self.stall_calls.contains(&n) {
            std::future::pending::<()>().await;
        }
        if n <= self.fail_first {
            return Err(if self.retryable {
                Error::Unavailable(format!("call {n}"))
            } else {
                Error::InvalidInput(format!("call {n}"))
            });
        }
        self.inner.deliver(batch).await
    }
}

/// Never finishes a delivery until `open` is called.
#[derive(Debug)]
pub struct GateSink {
    pub inner: MemorySink,
    pub gate: tokio::sync::Semaphore,
}

impl Default for GateSink {
    fn default() -> Self {
        Self {
            inner: MemorySink::new(),
            gate: tokio::sync::Semaphore::new(0),
        }
    }
}

impl GateSink {
    pub fn open(&self) {
        self.gate.add_permits(1_000_000);
    }
}

#[async_trait]
impl Sink for GateSink {
    async fn deliver(&self, batch: &Batch) -> Result<()> {
        let _permit = self
            .gate
            .acquire()
            .await
            .map_err(|_| Error::Other("closed".into()))?;
        self.inner.deliver(batch).await
    }
}

/// Fails a share of calls with a retryable error and stalls at random (seeded).
#[derive(Debug)]
pub struct ChaosSink {
    pub rng: Mutex<StdRng>,
    pub fail_ratio: f64,
    pub stall_ratio: f64,
    pub max_stall: Duration,
    /// Every record stored, in store order, with its table (duplicates kept).
    pub stored: Mutex<Vec<(String, serde_json::Value)>>,
    pub failures: AtomicU32,
    pub stalls: AtomicU32,
}

impl ChaosSink {
    pub fn new(seed: u64, fail_ratio: f64, stall_ratio: f64, max_stall: Duration) -> Self {
        Self {
            rng: Mutex::new(StdRng::seed_from_u64(seed)),
            fail_ratio,
            stall_ratio,
            max_stall,
            stored: Mutex::new(Vec::new()),
            failures: AtomicU32::new(0),
            stalls: AtomicU32::new(0),
        }
    }
}

#[async_trait]
impl Sink for ChaosSink {
    async fn deliver(&self, batch: &Batch) -> Result<()> {
        let (fail, stall) = {
            let mut rng = self.rng.lock().unwrap();
            let fail = rng.random_bool(self.fail_ratio);
            let stall = rng
                .random_bool(self.stall_ratio)
                .then(|| rng.random_range(Duration::ZERO..self.max_stall));
            (fail, stall)
        };
        if let Some(d) = stall {
            self.stalls.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(d).await;
        }
        if fail {
            self.failures.fetch_add(1, Ordering::Relaxed);
            return Err(Error::Unavailable("chaos".into()));
        }
        let values = batch.to_values()?;
        let mut stored = self.stored.lock().unwrap();
        stored.extend(values.into_iter().map(|v| (batch.table().to_owned(), v)));
        Ok(())
    }
}

pub fn fast_retry(max_attempts: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts: std::num::NonZeroU32::new(max_attempts).unwrap(),
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(500),
        max_elapsed: Duration::from_secs(3600),
        attempt_timeout: Duration::from_secs(5),
    }
}

pub fn shared<T>(t: T) -> Arc<T> {
    Arc::new(t)
}
