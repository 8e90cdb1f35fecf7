//! The schedule, the fetch workers and the two writers, composed.

use std::sync::Arc;
use std::time::Duration;

use datasource_sdk::{Acks, Context, DataSource, Map, RetryPolicy, Writer};
use serde_json::{Value, json};

use super::forecast::{ForecastStore, KEEP_SECONDS};
use super::history::{History, Objects};
use super::ids::IdentifierTable;
use super::queue::{MAX_BATCH, MemoryQueue, WorkQueue};
use super::source::{PAGE_SIZE, SeriesSource};
use super::{CacheError, Clock};

/// The history writer's table.
pub const HISTORY_TABLE: &str = "history";
/// Attempts at reading one page from the external API (the Panoply platform's 3).
pub const READ_ATTEMPTS: u32 = 3;

/// What one cycle did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CycleReport {
    /// Identifiers enqueued by the schedule.
    pub enqueued: usize,
    /// Identifiers whose points were all written.
    pub done: usize,
    /// Failed attempts (each released its message for another try).
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
    /// Fetch workers running at once.
    pub workers: usize,
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
            queue: Arc::new(MemoryQueue::new(1_000, 3)),
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
        })
    }

    /// Uses `queue` (e.g. [`SqsQueue`](super::sqs::SqsQueue)) instead of the in-process queue.
    pub fn with_queue(mut self, queue: Arc<dyn WorkQueue>) -> Self {
        self.queue = queue;
        self
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

    /// The schedule: enqueues every identifier, reading the table page by page and sending at
    /// most [`MAX_BATCH`] messages at a time.
    pub async fn schedule(&self) -> Result<usize, CacheError> {
        let mut after: Option<String> = None;
        let mut count = 0;
        loop {
            let page = self.ids.page(after.as_deref(), self.id_page_size).await?;
            for chunk in page.ids.chunks(MAX_BATCH) {
                self.queue.send_batch(chunk).await?;
                count += chunk.len();
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
                        .write_tracked(HISTORY_TABLE, &rec, &acks)
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

    /// Runs the fetch workers until the queue is empty: each message is deleted once its points
    /// are durable, released for another try when it failed.
    pub async fn drain(self: &Arc<Self>) -> CycleReport {
        let mut report = CycleReport::default();
        loop {
            match self.queue.is_empty().await {
                Ok(false) => {}
                Ok(true) => break,
                Err(e) => {
                    report.failures.push(format!("queue: {e}"));
                    break;
                }
            }
            let mut tasks = tokio::task::JoinSet::new();
            for _ in 0..self.workers.max(1) {
                let me = self.clone();
                tasks.spawn(async move {
                    let mut done = 0;
                    let mut failures = Vec::new();
                    while let Ok(Some(msg)) = me.queue.receive().await {
                        match me.fetch(&msg.body).await {
                            Ok(_) => {
                                if let Err(e) = me.queue.delete(&msg).await {
                                    failures
                                        .push(format!("{}: deleting the message: {e}", msg.body));
                                }
                                done += 1;
                            }
                            Err(e) => {
                                failures.push(format!("{}: {e}", msg.body));
                                if let Err(e) = me.queue.release(&msg).await {
                                    failures
                                        .push(format!("{}: releasing the message: {e}", msg.body));
                                }
                            }
                        }
                    }
                    (done, failures)
                });
            }
            while let Some(joined) = tasks.join_next().await {
                match joined {
                    Ok((done, failures)) => {
                        report.done += done;
                        report.failures.extend(failures);
                    }
                    Err(e) => report.failures.push(format!("worker failed: {e}")),
                }
            }
        }
        match self.queue.dead_letters().await {
            Ok(dead) => report.dead_letters = dead,
            Err(e) => report.failures.push(format!("queue: {e}")),
        }
        report
    }

    /// One cycle: the schedule, then the workers until the queue is empty.
    pub async fn run_cycle(self: &Arc<Self>) -> Result<CycleReport, CacheError> {
        let enqueued = self.schedule().await?;
        let mut report = self.drain().await;
        report.enqueued = enqueued;
        Ok(report)
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
