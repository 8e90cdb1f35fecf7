//! The fetch workers of one cycle: receives take up to [`MAX_BATCH`] messages each, never more
//! than there are free worker slots (so no received message waits unworked while its visibility
//! runs out), with one receive in flight per [`MAX_BATCH`] worker slots (at most
//! [`MAX_RECEIVES_IN_FLIGHT`]), so a queue whose receives take a while still keeps every worker
//! busy. Each message goes to a task that keeps it hidden with a heartbeat while its identifier
//! is fetched and written. Done messages are deleted in batches; failed ones released with a
//! growing delay. Queue errors are retried with backoff and reported, never the end of a worker.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, watch};
use tokio::task::JoinSet;
use tracing::warn;

use super::CacheError;
use super::pipeline::{Cache, MAX_REPORTED, ScheduleState};
use super::queue::{MAX_BATCH, Message};

/// How long a done message waits for others to share its delete request.
const DELETE_LINGER: Duration = Duration::from_millis(50);

/// Most receive requests one process has in flight at once.
pub const MAX_RECEIVES_IN_FLIGHT: usize = 8;

fn push_capped(failures: &mut Vec<String>, why: String) {
    if failures.len() < MAX_REPORTED {
        failures.push(why);
    }
}

/// Whether the schedule is over (finished, failed, or gone).
fn schedule_done(rx: &watch::Receiver<ScheduleState>) -> bool {
    rx.borrow().done || rx.has_changed().is_err()
}

/// Receives in flight for `workers` worker slots: one per [`MAX_BATCH`] slots, at least one, at
/// most [`MAX_RECEIVES_IN_FLIGHT`].
fn receives_in_flight(workers: usize) -> usize {
    workers.div_ceil(MAX_BATCH).clamp(1, MAX_RECEIVES_IN_FLIGHT)
}

/// What one receive gave, with the worker slots it holds for its messages.
type Received = (Result<Vec<Message>, CacheError>, OwnedSemaphorePermit);

/// One receive of up to `permits` messages, after `backoff` (after queue errors). An empty
/// answer while the schedule is still running waits (at most the receive wait) for the
/// schedule to send more, so a queue that answers at once does not spin.
async fn receive(
    cache: Arc<Cache>,
    permits: OwnedSemaphorePermit,
    backoff: Option<Duration>,
    mut schedule: watch::Receiver<ScheduleState>,
) -> Received {
    if let Some(delay) = backoff {
        tokio::time::sleep(delay).await;
    }
    schedule.borrow_and_update();
    let received = cache
        .queue()
        .receive(permits.num_permits(), cache.receive_wait)
        .await;
    if matches!(&received, Ok(m) if m.is_empty()) && !schedule_done(&schedule) {
        let _ = tokio::time::timeout(cache.receive_wait, schedule.changed()).await;
    }
    (received, permits)
}

/// Takes up to [`MAX_BATCH`] free worker slots, waiting for the first one.
async fn take_slots(slots: &Arc<Semaphore>) -> Option<OwnedSemaphorePermit> {
    let mut permits = slots.clone().acquire_owned().await.ok()?;
    while permits.num_permits() < MAX_BATCH {
        match slots.clone().try_acquire_owned() {
            Ok(p) => permits.merge(p),
            Err(_) => break,
        }
    }
    Some(permits)
}

/// Runs the workers until the schedule is done and the queue is empty; returns the failure
/// messages (at most [`MAX_REPORTED`]). Counts go to the cache's progress.
pub(crate) async fn run(
    cache: Arc<Cache>,
    schedule: watch::Receiver<ScheduleState>,
) -> Vec<String> {
    let mut failures = Vec::new();
    let slots = Arc::new(Semaphore::new(cache.workers.max(1)));
    let in_flight = receives_in_flight(cache.workers.max(1));
    let (done_tx, done_rx) = mpsc::channel::<Message>(cache.workers.max(1) + MAX_BATCH);
    let deleter = tokio::spawn(delete_loop(cache.clone(), done_rx));
    let mut tasks: JoinSet<Option<String>> = JoinSet::new();
    let mut receiving = FuturesUnordered::new();
    let mut errors_in_row = 0u32;
    // Set once the schedule is done and the queue was seen empty: no new receives; the loop
    // ends when the receives in flight have answered (empty, or their messages are worked on).
    let mut finishing = false;
    loop {
        while let Some(joined) = tasks.try_join_next() {
            reap(&cache, &mut failures, joined);
        }
        let backoff = (errors_in_row > 0).then(|| cache.queue_retry.delay(errors_in_row));
        let received = if finishing {
            match receiving.next().await {
                Some(r) => r,
                None => break,
            }
        } else if receiving.is_empty() {
            let Some(permits) = take_slots(&slots).await else {
                break;
            };
            receiving.push(receive(cache.clone(), permits, backoff, schedule.clone()));
            continue;
        } else if receiving.len() < in_flight {
            tokio::select! {
                r = receiving.next() => match r {
                    Some(r) => r,
                    None => continue,
                },
                permits = take_slots(&slots) => {
                    let Some(permits) = permits else { break };
                    receiving.push(receive(cache.clone(), permits, backoff, schedule.clone()));
                    continue;
                }
            }
        } else {
            match receiving.next().await {
                Some(r) => r,
                None => continue,
            }
        };
        let (received, mut permits) = received;
        let messages = match received {
            Ok(m) => {
                errors_in_row = 0;
                m
            }
            Err(e) => {
                errors_in_row = errors_in_row.saturating_add(1);
                let delay = cache.queue_retry.delay(errors_in_row);
                let why = format!("queue: receiving: {e} (retrying in {delay:?})");
                warn!("{why}");
                cache.progress().queue_error(why.clone());
                push_capped(&mut failures, why);
                continue;
            }
        };
        if messages.is_empty() {
            drop(permits);
            if !finishing && schedule_done(&schedule) {
                match cache.queue().is_empty().await {
                    Ok(true) => finishing = true,
                    Ok(false) => {}
                    Err(e) => {
                        let why = format!("queue: {e}");
                        cache.progress().queue_error(why.clone());
                        push_capped(&mut failures, why);
                        errors_in_row = errors_in_row.saturating_add(1);
                    }
                }
            }
            continue;
        }
        // Messages after all: work on them and keep receiving until the queue is empty again.
        finishing = false;
        for message in messages {
            let Some(permit) = permits.split(1) else {
                // More messages than asked for: a queue bug; release it at once.
                let _ = cache.queue().release(&message, Duration::ZERO).await;
                continue;
            };
            tasks.spawn(work(cache.clone(), message, permit, done_tx.clone()));
        }
    }
    while let Some(joined) = tasks.join_next().await {
        reap(&cache, &mut failures, joined);
    }
    drop(done_tx);
    match deleter.await {
        Ok(errors) => failures.extend(
            errors
                .into_iter()
                .take(MAX_REPORTED.saturating_sub(failures.len())),
        ),
        Err(e) => push_capped(&mut failures, format!("the delete loop failed: {e}")),
    }
    failures
}

fn reap(
    cache: &Cache,
    failures: &mut Vec<String>,
    joined: Result<Option<String>, tokio::task::JoinError>,
) {
    match joined {
        Ok(None) => {}
        Ok(Some(why)) => push_capped(failures, why),
        Err(e) => {
            // A panicking fetch: its message stays hidden until the visibility runs out (SQS) and
            // is received again; report it.
            let why = format!("a fetch worker failed: {e}");
            cache.progress().failed(why.clone(), false);
            push_capped(failures, why);
        }
    }
}

/// Works on one message: fetch and write its identifier with a heartbeat running; on success
/// hand it to the delete loop, on failure release it with a delay that grows with its receives.
async fn work(
    cache: Arc<Cache>,
    message: Message,
    _permit: OwnedSemaphorePermit,
    done: mpsc::Sender<Message>,
) -> Option<String> {
    let fetched = {
        let fetch = cache.fetch(&message.body);
        tokio::pin!(fetch);
        tokio::select! {
            r = &mut fetch => r,
            () = heartbeat(&cache, &message) => fetch.await,
        }
    };
    match fetched {
        Ok(_) => {
            cache.progress().fetched();
            if done.send(message).await.is_err() {
                return Some("the delete loop stopped early".into());
            }
            None
        }
        Err(e) => {
            let dead = message.receives >= cache.queue().max_receives();
            let why = format!("{}: {e}", message.body);
            warn!(identifier = %message.body, receives = message.receives, dead, "fetch failed: {e}");
            cache.progress().failed(why.clone(), dead);
            let delay = if dead {
                Duration::ZERO
            } else {
                cache.release_delays.delay(message.receives)
            };
            if let Err(e) = cache.queue().release(&message, delay).await {
                let why = format!("{}: releasing the message: {e}", message.body);
                cache.progress().queue_error(why.clone());
                return Some(format!("{}; {why}", message.body));
            }
            Some(why)
        }
    }
}

/// Keeps `message` hidden while it is worked on: every third of the visibility timeout it asks
/// for another full timeout. Never returns for a queue without one. A failed heartbeat is
/// reported (the message may then be received again elsewhere: writes are idempotent).
async fn heartbeat(cache: &Cache, message: &Message) {
    let Some(visibility) = cache.queue().visibility_timeout() else {
        return std::future::pending().await;
    };
    let every = (visibility / 3).max(Duration::from_secs(1));
    loop {
        tokio::time::sleep(every).await;
        if let Err(e) = cache.queue().extend(message, visibility).await {
            let why = format!("{}: heartbeat: {e}", message.body);
            warn!("{why}");
            cache.progress().queue_error(why);
        }
    }
}

/// Deletes done messages in batches of up to [`MAX_BATCH`] (each waits at most
/// [`DELETE_LINGER`] for company), retrying through the queue policy; returns what failed.
async fn delete_loop(cache: Arc<Cache>, mut done: mpsc::Receiver<Message>) -> Vec<String> {
    let mut failures = Vec::new();
    while let Some(first) = done.recv().await {
        let mut batch = vec![first];
        let until = tokio::time::Instant::now() + DELETE_LINGER;
        while batch.len() < MAX_BATCH {
            match tokio::time::timeout_at(until, done.recv()).await {
                Ok(Some(m)) => batch.push(m),
                _ => break,
            }
        }
        let deleted = super::retry::retry(
            &cache.queue_retry,
            || cache.queue().delete(&batch),
            |e, d| warn!("deleting {} messages: {e}; again in {d:?}", batch.len()),
        )
        .await;
        if let Err(e) = deleted {
            // The messages come back after their visibility timeout and are fetched again
            // (idempotent): reported, nothing lost.
            let why = format!("queue: deleting {} messages: {e}", batch.len());
            cache.progress().queue_error(why.clone());
            push_capped(&mut failures, why);
        }
    }
    failures
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use async_trait::async_trait;

    use super::*;
    use crate::tscache::CacheError;
    use crate::tscache::forecast::MemoryForecast;
    use crate::tscache::history::LocalObjects;
    use crate::tscache::ids::MemoryIdentifiers;
    use crate::tscache::queue::{MemoryQueue, WorkQueue};

    /// A memory queue with a visibility timeout, counting heartbeats.
    #[derive(Debug)]
    struct Counting {
        inner: MemoryQueue,
        extends: AtomicU32,
    }

    #[async_trait]
    impl WorkQueue for Counting {
        async fn send_batch(&self, bodies: &[String]) -> Result<(), CacheError> {
            self.inner.send_batch(bodies).await
        }
        async fn receive(&self, max: usize, wait: Duration) -> Result<Vec<Message>, CacheError> {
            self.inner.receive(max, wait).await
        }
        async fn delete(&self, messages: &[Message]) -> Result<(), CacheError> {
            self.inner.delete(messages).await
        }
        async fn release(&self, message: &Message, delay: Duration) -> Result<(), CacheError> {
            self.inner.release(message, delay).await
        }
        async fn extend(&self, _message: &Message, visibility: Duration) -> Result<(), CacheError> {
            assert_eq!(visibility, Duration::from_secs(30));
            self.extends.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }
        fn visibility_timeout(&self) -> Option<Duration> {
            Some(Duration::from_secs(30))
        }
        fn max_receives(&self) -> u32 {
            3
        }
        async fn is_empty(&self) -> Result<bool, CacheError> {
            self.inner.is_empty().await
        }
        async fn dead_letters(&self) -> Result<Vec<String>, CacheError> {
            Ok(self.inner.dead_letters())
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_message_being_worked_on_is_kept_hidden_every_third_of_its_visibility() {
        let dir = tempfile::tempdir().unwrap();
        let queue = Arc::new(Counting {
            inner: MemoryQueue::new(10, 3),
            extends: AtomicU32::new(0),
        });
        let cache = Cache::new(
            Arc::new(MemoryIdentifiers::default()),
            Arc::new(LocalObjects::new(dir.path())),
            Arc::new(MemoryForecast::default()),
            "forecast",
            "http://unused",
            crate::tscache::system_clock(),
        )
        .unwrap()
        .with_queue(queue.clone());
        let message = Message {
            receipt: "0".into(),
            body: "x".into(),
            receives: 1,
        };
        let beating = tokio::time::timeout(Duration::from_secs(100), heartbeat(&cache, &message));
        assert!(beating.await.is_err(), "a heartbeat never ends by itself");
        assert_eq!(
            queue.extends.load(Ordering::SeqCst),
            10,
            "every 10 s for 100 s"
        );
    }
}
