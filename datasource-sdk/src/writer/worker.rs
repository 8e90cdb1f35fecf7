//! The delivery task behind a [`super::Writer`].

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::Arc;

use futures::StreamExt;
use futures::future::BoxFuture;
use futures::stream::FuturesUnordered;
use tokio::sync::{Semaphore, mpsc, oneshot};
use tokio::time::{Instant, sleep_until, timeout};

use super::{CloseReport, Command, TableReport, WriterSettings};
use crate::batch::{Open, push_record, take};
use crate::event::{DeadLetterReason, Event, Events};
use crate::{Batch, BatchId, Error, Result, RetryPolicy, Sink};

/// Commands taken from the channel per turn of the loop.
const COMMANDS_PER_TURN: usize = 1024;

#[derive(Debug, Default)]
struct Table {
    open: Open<Instant>,
    ready: VecDeque<Arc<Batch>>,
    busy: Option<Arc<Batch>>,
    report: TableReport,
}

/// What a finished task reports.
enum Done {
    /// A main-sink delivery finished.
    Batch {
        batch: Arc<Batch>,
        result: Result<()>,
    },
    /// A dead-letter delivery finished; `failed` says whether the batch failed in the main sink
    /// (rather than being one record too large).
    DeadLetter {
        batch: Arc<Batch>,
        reason: DeadLetterReason,
        delivered: bool,
        failed: bool,
    },
}

pub(super) struct Worker {
    rx: mpsc::UnboundedReceiver<Command>,
    sink: Arc<dyn Sink>,
    dead_letter: Option<Arc<dyn Sink>>,
    settings: WriterSettings,
    events: Arc<Events>,
    buffer: Arc<Semaphore>,
    writer_id: u64,
    next_seq: u64,
    tables: HashMap<Arc<str>, Table>,
    timers: BTreeSet<(Instant, Arc<str>)>,
    tasks: FuturesUnordered<BoxFuture<'static, Done>>,
    /// Batches (by sequence number) not yet delivered or given up, with the records they hold.
    unresolved: BTreeSet<u64>,
    /// Batches that failed for good: (sequence number, records). Grows only on failures.
    failures: Vec<(u64, u64)>,
    /// Dead-letter deliveries in flight (not tracked by table queues).
    dead_letters: HashMap<u64, Arc<Batch>>,
    flushes: Vec<(u64, oneshot::Sender<Result<()>>)>,
    closing: Option<(Instant, oneshot::Sender<CloseReport>)>,
    cut: Vec<Vec<Vec<u8>>>,
}

impl Worker {
    pub(super) fn new(
        rx: mpsc::UnboundedReceiver<Command>,
        sink: Arc<dyn Sink>,
        dead_letter: Option<Arc<dyn Sink>>,
        settings: WriterSettings,
        events: Arc<Events>,
        buffer: Arc<Semaphore>,
    ) -> Self {
        Self {
            rx,
            sink,
            dead_letter,
            settings,
            events,
            buffer,
            writer_id: rand::random(),
            next_seq: 0,
            tables: HashMap::new(),
            timers: BTreeSet::new(),
            tasks: FuturesUnordered::new(),
            unresolved: BTreeSet::new(),
            failures: Vec::new(),
            dead_letters: HashMap::new(),
            flushes: Vec::new(),
            closing: None,
            cut: Vec::new(),
        }
    }

    pub(super) async fn run(mut self) {
        let mut commands = Vec::with_capacity(COMMANDS_PER_TURN);
        let mut rx_open = true;
        loop {
            let now = Instant::now();
            self.cut_expired(now);
            if self.closing.is_some() || !rx_open {
                self.cut_all();
            }
            self.start_ready();
            self.answer_flushes();
            let drained = self.tasks.is_empty()
                && self
                    .tables
                    .values()
                    .all(|t| t.open.records.is_empty() && t.ready.is_empty());
            if drained && (self.closing.is_some() || !rx_open) {
                break;
            }
            if let Some((deadline, _)) = &self.closing
                && now >= *deadline
            {
                break;
            }
            let next_timer = self.timers.first().map(|(t, _)| *t);
            let close_at = self.closing.as_ref().map(|(t, _)| *t);
            tokio::select! {
                biased;
                Some(done) = self.tasks.next(), if !self.tasks.is_empty() => self.on_done(done),
                n = self.rx.recv_many(&mut commands, COMMANDS_PER_TURN), if rx_open => {
                    if n == 0 {
                        rx_open = false;
                    }
                    let now = Instant::now();
                    for command in commands.drain(..) {
                        self.on_command(command, now);
                    }
                }
                () = sleep_until(next_timer.unwrap_or(now)), if next_timer.is_some() => {}
                () = sleep_until(close_at.unwrap_or(now)), if close_at.is_some() => {}
                // Unreachable: with no task, no open channel, no timer and no close pending,
                // everything is drained and the loop ended above.
                else => break,
            }
        }
        self.finish();
    }

    fn on_command(&mut self, command: Command, now: Instant) {
        match command {
            Command::Write {
                table,
                record,
                permits,
            } => self.on_write(&table, record, permits, now),
            Command::Flush(reply) => {
                self.cut_all();
                self.flushes.push((self.next_seq, reply));
            }
            Command::Close { deadline, reply } => {
                self.cut_all();
                self.closing = Some((deadline, reply));
            }
        }
    }

    fn table_key(&mut self, table: &str) -> Arc<str> {
        match self.tables.get_key_value(table) {
            Some((key, _)) => Arc::clone(key),
            None => {
                let key: Arc<str> = Arc::from(table);
                self.tables.insert(Arc::clone(&key), Table::default());
                key
            }
        }
    }

    fn on_write(&mut self, table: &str, record: Vec<u8>, permits: usize, now: Instant) {
        let key = self.table_key(table);
        let limits = &self.settings.batch;
        let cost = record.len() + 1;
        if cost > limits.max_bytes {
            let reason = DeadLetterReason::TooLarge {
                bytes: cost,
                max_bytes: limits.max_bytes,
            };
            let batch = Arc::new(self.new_batch(&key, vec![record]));
            // The oversize record is not tracked by flushes: it can never reach the main sink.
            self.unresolved.remove(&batch.id().seq);
            self.dead_letter(batch, reason, false, permits);
            return;
        }
        let deadline = now + limits.timeout;
        let Some(t) = self.tables.get_mut(&key) else {
            return; // `table_key` just inserted it.
        };
        let before = t.open.deadline;
        push_record(&mut t.open, record, limits, deadline, &mut self.cut);
        let after = t.open.deadline;
        if before != after {
            if let Some(old) = before {
                self.timers.remove(&(old, Arc::clone(&key)));
            }
            if let Some(new) = after {
                self.timers.insert((new, Arc::clone(&key)));
            }
        }
        let cut = std::mem::take(&mut self.cut);
        for records in cut {
            self.enqueue(&key, records);
        }
    }

    fn new_batch(&mut self, table: &Arc<str>, records: Vec<Vec<u8>>) -> Batch {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.unresolved.insert(seq);
        Batch::new(
            BatchId {
                writer: self.writer_id,
                seq,
            },
            Arc::clone(table),
            records,
        )
    }

    fn enqueue(&mut self, table: &Arc<str>, records: Vec<Vec<u8>>) {
        let batch = Arc::new(self.new_batch(table, records));
        if let Some(t) = self.tables.get_mut(table) {
            t.ready.push_back(batch);
        }
    }

    fn cut_table(&mut self, key: &Arc<str>) {
        let Some(t) = self.tables.get_mut(key) else {
            return;
        };
        if t.open.records.is_empty() {
            return;
        }
        if let Some(d) = t.open.deadline {
            self.timers.remove(&(d, Arc::clone(key)));
        }
        let records = take(&mut t.open);
        self.enqueue(key, records);
    }

    fn cut_expired(&mut self, now: Instant) {
        while let Some((deadline, key)) = self.timers.first().cloned() {
            if deadline > now {
                break;
            }
            self.cut_table(&key);
        }
    }

    fn cut_all(&mut self) {
        let keys: Vec<Arc<str>> = self.timers.iter().map(|(_, k)| Arc::clone(k)).collect();
        for key in keys {
            self.cut_table(&key);
        }
    }

    fn start_ready(&mut self) {
        for t in self.tables.values_mut() {
            if t.busy.is_some() {
                continue;
            }
            let Some(batch) = t.ready.pop_front() else {
                continue;
            };
            t.busy = Some(Arc::clone(&batch));
            let sink = Arc::clone(&self.sink);
            let retry = self.settings.retry.clone();
            let events = Arc::clone(&self.events);
            self.tasks.push(Box::pin(async move {
                let result = deliver(&*sink, &batch, &retry, Some(&events)).await;
                Done::Batch { batch, result }
            }));
        }
    }

    fn dead_letter(
        &mut self,
        batch: Arc<Batch>,
        reason: DeadLetterReason,
        failed: bool,
        permits: usize,
    ) {
        match &self.dead_letter {
            Some(sink) => {
                let sink = Arc::clone(sink);
                let retry = self.settings.retry.clone();
                self.dead_letters.insert(batch.id().seq, Arc::clone(&batch));
                self.tasks.push(Box::pin(async move {
                    let delivered = deliver(&*sink, &batch, &retry, None).await.is_ok();
                    Done::DeadLetter {
                        batch,
                        reason,
                        delivered,
                        failed,
                    }
                }));
            }
            None => {
                if let Some(t) = self.tables.get_mut(batch.table()) {
                    t.report.dropped += batch.len() as u64;
                }
                self.events.emit(Event::DeadLetter {
                    table: Arc::clone(batch.table_arc()),
                    records: batch.len(),
                    reason,
                    delivered: false,
                });
                self.buffer.add_permits(permits);
                if failed {
                    self.unresolved.remove(&batch.id().seq);
                }
            }
        }
    }

    fn on_done(&mut self, done: Done) {
        match done {
            Done::Batch { batch, result } => {
                let records = batch.len() as u64;
                let seq = batch.id().seq;
                let Some(t) = self.tables.get_mut(batch.table()) else {
                    return;
                };
                t.busy = None;
                match result {
                    Ok(()) => {
                        t.report.delivered += records;
                        t.report.batches += 1;
                        self.buffer.add_permits(batch.bytes());
                        self.unresolved.remove(&seq);
                    }
                    Err(error) => {
                        t.report.failed += records;
                        self.failures.push((seq, records));
                        self.events.emit(Event::Error {
                            table: Arc::clone(batch.table_arc()),
                            batch: Some(batch.id()),
                            error: error.to_string(),
                            retryable: false,
                        });
                        let reason = DeadLetterReason::Failed {
                            error: error.to_string(),
                        };
                        let permits = batch.bytes();
                        self.dead_letter(batch, reason, true, permits);
                    }
                }
            }
            Done::DeadLetter {
                batch,
                reason,
                delivered,
                failed,
            } => {
                self.dead_letters.remove(&batch.id().seq);
                if let Some(t) = self.tables.get_mut(batch.table()) {
                    if delivered {
                        t.report.dead_lettered += batch.len() as u64;
                    } else {
                        t.report.dropped += batch.len() as u64;
                    }
                }
                self.events.emit(Event::DeadLetter {
                    table: Arc::clone(batch.table_arc()),
                    records: batch.len(),
                    reason,
                    delivered,
                });
                // Too-large records held at most `buffer_bytes` permits.
                let permits = batch.bytes().min(self.settings.buffer_bytes);
                self.buffer.add_permits(permits);
                if failed {
                    self.unresolved.remove(&batch.id().seq);
                }
            }
        }
    }

    fn answer_flushes(&mut self) {
        if self.flushes.is_empty() {
            return;
        }
        let oldest = self.unresolved.first().copied().unwrap_or(u64::MAX);
        let mut waiting = Vec::new();
        for (marker, reply) in self.flushes.drain(..) {
            if oldest < marker {
                waiting.push((marker, reply));
                continue;
            }
            let (batches, records) = self
                .failures
                .iter()
                .filter(|(seq, _)| *seq < marker)
                .fold((0, 0), |(b, r), (_, n)| (b + 1, r + n));
            let answer = if batches == 0 {
                Ok(())
            } else {
                Err(Error::Undelivered { batches, records })
            };
            let _ = reply.send(answer);
        }
        self.flushes = waiting;
    }

    /// Ends the task: reports to `close`, abandons what is left, and closes the buffer so that
    /// waiting writers return [`Error::Closed`].
    fn finish(mut self) {
        self.buffer.close();
        let mut report = CloseReport::default();
        let tasks = std::mem::take(&mut self.tasks);
        drop(tasks);
        for (key, t) in self.tables.iter_mut() {
            let open = take(&mut t.open);
            if !open.is_empty() {
                t.report.undelivered += open.len() as u64;
                let seq = self.next_seq;
                self.next_seq += 1;
                let batch = Batch::new(
                    BatchId {
                        writer: self.writer_id,
                        seq,
                    },
                    Arc::clone(key),
                    open,
                );
                report.undelivered.push(Arc::new(batch));
            }
            for batch in t.busy.take().into_iter().chain(t.ready.drain(..)) {
                t.report.undelivered += batch.len() as u64;
                report.undelivered.push(batch);
            }
        }
        for batch in self.dead_letters.values() {
            if let Some(t) = self.tables.get_mut(batch.table()) {
                t.report.dropped += batch.len() as u64;
            }
        }
        // Writes that raced with `close` and were never taken from the channel.
        while let Ok(command) = self.rx.try_recv() {
            if let Command::Write { table, .. } = command {
                let t = self.tables.entry(Arc::from(&*table)).or_default();
                t.report.undelivered += 1;
            }
        }
        for (_, reply) in self.flushes.drain(..) {
            let _ = reply.send(Err(Error::Closed));
        }
        report.timed_out = !report.undelivered.is_empty();
        report.tables = self
            .tables
            .iter()
            .map(|(k, t)| (k.to_string(), t.report.clone()))
            .collect();
        let stats = &self.events.stats;
        report.events_dropped = stats.dropped.load(std::sync::atomic::Ordering::Relaxed);
        report.handler_panics = stats
            .handler_panics
            .load(std::sync::atomic::Ordering::Relaxed);
        if let Some((_, reply)) = self.closing.take() {
            let _ = reply.send(report);
        }
    }
}

/// Hands `batch` to `sink`, retrying retryable errors (and attempt timeouts) as `retry` allows.
/// Emits `send`, `flush`, `error` and `retry` events when `events` is given.
pub(crate) async fn deliver(
    sink: &dyn Sink,
    batch: &Batch,
    retry: &RetryPolicy,
    events: Option<&Events>,
) -> Result<()> {
    let started = Instant::now();
    let table = batch.table_arc();
    let mut attempt: u32 = 1;
    loop {
        if let Some(ev) = events {
            ev.emit(Event::Send {
                table: Arc::clone(table),
                batch: batch.id(),
                records: batch.len(),
                bytes: batch.bytes(),
                attempt,
            });
        }
        let result = match timeout(retry.attempt_timeout, sink.deliver(batch)).await {
            Ok(result) => result,
            Err(_) => Err(Error::Timeout(retry.attempt_timeout)),
        };
        let error = match result {
            Ok(()) => {
                if let Some(ev) = events {
                    ev.emit(Event::Flush {
                        table: Arc::clone(table),
                        batch: batch.id(),
                        records: batch.len(),
                    });
                }
                return Ok(());
            }
            Err(e) => e,
        };
        let delay = if error.is_retryable() {
            retry.next_delay(attempt, started.elapsed())
        } else {
            None
        };
        let Some(delay) = delay else {
            return Err(error);
        };
        if let Some(ev) = events {
            ev.emit(Event::Error {
                table: Arc::clone(table),
                batch: Some(batch.id()),
                error: error.to_string(),
                retryable: true,
            });
            ev.emit(Event::Retry {
                table: Arc::clone(table),
                batch: batch.id(),
                attempt: attempt + 1,
                delay,
            });
        }
        tokio::time::sleep(delay).await;
        attempt += 1;
    }
}
