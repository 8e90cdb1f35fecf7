//! The delivery task behind a [`super::Writer`].
//!
//! Every batch is tracked from the moment it is cut until it has an outcome (delivered,
//! dead-lettered durably, failed for good, or abandoned at the close deadline), together with the
//! acknowledgement shares of its records. Sink calls run as futures of this task, each attempt
//! wrapped in `catch_unwind`, so a sink that panics fails that attempt, not the task; and a
//! guard closes the buffer and marks the writer closed on every exit path (a panic included), so
//! no writer waits forever.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;
// A fast hasher (foldhash) for the per-record table lookup.
use futures::stream::FuturesUnordered;
use futures::{FutureExt, StreamExt};
use hashbrown::HashMap;
use tokio::sync::{Semaphore, mpsc, oneshot};
use tokio::time::{Instant, sleep_until};

use super::intake::{self, Intake};
use super::stats::{Counter, Counters};
use super::{CloseReport, Command, TableReport, WriterSettings};
use crate::ack::{AckRun, AckRuns, Outcome};
use crate::batch::Records;
use crate::event::{DeadLetterReason, Event, Events};
use crate::{Batch, BatchId, Error, Result, RetryPolicy, Sink};

/// Commands taken from the channel per turn of the loop.
const COMMANDS_PER_TURN: usize = 1024;

#[derive(Debug, Default)]
struct Table {
    /// The timer of the open batch: its deadline and generation.
    timer: Option<(Instant, u64)>,
    ready: VecDeque<(Arc<Batch>, AckRuns)>,
    /// Whether a batch of this table is in the main sink now.
    busy: bool,
    /// Whether the table is in the run queue.
    queued: bool,
    report: TableReport,
}

/// A batch handed to a sink (main or dead-letter), until its outcome is known.
struct Flight {
    batch: Arc<Batch>,
    acks: AckRuns,
    permits: usize,
    /// Set once the batch is with the dead-letter sink.
    dead: Option<DeadLetterReason>,
}

/// What a finished task reports.
enum Done {
    /// A main-sink delivery finished.
    Main { seq: u64, result: Result<()> },
    /// A dead-letter delivery finished.
    DeadLetter { seq: u64, delivered: bool },
}

/// What the delivery task is built from.
pub(super) struct Parts {
    pub rx: mpsc::UnboundedReceiver<Command>,
    pub intake: Arc<Mutex<Intake>>,
    pub sink: Arc<dyn Sink>,
    pub dead_letter: Option<Arc<dyn Sink>>,
    pub settings: WriterSettings,
    pub events: Arc<Events>,
    pub buffer: Arc<Semaphore>,
    pub closed: Arc<AtomicBool>,
    pub counters: Arc<Counters>,
}

/// Closes the buffer and the intake and marks the writer closed when the task ends, however it
/// ends (what is still open is dropped then, its acknowledgement shares settling as failed;
/// on the normal path `finish` has handed it back already).
struct EndGuard {
    buffer: Arc<Semaphore>,
    closed: Arc<AtomicBool>,
    intake: Arc<Mutex<Intake>>,
}

impl Drop for EndGuard {
    fn drop(&mut self) {
        self.closed.store(true, Ordering::Release);
        self.buffer.close();
        drop(intake::lock(&self.intake).end());
    }
}

pub(super) struct Worker {
    /// First, so that it is dropped first: the intake stops sending before `rx` goes.
    guard: EndGuard,
    intake: Arc<Mutex<Intake>>,
    rx: mpsc::UnboundedReceiver<Command>,
    sink: Arc<dyn Sink>,
    dead_letter: Option<Arc<dyn Sink>>,
    settings: WriterSettings,
    events: Arc<Events>,
    buffer: Arc<Semaphore>,
    counters: Arc<Counters>,
    writer_id: u64,
    next_seq: u64,
    tables: HashMap<Arc<str>, Table>,
    /// Tables with a ready batch and none in flight, in turn order.
    runnable: VecDeque<Arc<str>>,
    in_flight: usize,
    /// Deadlines of open batches: (deadline, table, generation).
    timers: BTreeSet<(Instant, Arc<str>, u64)>,
    tasks: FuturesUnordered<BoxFuture<'static, Done>>,
    flights: HashMap<u64, Flight>,
    /// Batches (by sequence number) cut and without an outcome yet.
    unresolved: BTreeSet<u64>,
    /// Batches that failed for good and were not dead-lettered, not yet reported to a flush:
    /// sequence number to records.
    failures: BTreeMap<u64, u64>,
    flushes: Vec<(u64, oneshot::Sender<Result<()>>)>,
    closing: Option<(Instant, oneshot::Sender<CloseReport>)>,
}

impl Worker {
    pub(super) fn new(p: Parts) -> Self {
        Self {
            rx: p.rx,
            sink: p.sink,
            dead_letter: p.dead_letter,
            settings: p.settings,
            events: p.events,
            guard: EndGuard {
                buffer: Arc::clone(&p.buffer),
                closed: p.closed,
                intake: Arc::clone(&p.intake),
            },
            intake: p.intake,
            buffer: p.buffer,
            counters: p.counters,
            writer_id: rand::random(),
            next_seq: 0,
            tables: HashMap::new(),
            runnable: VecDeque::new(),
            in_flight: 0,
            timers: BTreeSet::new(),
            tasks: FuturesUnordered::new(),
            flights: HashMap::new(),
            unresolved: BTreeSet::new(),
            failures: BTreeMap::new(),
            flushes: Vec::new(),
            closing: None,
        }
    }

    pub(super) async fn run(mut self) {
        let mut commands = Vec::with_capacity(COMMANDS_PER_TURN);
        let mut rx_open = true;
        loop {
            let now = Instant::now();
            self.cut_expired(now);
            self.start_ready();
            self.answer_flushes();
            // Once closing (or every handle is gone), every batch was cut and its command
            // came before: what is left is here.
            let drained = self.tasks.is_empty() && self.tables.values().all(|t| t.ready.is_empty());
            if drained && (self.closing.is_some() || !rx_open) {
                break;
            }
            if let Some((deadline, _)) = &self.closing
                && now >= *deadline
            {
                break;
            }
            let next_timer = self.timers.first().map(|(t, _, _)| *t);
            let close_at = self.closing.as_ref().map(|(t, _)| *t);
            tokio::select! {
                biased;
                Some(done) = self.tasks.next(), if !self.tasks.is_empty() => self.on_done(done),
                n = self.rx.recv_many(&mut commands, COMMANDS_PER_TURN), if rx_open => {
                    if n == 0 {
                        rx_open = false;
                    }
                    for command in commands.drain(..) {
                        self.on_command(command);
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

    fn on_command(&mut self, command: Command) {
        match command {
            Command::Opened {
                table,
                deadline,
                generation,
            } => {
                let key = self.table_key(&table);
                if let Some(t) = self.tables.get_mut(&key) {
                    t.timer = Some((deadline, generation));
                    self.timers.insert((deadline, key, generation));
                }
            }
            Command::Batch {
                table,
                records,
                acks,
                generation,
            } => self.on_batch(&table, records, acks, generation),
            Command::Oversize {
                table,
                record,
                permits,
                ack,
            } => self.on_oversize(&table, record, permits, ack),
            // The handle cut every open batch before sending these: their batches came first.
            Command::Flush(reply) => self.flushes.push((self.next_seq, reply)),
            Command::Close { deadline, reply } => self.closing = Some((deadline, reply)),
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

    /// A record too large for any batch (only with a dead-letter sink: `write` refuses such
    /// records otherwise).
    fn on_oversize(&mut self, table: &str, record: Vec<u8>, permits: usize, ack: Option<AckRun>) {
        let key = self.table_key(table);
        let max_bytes = self.settings.batch.max_bytes.get();
        let reason = DeadLetterReason::TooLarge {
            bytes: record.len() + 1,
            max_bytes,
        };
        let seq = self.next_seq();
        let mut records = Records::with_capacity(record.len() + 1, 1);
        records.push(&record);
        let batch = Arc::new(self.batch(seq, &key, records));
        let mut acks = AckRuns::default();
        if let Some(ack) = ack {
            acks.push(ack);
        }
        self.unresolved.insert(seq);
        let flight = Flight {
            batch,
            acks,
            permits,
            dead: None,
        };
        self.dead_letter(seq, flight, reason);
    }

    fn next_seq(&mut self) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        seq
    }

    fn batch(&self, seq: u64, table: &Arc<str>, records: Records) -> Batch {
        Batch::from_records(
            BatchId {
                writer: self.writer_id,
                seq,
            },
            Arc::clone(table),
            records,
        )
    }

    /// A batch cut by a handle (or by this task's timer): queued for the sink.
    fn on_batch(&mut self, table: &str, records: Records, acks: AckRuns, generation: u64) {
        let key = self.table_key(table);
        let seq = self.next_seq();
        let held = self.held_bytes();
        let batch = Arc::new(self.batch(seq, &key, records));
        self.counters.export_written(&key, batch.len() as u64, held);
        let Some(t) = self.tables.get_mut(&key) else {
            return; // `table_key` just made sure it is there.
        };
        if let Some((deadline, timer_generation)) = t.timer
            && timer_generation == generation
        {
            t.timer = None;
            self.timers
                .remove(&(deadline, Arc::clone(&key), timer_generation));
        }
        t.ready.push_back((batch, acks));
        self.unresolved.insert(seq);
        if !t.busy && !t.queued {
            t.queued = true;
            self.runnable.push_back(key);
        }
    }

    fn held_bytes(&self) -> usize {
        self.settings
            .buffer_bytes
            .saturating_sub(self.buffer.available_permits())
    }

    /// Cuts the open batches whose timer expired; their batches come back through the channel
    /// (after any batch of the same table cut before them).
    fn cut_expired(&mut self, now: Instant) {
        let Some((first, _, _)) = self.timers.first() else {
            return;
        };
        if *first > now {
            return;
        }
        let mut intake = intake::lock(&self.intake);
        while let Some((deadline, key, generation)) = self.timers.first().cloned() {
            if deadline > now {
                break;
            }
            self.timers
                .remove(&(deadline, Arc::clone(&key), generation));
            if let Some(t) = self.tables.get_mut(&key) {
                t.timer = None;
            }
            intake.cut_expired(&key, generation);
        }
    }

    fn start_ready(&mut self) {
        while self.in_flight < self.settings.max_in_flight.get() {
            let Some(key) = self.runnable.pop_front() else {
                return;
            };
            let Some(t) = self.tables.get_mut(&key) else {
                continue;
            };
            t.queued = false;
            let Some((batch, acks)) = t.ready.pop_front() else {
                continue;
            };
            t.busy = true;
            self.in_flight += 1;
            let seq = batch.id().seq;
            let permits = batch.bytes();
            self.flights.insert(
                seq,
                Flight {
                    batch: Arc::clone(&batch),
                    acks,
                    permits,
                    dead: None,
                },
            );
            let sink = Arc::clone(&self.sink);
            let retry = self.settings.retry.clone();
            let events = Arc::clone(&self.events);
            let counters = Arc::clone(&self.counters);
            self.tasks.push(Box::pin(async move {
                let result = deliver(&*sink, &batch, &retry, Some((&events, &counters))).await;
                Done::Main { seq, result }
            }));
        }
    }

    /// Hands a flight to the dead-letter sink, or, without one, settles it as failed.
    fn dead_letter(&mut self, seq: u64, mut flight: Flight, reason: DeadLetterReason) {
        let Some(sink) = &self.dead_letter else {
            self.dropped(seq, flight, reason);
            return;
        };
        let sink = Arc::clone(sink);
        let retry = self.settings.retry.clone();
        let batch = Arc::clone(&flight.batch);
        flight.dead = Some(reason);
        self.flights.insert(seq, flight);
        self.tasks.push(Box::pin(async move {
            let delivered = deliver(&*sink, &batch, &retry, None).await.is_ok();
            Done::DeadLetter { seq, delivered }
        }));
    }

    /// Settles a flight that reached no sink: counted, reported to the next flush, announced.
    fn dropped(&mut self, seq: u64, mut flight: Flight, reason: DeadLetterReason) {
        let n = flight.batch.len() as u64;
        let table = flight.batch.table_arc();
        if let Some(t) = self.tables.get_mut(table) {
            t.report.dropped += n;
        }
        self.counters.add(Counter::Dropped, table, n);
        self.events.emit(Event::DeadLetter {
            table: Arc::clone(table),
            records: flight.batch.len(),
            reason,
            delivered: false,
        });
        flight.acks.settle(Outcome::Failed);
        self.failures.insert(seq, n);
        self.resolve(seq, flight.permits);
    }

    fn resolve(&mut self, seq: u64, permits: usize) {
        self.buffer.add_permits(permits);
        self.unresolved.remove(&seq);
        self.counters.export_buffered(self.held_bytes());
    }

    fn on_done(&mut self, done: Done) {
        match done {
            Done::Main { seq, result } => {
                let Some(mut flight) = self.flights.remove(&seq) else {
                    return;
                };
                self.in_flight = self.in_flight.saturating_sub(1);
                let key = Arc::clone(flight.batch.table_arc());
                let n = flight.batch.len() as u64;
                if let Some(t) = self.tables.get_mut(&key) {
                    t.busy = false;
                    if !t.ready.is_empty() && !t.queued {
                        t.queued = true;
                        self.runnable.push_back(Arc::clone(&key));
                    }
                }
                match result {
                    Ok(()) => {
                        if let Some(t) = self.tables.get_mut(&key) {
                            t.report.delivered += n;
                            t.report.batches += 1;
                        }
                        self.counters.add(Counter::Delivered, &key, n);
                        flight.acks.settle(Outcome::Delivered);
                        self.resolve(seq, flight.permits);
                    }
                    Err(error) => {
                        if let Some(t) = self.tables.get_mut(&key) {
                            t.report.failed += n;
                        }
                        self.counters.add(Counter::Failed, &key, n);
                        self.events.emit(Event::Error {
                            table: Arc::clone(&key),
                            batch: Some(flight.batch.id()),
                            error: error.to_string(),
                            retryable: false,
                        });
                        let reason = DeadLetterReason::Failed {
                            error: error.to_string(),
                        };
                        self.dead_letter(seq, flight, reason);
                    }
                }
            }
            Done::DeadLetter { seq, delivered } => {
                let Some(mut flight) = self.flights.remove(&seq) else {
                    return;
                };
                let reason = flight.dead.take().unwrap_or(DeadLetterReason::Failed {
                    error: String::new(),
                });
                if !delivered {
                    self.dropped(seq, flight, reason);
                    return;
                }
                let table = Arc::clone(flight.batch.table_arc());
                let n = flight.batch.len() as u64;
                if let Some(t) = self.tables.get_mut(&table) {
                    t.report.dead_lettered += n;
                }
                self.counters.add(Counter::DeadLettered, &table, n);
                self.events.emit(Event::DeadLetter {
                    table,
                    records: flight.batch.len(),
                    reason,
                    delivered: true,
                });
                flight.acks.settle(Outcome::DeadLettered);
                self.resolve(seq, flight.permits);
            }
        }
    }

    fn answer_flushes(&mut self) {
        if self.flushes.is_empty() {
            return;
        }
        let oldest = self.unresolved.first().copied().unwrap_or(u64::MAX);
        let mut waiting = Vec::new();
        // Markers grow with arrival order: the first flush covering a failure reports it.
        for (marker, reply) in std::mem::take(&mut self.flushes) {
            if oldest < marker {
                waiting.push((marker, reply));
                continue;
            }
            let later = self.failures.split_off(&marker);
            let reported = std::mem::replace(&mut self.failures, later);
            let batches = reported.len() as u64;
            let records = reported.values().sum();
            let answer = if batches == 0 {
                Ok(())
            } else {
                Err(Error::Undelivered { batches, records })
            };
            let _ = reply.send(answer);
        }
        self.flushes = waiting;
    }

    /// Ends the task: abandons what is left (handing it back in the report, and settling its
    /// acknowledgements as failed), reports to `close`. The guard then closes the buffer so that
    /// waiting writers return [`Error::Closed`].
    fn finish(mut self) {
        // Nothing is accepted or sent from here on.
        let leftovers = intake::lock(&self.intake).end();
        self.guard.closed.store(true, Ordering::Release);
        self.buffer.close();
        let mut report = CloseReport::default();
        drop(std::mem::take(&mut self.tasks));
        let mut abandoned: Vec<(Arc<Batch>, AckRuns)> = Vec::new();
        let mut flights: Vec<(u64, Flight)> = self.flights.drain().collect();
        flights.sort_by_key(|(seq, _)| *seq);
        for (_, flight) in flights {
            abandoned.push((flight.batch, flight.acks));
        }
        for t in self.tables.values_mut() {
            abandoned.extend(t.ready.drain(..));
        }
        // Batches cut after the close deadline passed, never taken from the channel, and
        // records still open (only when the task ended without `close`).
        let mut late: Vec<(Arc<str>, Records, AckRuns)> = Vec::new();
        while let Ok(command) = self.rx.try_recv() {
            match command {
                Command::Batch {
                    table,
                    records,
                    acks,
                    ..
                } => late.push((table, records, acks)),
                Command::Oversize {
                    table, record, ack, ..
                } => {
                    let mut records = Records::with_capacity(record.len() + 1, 1);
                    records.push(&record);
                    let mut acks = AckRuns::default();
                    if let Some(ack) = ack {
                        acks.push(ack);
                    }
                    late.push((table, records, acks));
                }
                Command::Flush(reply) => self.flushes.push((u64::MAX, reply)),
                Command::Opened { .. } | Command::Close { .. } => {}
            }
        }
        late.extend(leftovers.into_iter().map(|l| (l.table, l.records, l.acks)));
        for (table, records, acks) in late {
            let key = self.table_key(&table);
            let seq = self.next_seq();
            abandoned.push((Arc::new(self.batch(seq, &key, records)), acks));
        }
        for (batch, mut acks) in abandoned {
            let n = batch.len() as u64;
            if let Some(t) = self.tables.get_mut(batch.table()) {
                t.report.undelivered += n;
            }
            self.counters.add(Counter::Abandoned, batch.table(), n);
            acks.settle(Outcome::Failed);
            report.undelivered.push(batch);
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
        report.events_dropped = stats.dropped.load(Ordering::Relaxed);
        report.handler_panics = stats.handler_panics.load(Ordering::Relaxed);
        if let Some((_, reply)) = self.closing.take() {
            let _ = reply.send(report);
        }
    }
}

/// The text of a panic payload.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a sink panicked".to_owned())
}

/// One call of `sink.deliver`, a panic turned into a retryable [`Error::Panicked`].
async fn attempt(sink: &dyn Sink, batch: &Batch) -> Result<()> {
    match AssertUnwindSafe(sink.deliver(batch)).catch_unwind().await {
        Ok(result) => result,
        Err(payload) => Err(Error::Panicked(panic_message(&*payload))),
    }
}

/// Hands `batch` to `sink`, retrying retryable errors (panics and attempt timeouts included)
/// as `retry` allows. Emits `send`, `flush`, `error` and `retry` events and counts retries when
/// `observe` is given.
pub(crate) async fn deliver(
    sink: &dyn Sink,
    batch: &Batch,
    retry: &RetryPolicy,
    observe: Option<(&Events, &Counters)>,
) -> Result<()> {
    let table = batch.table_arc();
    let attempts = std::sync::atomic::AtomicU32::new(0);
    let result = crate::retry::retry(
        retry,
        || {
            let attempt_no = attempts.fetch_add(1, Ordering::Relaxed) + 1;
            if let Some((ev, _)) = observe {
                ev.emit(Event::Send {
                    table: Arc::clone(table),
                    batch: batch.id(),
                    records: batch.len(),
                    bytes: batch.bytes(),
                    attempt: attempt_no,
                });
            }
            attempt(sink, batch)
        },
        |error, delay| {
            if let Some((ev, counters)) = observe {
                counters.add(Counter::Retried, table, 1);
                ev.emit(Event::Error {
                    table: Arc::clone(table),
                    batch: Some(batch.id()),
                    error: error.to_string(),
                    retryable: true,
                });
                ev.emit(Event::Retry {
                    table: Arc::clone(table),
                    batch: batch.id(),
                    attempt: attempts.load(Ordering::Relaxed) + 1,
                    delay,
                });
            }
        },
    )
    .await;
    if result.is_ok()
        && let Some((ev, _)) = observe
    {
        ev.emit(Event::Flush {
            table: Arc::clone(table),
            batch: batch.id(),
            records: batch.len(),
        });
    }
    result
}
