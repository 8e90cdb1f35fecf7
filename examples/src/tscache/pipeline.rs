//! The schedule, the fetch workers and the two writers, composed.
//! (The fetch workers' receive loop is in `workers.rs`.)

use std::sync::Arc;
use std::time::Duration;

use datasource_sdk::{Acks, Context, DataSource, Map, RetryPolicy, Writer};
use serde_json::{Value, json};
use tracing::info;

use super::forecast::{ForecastStore, KEEP_SECONDS};
use super::history::{History, Objects};
use super::ids::IdentifierTable;
use super::progress::Progress;
use super::queue::{MAX_BATCH, MemoryQueue, WorkQueue};
use super::source::{PAGE_SIZE, SeriesSource};
use super::{CacheError, Clock};

/// The history writer's tables are `history-0` .. `history-{HISTORY_SHARDS - 1}`: the writer keeps
/// one batch in flight per table, so identifiers are spread over shards to write in parallel
/// (one identifier always goes to the same shard, so its batches stay in order).
pub const HISTORY_TABLE: &str = "history";
/// How many history writer tables (batches written at once).
pub const HISTORY_SHARDS: u64 = 16;

/// The history writer table of an identifier.
fn history_table(identifier: &str) -> String {
    // FNV-1a: stable across processes and runs.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in identifier.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    format!("{HISTORY_TABLE}-{}", h % HISTORY_SHARDS)
}
/// Attempts at reading one page from the external API (the Panoply platform's 3).
pub const READ_ATTEMPTS: u32 = 3;

/// Most failure messages a [`CycleReport`] lists (the count in `failed` is exact).
pub const MAX_REPORTED: usize = 100;

/// Messages the in-process queue holds at most (ready, delayed and in flight).
pub const QUEUE_BOUND: usize = 1_000;

/// Where the schedule of the running cycle stands (seen by the workers).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScheduleState {
    /// Identifiers enqueued so far.
    pub enqueued: usize,
    /// Whether the schedule is over (finished or failed).
    pub done: bool,
}

/// What one cycle did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CycleReport {
    /// Identifiers enqueued by the schedule.
    pub enqueued: usize,
    /// Identifiers whose points were all written.
    pub done: usize,
    /// Failed attempts (each released its message for another try, or dead-lettered).
    pub failed: usize,
    /// What failed: the first [`MAX_REPORTED`] failed attempts and queue errors.
    pub failures: Vec<String>,
    /// Identifiers that failed too often and moved to the dead-letter list.
    pub dead_letters: Vec<String>,
}

/// The time series cache.
#[derive(Debug)]
pub struct Cache {
    ids: Arc<dyn IdentifierTable>,
    queue: Arc<dyn WorkQueue>,
    history: Arc<History<Arc<dyn Objects>>>,
    forecast: Arc<dyn ForecastStore>,
    forecast_table: String,
    history_writer: Writer,
    forecast_writer: Writer,
    api_base: String,
    http: reqwest::Client,
    clock: ClockDebug,
    /// Identifiers read per page of the identifier table.
    pub id_page_size: usize,
    /// Fetch workers running at once (messages being worked on by this process).
    pub workers: usize,
    /// Longest wait of one receive (SQS long polling: at most 20 s).
    pub receive_wait: Duration,
    /// Delays before a failed message is visible again: `base_delay(receives)` with jitter, so
    /// a short outage of the source does not use up a message's receives.
    pub release_delays: RetryPolicy,
    /// Retries of queue operations (receive errors are retried with this backoff for as long as
    /// the cycle runs, each one reported).
    pub queue_retry: RetryPolicy,
    /// How often a running cycle logs its progress.
    pub progress_log_every: Duration,
    progress: Arc<Progress>,
}

struct ClockDebug(Clock);

impl std::fmt::Debug for ClockDebug {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Clock")
    }
}

impl Cache {
    /// A cache over its parts. `forecast_table` is the writer table forecast records go to (the
    /// DynamoDB table name for [`DynamoForecast`](super::forecast::DynamoForecast)).
    pub fn new(
        ids: Arc<dyn IdentifierTable>,
        objects: Arc<dyn Objects>,
        forecast: Arc<dyn ForecastStore>,
        forecast_table: impl Into<String>,
        api_base: impl Into<String>,
        clock: Clock,
    ) -> Result<Self, CacheError> {
        Self::with_writers(
            ids,
            objects,
            forecast,
            forecast_table,
            api_base,
            clock,
            |b| b,
            |b| b,
        )
    }

    /// [`Cache::new`] with a hook to adjust each writer (limits, retries, a wrapped sink in tests).
    #[allow(clippy::too_many_arguments)]
    pub fn with_writers(
        ids: Arc<dyn IdentifierTable>,
        objects: Arc<dyn Objects>,
        forecast: Arc<dyn ForecastStore>,
        forecast_table: impl Into<String>,
        api_base: impl Into<String>,
        clock: Clock,
        history_builder: impl FnOnce(datasource_sdk::WriterBuilder) -> datasource_sdk::WriterBuilder,
        forecast_builder: impl FnOnce(datasource_sdk::WriterBuilder) -> datasource_sdk::WriterBuilder,
    ) -> Result<Self, CacheError> {
        let history = Arc::new(History::new(objects));
        let history_writer = history_builder(Writer::builder(history.clone())).build()?;
        let forecast_writer = forecast_builder(Writer::builder(forecast.clone())).build()?;
        Ok(Self {
            ids,
            queue: Arc::new(MemoryQueue::new(QUEUE_BOUND, 3)),
            history,
            forecast,
            forecast_table: forecast_table.into(),
            history_writer,
            forecast_writer,
            api_base: api_base.into(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap_or_default(),
            clock: ClockDebug(clock),
            id_page_size: 100,
            workers: 8,
            receive_wait: Duration::from_secs(20),
            release_delays: RetryPolicy {
                initial_backoff: Duration::from_secs(10),
                max_backoff: Duration::from_secs(15 * 60),
                ..RetryPolicy::default()
            },
            queue_retry: RetryPolicy {
                initial_backoff: Duration::from_millis(200),
                max_backoff: Duration::from_secs(20),
                ..RetryPolicy::default()
            },
            progress_log_every: Duration::from_secs(10),
            progress: Arc::new(Progress::default()),
        })
    }

    /// Uses `queue` (e.g. [`SqsQueue`](super::sqs::SqsQueue)) instead of the in-process queue.
    pub fn with_queue(mut self, queue: Arc<dyn WorkQueue>) -> Self {
        self.queue = queue;
        self
    }

    /// The work queue.
    pub fn queue(&self) -> &Arc<dyn WorkQueue> {
        &self.queue
    }

    /// The identifier table.
    pub fn ids(&self) -> &Arc<dyn IdentifierTable> {
        &self.ids
    }

    /// The history store.
    pub fn history(&self) -> &History<Arc<dyn Objects>> {
        &self.history
    }

    /// The forecast table.
    pub fn forecast(&self) -> &Arc<dyn ForecastStore> {
        &self.forecast
    }

    /// The current time of this cache's clock.
    pub fn now(&self) -> time::OffsetDateTime {
        (self.clock.0)()
    }

    /// The schedule alone: enqueues every identifier, reading the table page by page and
    /// sending at most [`MAX_BATCH`] messages at a time. With a bounded queue, run the workers at
    /// the same time ([`Cache::run_cycle`]), or it waits once the queue is full.
    pub async fn schedule(&self) -> Result<usize, CacheError> {
        let (tx, _rx) = tokio::sync::watch::channel(ScheduleState::default());
        self.schedule_into(&tx).await
    }

    async fn schedule_into(
        &self,
        tx: &tokio::sync::watch::Sender<ScheduleState>,
    ) -> Result<usize, CacheError> {
        let mut after: Option<String> = None;
        let mut count = 0;
        loop {
            let page = self.ids.page(after.as_deref(), self.id_page_size).await?;
            for chunk in page.ids.chunks(MAX_BATCH) {
                self.queue.send_batch(chunk).await?;
                count += chunk.len();
                self.progress.enqueued(chunk.len());
                tx.send_modify(|s| s.enqueued = count);
            }
            match page.next {
                Some(next) => after = Some(next),
                None => return Ok(count),
            }
        }
    }

    /// Fetches one identifier's series and writes it; returns once every point is durable.
    pub async fn fetch(&self, identifier: &str) -> Result<usize, CacheError> {
        let mut source = SeriesSource::new(self.http.clone(), self.api_base.clone(), identifier);
        let ctx = Context::new(Map::new(), Map::new(), Map::new());
        let now = self.now().unix_timestamp();
        let mut written = 0;
        let history_table = history_table(identifier);
        // This identifier's records only: a failure of another identifier's batch in the
        // shared writers never concerns this message, and this one's is never missed.
        let acks = Acks::new();
        let retry = RetryPolicy {
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(2),
            ..RetryPolicy::with_attempts(READ_ATTEMPTS)
        };
        loop {
            // The workspace's one backoff schedule (exponential, with jitter).
            let mut delays = retry.backoff();
            let page = loop {
                match source.read(PAGE_SIZE, &ctx).await {
                    Err(e) if e.is_retryable() => match delays.next() {
                        Some(delay) => tokio::time::sleep(delay).await,
                        None => break Err(e)?,
                    },
                    other => break other?,
                }
            };
            let Some(records) = page else { break };
            for r in records {
                let (Some(time), Some(value)) = (
                    r.get("time").and_then(Value::as_i64),
                    r.get("value").and_then(Value::as_f64),
                ) else {
                    return Err(CacheError::Source(format!(
                        "malformed point for {identifier}: {r:?}"
                    )));
                };
                if time <= now {
                    let rec = json!({"identifier": identifier, "time": time, "value": value});
                    self.history_writer
                        .write_tracked(&history_table, &rec, &acks)
                        .await?;
                } else {
                    let rec = json!({"identifier": identifier, "time": time, "value": value, "expiry": now + KEEP_SECONDS});
                    self.forecast_writer
                        .write_tracked(&self.forecast_table, &rec, &acks)
                        .await?;
                }
                written += 1;
            }
        }
        source.close(&ctx).await?;
        self.history_writer.send_open_batches()?;
        self.forecast_writer.send_open_batches()?;
        let outcome = acks.settled().await;
        if !outcome.all_acknowledged() {
            return Err(CacheError::Writer(datasource_sdk::Error::Undelivered {
                batches: outcome.failed_batches,
                records: outcome.failed,
            }));
        }
        Ok(written)
    }

    /// The schedule's progress (also served as `GET /status`).
    pub fn progress(&self) -> &Arc<Progress> {
        &self.progress
    }

    /// One cycle: the schedule and the fetch workers run at once; the schedule waits while a
    /// bounded queue is full, the workers stop once the schedule is done and the queue is empty.
    /// A schedule error is returned after the workers drained what it had enqueued.
    pub async fn run_cycle(self: &Arc<Self>) -> Result<CycleReport, CacheError> {
        self.progress.start_cycle();
        info!(
            cycle = self.progress.status().cycles_started,
            "cycle started"
        );
        let (tx, rx) = tokio::sync::watch::channel(ScheduleState::default());
        let scheduler = {
            let me = self.clone();
            tokio::spawn(async move {
                let result = me.schedule_into(&tx).await;
                tx.send_modify(|s| s.done = true);
                result
            })
        };
        let logger = {
            let me = self.clone();
            tokio::spawn(async move {
                let mut tick =
                    tokio::time::interval(me.progress_log_every.max(Duration::from_millis(10)));
                tick.tick().await;
                loop {
                    tick.tick().await;
                    let c = me.progress.counts();
                    info!(
                        enqueued = c.enqueued,
                        fetched = c.fetched,
                        failed = c.failed,
                        queue_errors = c.queue_errors,
                        "cycle progress"
                    );
                }
            })
        };
        let mut failures = super::workers::run(self.clone(), rx).await;
        logger.abort();
        let scheduled = match scheduler.await {
            Ok(result) => result,
            Err(e) => Err(CacheError::Storage(format!("the schedule failed: {e}"))),
        };
        let dead_letters = match self.queue.dead_letters().await {
            Ok(dead) => dead,
            Err(e) => {
                failures.push(format!("queue: {e}"));
                Vec::new()
            }
        };
        let counts = self.progress.finish_cycle();
        info!(
            enqueued = counts.enqueued,
            fetched = counts.fetched,
            failed = counts.failed,
            dead_lettered = counts.dead_lettered,
            queue_errors = counts.queue_errors,
            elapsed_ms = counts.elapsed_ms,
            "cycle finished"
        );
        let enqueued = scheduled?;
        Ok(CycleReport {
            enqueued,
            done: usize::try_from(counts.fetched).unwrap_or(usize::MAX),
            failed: usize::try_from(counts.failed).unwrap_or(usize::MAX),
            failures,
            dead_letters,
        })
    }

    /// Stops the writers, delivering what is buffered until `deadline`.
    pub async fn close(&self, deadline: tokio::time::Instant) -> Result<(), CacheError> {
        let h = self.history_writer.close(deadline).await?;
        let f = self.forecast_writer.close(deadline).await?;
        if h.all_delivered() && f.all_delivered() {
            Ok(())
        } else {
            Err(CacheError::Storage(format!(
                "undelivered at close: history {:?}, forecast {:?}",
                h.total(),
                f.total()
            )))
        }
    }
}
