//! The [`Runner`]: pumps a [`DataSource`] into a [`Writer`] and commits state checkpoints.

use std::collections::VecDeque;
use std::num::{NonZeroU32, NonZeroUsize};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::time::Instant;

use crate::source::{Context, DataSource, SourceEvent};
use crate::state::{Checkpoint, Map, StateStore};
use crate::{Acks, Error, Result, RetryPolicy, Writer};

/// Settings of a [`Runner`]; plain data with defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunnerSettings {
    /// The `n` passed to [`DataSource::read`] (default 1000).
    pub read_size: NonZeroUsize,
    /// How a failing `read` is retried: by default 3 retries (4 attempts) of retryable errors,
    /// as the original platform did, backing off from 1 s; each read may take at most 5 min.
    pub read_retry: RetryPolicy,
    /// A checkpoint is committed when this much time passed since the last one (default 5 s),
    /// and always at the end. Committing flushes the writer, so very short intervals make
    /// smaller batches.
    pub checkpoint_interval: Duration,
}

impl Default for RunnerSettings {
    fn default() -> Self {
        Self {
            read_size: NonZeroUsize::new(1000).unwrap_or(NonZeroUsize::MIN),
            read_retry: RetryPolicy {
                max_attempts: NonZeroU32::new(4).unwrap_or(NonZeroU32::MIN),
                initial_backoff: Duration::from_secs(1),
                max_backoff: Duration::from_secs(30),
                max_elapsed: Duration::from_secs(600),
                attempt_timeout: Duration::from_secs(300),
            },
            checkpoint_interval: Duration::from_secs(5),
        }
    }
}

/// What one run did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunReport {
    /// Records read and written in this run.
    pub records: u64,
    /// Successful reads.
    pub reads: u64,
    /// Reads that failed and were retried.
    pub read_retries: u64,
    /// Checkpoints committed.
    pub checkpoints: u64,
    /// Whether the run started from a stored checkpoint.
    pub resumed: bool,
    /// The last committed state.
    pub state: Map,
}

/// Runs data sources into a writer, stamping each record with `__table` and `__state`, and
/// commits the merged state to a [`StateStore`] only once every record before it is in the sink.
///
/// Each successful read's records are tracked with their own [`Acks`]; a checkpoint commits the
/// state after the last read whose records, and every earlier read's, are all acknowledged
/// (delivered, or durably dead-lettered). It waits for this run's records only, never for other
/// users of a shared writer, and a failure elsewhere never holds it back. State reported during
/// a read attempt that failed or timed out is discarded with the attempt.
///
/// After a crash, a new run with the same key resumes from the last committed state: records
/// after it are read again (delivery is at least once), none is skipped.
#[derive(Debug, Clone)]
pub struct Runner {
    writer: Writer,
    store: Arc<dyn StateStore>,
    key: String,
    settings: RunnerSettings,
}

impl Runner {
    /// A runner writing into `writer` and keeping state under `key` in `store`.
    pub fn new(writer: Writer, store: impl StateStore, key: impl Into<String>) -> Self {
        Self {
            writer,
            store: Arc::new(store),
            key: key.into(),
            settings: RunnerSettings::default(),
        }
    }

    /// Replaces the settings.
    pub fn with_settings(mut self, settings: RunnerSettings) -> Self {
        self.settings = settings;
        self
    }

    /// The context for a run: `params` with saved `source-change`s applied, `options`, and the
    /// committed state to resume from. Subscribe to it before [`Runner::run`] to follow
    /// progress.
    pub async fn open(&self, params: Map, options: Map) -> Result<Context> {
        let checkpoint = self.store.load(&self.key).await?.unwrap_or_default();
        let mut params = params;
        for (k, v) in checkpoint.source_changes {
            params.insert(k, v);
        }
        Ok(Context::new(params, options, checkpoint.state))
    }

    /// Reads `source` to its end into the writer, committing checkpoints on the way and at the
    /// end, then closes the source. The writer is not closed (it may be shared).
    ///
    /// Errors: a read that failed for good (not retryable, or retries used up), a record the
    /// writer refused, or [`Error::Undelivered`] when records could not reach the sink (the
    /// state is then not committed past them).
    pub async fn run<S: DataSource + ?Sized>(
        &self,
        source: &mut S,
        ctx: &Context,
    ) -> Result<RunReport> {
        let mut committed = self.store.load(&self.key).await?.unwrap_or_default();
        let mut report = RunReport {
            resumed: !committed.state.is_empty() || committed.records > 0,
            state: committed.state.clone(),
            ..RunReport::default()
        };
        let table = ctx.destination();
        let table_value = Value::from(table.clone());
        let mut pages: VecDeque<Page> = VecDeque::new();
        let mut last_commit = Instant::now();
        loop {
            let read = self.read(source, ctx, &mut report).await;
            self.save_changes(ctx, &mut committed).await?;
            let records = match read {
                Ok(Some(records)) => records,
                Ok(None) => {
                    // State reported by the final read holds after every record.
                    let (_, state) = ctx.accept_attempt();
                    pages.push_back(Page {
                        acks: Acks::new(),
                        state,
                        records: 0,
                    });
                    break;
                }
                Err(e) => {
                    // Keep what is durable so a retry of the run starts as late as possible.
                    // The read error is what the caller needs; a failed commit here only
                    // means the next run starts from the previous checkpoint.
                    let _ = self
                        .commit(ctx, &mut committed, &mut pages, &mut report)
                        .await;
                    return Err(e);
                }
            };
            report.reads += 1;
            let (state_id, state) = ctx.accept_attempt();
            let state_id = state_id.map(Value::from);
            let acks = Acks::new();
            let count = records.len() as u64;
            for mut record in records {
                record.insert("__table".into(), table_value.clone());
                if let Some(id) = &state_id {
                    record.insert("__state".into(), id.clone());
                }
                self.writer.write_tracked(&table, &record, &acks).await?;
                report.records += 1;
            }
            pages.push_back(Page {
                acks,
                state,
                records: count,
            });
            if last_commit.elapsed() >= self.settings.checkpoint_interval {
                self.commit(ctx, &mut committed, &mut pages, &mut report)
                    .await?;
                last_commit = Instant::now();
            }
        }
        self.commit(ctx, &mut committed, &mut pages, &mut report)
            .await?;
        source.close(ctx).await?;
        Ok(report)
    }

    /// One `read`, retried on retryable errors as the settings allow. Each attempt's reported
    /// state is discarded when it fails or times out.
    async fn read<S: DataSource + ?Sized>(
        &self,
        source: &mut S,
        ctx: &Context,
        report: &mut RunReport,
    ) -> Result<Option<Vec<Map>>> {
        let policy = &self.settings.read_retry;
        let read_size = self.settings.read_size.get();
        let source = tokio::sync::Mutex::new(source);
        let mut attempt: u32 = 1;
        let retries = std::sync::atomic::AtomicU64::new(0);
        let result = crate::retry::retry(
            policy,
            || {
                ctx.begin_attempt();
                let source = &source;
                async move { source.lock().await.read(read_size, ctx).await }
            },
            |error, delay| {
                ctx.discard_attempt();
                attempt += 1;
                retries.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                ctx.log(format_args!("read failed, retrying in {delay:?}: {error}"));
                ctx.emit(SourceEvent::ReadRetry {
                    attempt,
                    error: error.to_string(),
                });
            },
        )
        .await;
        report.read_retries += retries.load(std::sync::atomic::Ordering::Relaxed);
        if result.is_err() {
            ctx.discard_attempt();
        }
        result
    }

    /// Saves parameter changes the source fired (e.g. a new token) at once, with the state
    /// committed so far.
    async fn save_changes(&self, ctx: &Context, committed: &mut Checkpoint) -> Result<()> {
        let changes = ctx.take_changes();
        if changes.is_empty() {
            return Ok(());
        }
        for (k, v) in changes {
            committed.source_changes.insert(k, v);
        }
        self.store.save(&self.key, committed).await
    }

    /// Sends this run's open records and waits for their acknowledgements; commits the state
    /// after the last read whose records (and every earlier read's) are all acknowledged.
    /// Returns [`Error::Undelivered`] when records of a read failed for good: the state is then
    /// not committed past them.
    async fn commit(
        &self,
        ctx: &Context,
        committed: &mut Checkpoint,
        pages: &mut VecDeque<Page>,
        report: &mut RunReport,
    ) -> Result<()> {
        self.writer.send_open_batches()?;
        let mut advanced = false;
        let mut failure = None;
        while let Some(page) = pages.front() {
            let summary = page.acks.settled().await;
            if summary.failed > 0 {
                failure = Some(Error::Undelivered {
                    batches: summary.failed_batches,
                    records: summary.failed,
                });
                break;
            }
            if let Some(page) = pages.pop_front() {
                committed.state = page.state;
                committed.records += page.records;
                advanced = true;
            }
        }
        if advanced || failure.is_none() {
            self.store.save(&self.key, committed).await?;
            report.checkpoints += 1;
            report.state = committed.state.clone();
            ctx.emit(SourceEvent::Checkpoint {
                records: committed.records,
                state: committed.state.clone(),
            });
        }
        match failure {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// The records of one successful read, tracked until acknowledged, and the state after them.
#[derive(Debug)]
struct Page {
    acks: Acks,
    state: Map,
    records: u64,
}
