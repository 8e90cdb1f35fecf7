//! The [`Runner`]: pumps a [`DataSource`] into a [`Writer`] and commits state checkpoints.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::time::{Instant, timeout};

use crate::source::{Context, DataSource, SourceEvent};
use crate::state::{Checkpoint, Map, StateStore};
use crate::{Error, Result, RetryPolicy, Writer};

/// Settings of a [`Runner`]; plain data with defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunnerSettings {
    /// The `n` passed to [`DataSource::read`] (default 1000).
    pub read_size: usize,
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
            read_size: 1000,
            read_retry: RetryPolicy {
                max_attempts: 4,
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
        let mut uncommitted: u64 = 0;
        let mut last_commit = Instant::now();
        loop {
            let read = self.read(source, ctx, &mut report).await;
            self.save_changes(ctx, &mut committed).await?;
            let records = match read {
                Ok(Some(records)) => records,
                Ok(None) => break,
                Err(e) => {
                    // Keep what is durable so a retry of the run starts as late as possible.
                    // The read error is what the caller needs; a failed commit here only
                    // means the next run starts from the previous checkpoint.
                    let _ = self
                        .commit(ctx, &mut committed, &mut uncommitted, &mut report)
                        .await;
                    return Err(e);
                }
            };
            report.reads += 1;
            let state_id = ctx.state_id().map(Value::from);
            for mut record in records {
                record.insert("__table".into(), table_value.clone());
                if let Some(id) = &state_id {
                    record.insert("__state".into(), id.clone());
                }
                self.writer.write(&table, &record).await?;
                report.records += 1;
                uncommitted += 1;
            }
            if last_commit.elapsed() >= self.settings.checkpoint_interval {
                self.commit(ctx, &mut committed, &mut uncommitted, &mut report)
                    .await?;
                last_commit = Instant::now();
            }
        }
        self.commit(ctx, &mut committed, &mut uncommitted, &mut report)
            .await?;
        source.close(ctx).await?;
        Ok(report)
    }

    /// One `read`, retried on retryable errors as the settings allow.
    async fn read<S: DataSource + ?Sized>(
        &self,
        source: &mut S,
        ctx: &Context,
        report: &mut RunReport,
    ) -> Result<Option<Vec<Map>>> {
        let policy = &self.settings.read_retry;
        let started = Instant::now();
        let mut attempt = 1;
        loop {
            let result = match timeout(
                policy.attempt_timeout,
                source.read(self.settings.read_size, ctx),
            )
            .await
            {
                Ok(r) => r,
                Err(_) => Err(Error::Timeout(policy.attempt_timeout)),
            };
            let error = match result {
                Ok(records) => return Ok(records),
                Err(e) => e,
            };
            let delay = if error.is_retryable() {
                policy.next_delay(attempt, started.elapsed())
            } else {
                None
            };
            let Some(delay) = delay else {
                return Err(error);
            };
            attempt += 1;
            report.read_retries += 1;
            ctx.log(format_args!("read failed, retrying in {delay:?}: {error}"));
            ctx.emit(SourceEvent::ReadRetry {
                attempt,
                error: error.to_string(),
            });
            tokio::time::sleep(delay).await;
        }
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

    /// Flushes the writer and, when everything before is delivered, commits the merged state.
    async fn commit(
        &self,
        ctx: &Context,
        committed: &mut Checkpoint,
        uncommitted: &mut u64,
        report: &mut RunReport,
    ) -> Result<()> {
        // The state is taken before the flush: it describes exactly the records written so far.
        let state = ctx.merged_state();
        self.writer.flush().await?;
        committed.state = state;
        committed.records += *uncommitted;
        self.store.save(&self.key, committed).await?;
        *uncommitted = 0;
        report.checkpoints += 1;
        report.state = committed.state.clone();
        ctx.emit(SourceEvent::Checkpoint {
            records: committed.records,
            state: committed.state.clone(),
        });
        Ok(())
    }
}
