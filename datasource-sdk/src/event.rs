//! Writer events: `send`, `flush`, `error`, `retry` and `dead-letter`, through handlers and as a
//! stream.
//!
//! Events go through a bounded broadcast channel that never blocks delivery. Handlers registered
//! with [`crate::Writer::on`] run on a dedicated thread, each call wrapped in `catch_unwind`: a
//! handler that panics is counted ([`EventStats::handler_panics`]) and keeps being called; a slow
//! handler only makes events queue up, and once the channel is full the oldest are dropped and
//! counted ([`EventStats::dropped`]), never delivery.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::sync::broadcast;

use crate::batch::BatchId;

/// The kind of an [`Event`], to pick which events a handler receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EventKind {
    /// Immediately before a batch is handed to the sink (each attempt).
    Send,
    /// After the sink accepted a batch.
    Flush,
    /// When an attempt or a batch failed.
    Error,
    /// Before waiting to retry a batch.
    Retry,
    /// When records went to the dead-letter sink (or would have, without one).
    DeadLetter,
}

impl EventKind {
    /// The event's name as the original SDK spelled it (`send`, `flush`, `error`, `retry`,
    /// `dead-letter`).
    pub fn name(self) -> &'static str {
        match self {
            EventKind::Send => "send",
            EventKind::Flush => "flush",
            EventKind::Error => "error",
            EventKind::Retry => "retry",
            EventKind::DeadLetter => "dead-letter",
        }
    }
}

/// Why records were dead-lettered.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeadLetterReason {
    /// One record was larger than any batch may be.
    TooLarge {
        /// The record's encoded size plus newline.
        bytes: usize,
        /// The batch byte limit.
        max_bytes: usize,
    },
    /// A batch failed for good (not retryable, or retries used up).
    Failed {
        /// The last error, as text.
        error: String,
    },
}

/// Something the writer did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A batch is about to be handed to the sink.
    Send {
        /// Table.
        table: Arc<str>,
        /// Batch id.
        batch: BatchId,
        /// Records in the batch.
        records: usize,
        /// Encoded bytes.
        bytes: usize,
        /// Attempt number, from 1.
        attempt: u32,
    },
    /// The sink accepted a batch.
    Flush {
        /// Table.
        table: Arc<str>,
        /// Batch id.
        batch: BatchId,
        /// Records in the batch.
        records: usize,
    },
    /// An attempt failed (`retryable`) or a batch failed for good.
    Error {
        /// Table.
        table: Arc<str>,
        /// Batch id, when a batch was involved.
        batch: Option<BatchId>,
        /// The error, as text.
        error: String,
        /// Whether it will be retried.
        retryable: bool,
    },
    /// The writer waits before trying a batch again.
    Retry {
        /// Table.
        table: Arc<str>,
        /// Batch id.
        batch: BatchId,
        /// The attempt that will follow the wait.
        attempt: u32,
        /// How long it waits.
        delay: Duration,
    },
    /// Records went to the dead-letter sink (`delivered`), or could not (`!delivered`).
    DeadLetter {
        /// Table.
        table: Arc<str>,
        /// Number of records.
        records: usize,
        /// Why.
        reason: DeadLetterReason,
        /// Whether the dead-letter sink accepted them.
        delivered: bool,
    },
}

impl Event {
    /// This event's kind.
    pub fn kind(&self) -> EventKind {
        match self {
            Event::Send { .. } => EventKind::Send,
            Event::Flush { .. } => EventKind::Flush,
            Event::Error { .. } => EventKind::Error,
            Event::Retry { .. } => EventKind::Retry,
            Event::DeadLetter { .. } => EventKind::DeadLetter,
        }
    }

    /// The table concerned.
    pub fn table(&self) -> &str {
        match self {
            Event::Send { table, .. }
            | Event::Flush { table, .. }
            | Event::Error { table, .. }
            | Event::Retry { table, .. }
            | Event::DeadLetter { table, .. } => table,
        }
    }
}

/// Counters that make every lost event observable.
#[derive(Debug, Default)]
pub struct EventStats {
    /// Events a slow handler thread or stream subscriber missed because the channel was full.
    pub dropped: AtomicU64,
    /// Handler calls that panicked.
    pub handler_panics: AtomicU64,
}

type Handler = Arc<dyn Fn(&Event) + Send + Sync + 'static>;

/// The event channel of one writer and its handlers.
#[derive(Debug)]
pub(crate) struct Events {
    tx: broadcast::Sender<Event>,
    handlers: Arc<RwLock<Vec<(EventKind, HandlerBox)>>>,
    dispatcher_started: std::sync::Once,
    pub stats: Arc<EventStats>,
}

struct HandlerBox(Handler);

impl std::fmt::Debug for HandlerBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Handler")
    }
}

impl Events {
    /// A channel keeping at most `capacity` undelivered events per subscriber.
    pub fn new(capacity: usize) -> Self {
        let (tx, _) = broadcast::channel(capacity.max(1));
        Self {
            tx,
            handlers: Arc::default(),
            dispatcher_started: std::sync::Once::new(),
            stats: Arc::default(),
        }
    }

    /// Publishes an event; never blocks (nobody listening is fine).
    pub fn emit(&self, event: Event) {
        let _ = self.tx.send(event);
    }

    /// A new subscriber.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.tx.subscribe()
    }

    /// Registers a handler; the first registration starts the dispatcher thread.
    pub fn on(&self, kind: EventKind, handler: Handler) {
        if let Ok(mut handlers) = self.handlers.write() {
            handlers.push((kind, HandlerBox(handler)));
        }
        self.dispatcher_started.call_once(|| {
            let rx = self.tx.subscribe();
            let handlers = Arc::clone(&self.handlers);
            let stats = Arc::clone(&self.stats);
            let spawned = std::thread::Builder::new()
                .name("datasource-sdk-events".into())
                .spawn(move || dispatch(rx, &handlers, &stats));
            if let Err(e) = spawned {
                tracing::error!("cannot start the event handler thread: {e}");
            }
        });
    }
}

/// Runs handlers until the channel closes (the writer finished).
fn dispatch(
    mut rx: broadcast::Receiver<Event>,
    handlers: &RwLock<Vec<(EventKind, HandlerBox)>>,
    stats: &EventStats,
) {
    loop {
        let event = match rx.blocking_recv() {
            Ok(event) => event,
            Err(broadcast::error::RecvError::Lagged(n)) => {
                stats.dropped.fetch_add(n, Ordering::Relaxed);
                continue;
            }
            Err(broadcast::error::RecvError::Closed) => return,
        };
        let matching: Vec<Handler> = match handlers.read() {
            Ok(h) => h
                .iter()
                .filter(|(k, _)| *k == event.kind())
                .map(|(_, h)| Arc::clone(&h.0))
                .collect(),
            Err(_) => return,
        };
        for handler in matching {
            if catch_unwind(AssertUnwindSafe(|| handler(&event))).is_err() {
                stats.handler_panics.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}
