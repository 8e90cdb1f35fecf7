//! The work queue between the schedule and the fetch workers: the seam where the original used
//! SQS. A small trait with an in-process bounded queue (the default) and an SQS backend (so fetch
//! workers can run in many processes). Both: batches of at most 10, receive hides a message until
//! it is deleted or released, a released message comes back after a delay, a message received
//! too often moves to the dead-letter queue.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt::Debug;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::Notify;
use tokio::time::Instant;

use super::CacheError;

/// A work queue.
#[async_trait]
pub trait WorkQueue: Send + Sync + Debug + 'static {
    /// Sends at most [`MAX_BATCH`] messages; waits while a bounded queue is full (backpressure).
    async fn send_batch(&self, bodies: &[String]) -> Result<(), CacheError>;
    /// Takes up to `max` (at most [`MAX_BATCH`]) ready messages, waiting up to `wait` for the
    /// first one; an empty answer means none was ready in that time.
    async fn receive(&self, max: usize, wait: Duration) -> Result<Vec<Message>, CacheError>;
    /// Deletes messages (at most [`MAX_BATCH`]) whose work is done (their points are durable).
    async fn delete(&self, messages: &[Message]) -> Result<(), CacheError>;
    /// Makes a failed message visible again after `delay`, for another try.
    async fn release(&self, message: &Message, delay: Duration) -> Result<(), CacheError>;
    /// Keeps a message that is being worked on hidden for `visibility` from now (a heartbeat).
    async fn extend(&self, message: &Message, visibility: Duration) -> Result<(), CacheError>;
    /// How long a received message stays hidden without a heartbeat (`None`: until deleted or
    /// released).
    fn visibility_timeout(&self) -> Option<Duration>;
    /// After how many receives a message that is released moves to the dead-letter queue.
    fn max_receives(&self) -> u32;
    /// Whether no message is ready, delayed or in flight.
    async fn is_empty(&self) -> Result<bool, CacheError>;
    /// The bodies in the dead-letter queue.
    async fn dead_letters(&self) -> Result<Vec<String>, CacheError>;
}

/// Most entries in one send, receive or delete (SQS's limit).
pub const MAX_BATCH: usize = 10;

/// A received message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The receipt handle for [`WorkQueue::delete`] and [`WorkQueue::release`].
    pub receipt: String,
    /// The body (an identifier).
    pub body: String,
    /// How many times it has been received, this time included.
    pub receives: u32,
}

#[derive(Debug, Default)]
struct State {
    ready: VecDeque<(String, u32)>,
    /// Released messages by the instant they are visible again (and a sequence number).
    delayed: BTreeMap<(Instant, u64), (String, u32)>,
    in_flight: HashMap<u64, (String, u32)>,
    dead: Vec<String>,
    next_receipt: u64,
    high_water: usize,
}

impl State {
    fn pending(&self) -> usize {
        self.ready.len() + self.delayed.len() + self.in_flight.len()
    }

    /// Moves the released messages whose delay is over to the ready list.
    fn promote(&mut self, now: Instant) {
        while let Some(entry) = self.delayed.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let (body, receives) = entry.remove();
            self.ready.push_back((body, receives));
        }
    }
}

/// An in-process, bounded queue. Received messages stay hidden until deleted or released (the
/// workers are in this process, so there is no visibility timeout to keep alive).
#[derive(Debug)]
pub struct MemoryQueue {
    state: Mutex<State>,
    capacity: usize,
    max_receives: u32,
    changed: Notify,
}

impl MemoryQueue {
    /// A queue holding at most `capacity` messages (ready, delayed and in flight; at least
    /// [`MAX_BATCH`]); a message received `max_receives` times without being deleted goes to the
    /// dead-letter list when released.
    pub fn new(capacity: usize, max_receives: u32) -> Self {
        Self {
            state: Mutex::new(State::default()),
            capacity: capacity.max(MAX_BATCH),
            max_receives: max_receives.max(1),
            changed: Notify::new(),
        }
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, State>, CacheError> {
        self.state
            .lock()
            .map_err(|_| CacheError::Storage("queue lock poisoned".into()))
    }

    /// Sends at most [`MAX_BATCH`] messages, waiting while the queue is full.
    pub async fn send(&self, bodies: &[String]) -> Result<(), CacheError> {
        check_batch(bodies.len())?;
        loop {
            let notified = self.changed.notified();
            {
                let mut s = self.lock()?;
                if s.pending() + bodies.len() <= self.capacity {
                    s.ready.extend(bodies.iter().map(|b| (b.clone(), 0)));
                    s.high_water = s.high_water.max(s.pending());
                    drop(s);
                    self.changed.notify_waiters();
                    return Ok(());
                }
            }
            notified.await;
        }
    }

    /// Takes up to `max` ready messages without waiting.
    pub fn try_receive(&self, max: usize) -> Result<Vec<Message>, CacheError> {
        let mut s = self.lock()?;
        s.promote(Instant::now());
        let mut out = Vec::new();
        while out.len() < max.min(MAX_BATCH) {
            let Some((body, receives)) = s.ready.pop_front() else {
                break;
            };
            let receipt = s.next_receipt;
            s.next_receipt += 1;
            let receives = receives.saturating_add(1);
            s.in_flight.insert(receipt, (body.clone(), receives));
            out.push(Message {
                receipt: receipt.to_string(),
                body,
                receives,
            });
        }
        Ok(out)
    }

    /// Deletes a message whose work is done.
    pub fn delete_receipt(&self, receipt: &str) -> Result<(), CacheError> {
        let receipt = parse_receipt(receipt)?;
        self.lock()?.in_flight.remove(&receipt);
        self.changed.notify_waiters();
        Ok(())
    }

    /// Returns a message whose work failed: it is ready again after `delay`, or moves to the
    /// dead-letter list once received `max_receives` times.
    pub fn release_receipt(&self, receipt: &str, delay: Duration) -> Result<(), CacheError> {
        let receipt = parse_receipt(receipt)?;
        let mut s = self.lock()?;
        if let Some((body, receives)) = s.in_flight.remove(&receipt) {
            if receives >= self.max_receives {
                s.dead.push(body);
            } else if delay.is_zero() {
                s.ready.push_back((body, receives));
            } else {
                let at = Instant::now() + delay;
                s.delayed.insert((at, receipt), (body, receives));
            }
        }
        drop(s);
        self.changed.notify_waiters();
        Ok(())
    }

    /// Messages ready, delayed and in flight.
    pub fn pending(&self) -> usize {
        self.lock().map(|s| s.pending()).unwrap_or(0)
    }

    /// The most messages the queue has held at once.
    pub fn high_water(&self) -> usize {
        self.lock().map(|s| s.high_water).unwrap_or(0)
    }

    /// The bodies that failed `max_receives` times.
    pub fn dead_letters(&self) -> Vec<String> {
        self.lock().map(|s| s.dead.clone()).unwrap_or_default()
    }
}

fn parse_receipt(receipt: &str) -> Result<u64, CacheError> {
    receipt
        .parse()
        .map_err(|_| CacheError::Storage(format!("bad receipt {receipt:?}")))
}

/// Refuses a batch of more than [`MAX_BATCH`] entries.
pub(crate) fn check_batch(len: usize) -> Result<(), CacheError> {
    if len > MAX_BATCH {
        return Err(CacheError::Storage(format!(
            "a batch holds at most {MAX_BATCH} messages, not {len}"
        )));
    }
    Ok(())
}

#[async_trait]
impl WorkQueue for MemoryQueue {
    async fn send_batch(&self, bodies: &[String]) -> Result<(), CacheError> {
        self.send(bodies).await
    }

    /// Returns at once when messages are ready, or when the queue holds nothing at all (nothing
    /// to wait for); otherwise waits until one is ready or `wait` has passed.
    async fn receive(&self, max: usize, wait: Duration) -> Result<Vec<Message>, CacheError> {
        let deadline = Instant::now() + wait;
        loop {
            let notified = self.changed.notified();
            let got = self.try_receive(max)?;
            if !got.is_empty() {
                return Ok(got);
            }
            let (empty, next_due) = {
                let s = self.lock()?;
                (s.pending() == 0, s.delayed.keys().next().map(|k| k.0))
            };
            if empty || Instant::now() >= deadline {
                return Ok(Vec::new());
            }
            let until = next_due.map_or(deadline, |due| due.min(deadline));
            let _ = tokio::time::timeout_at(until, notified).await;
        }
    }

    async fn delete(&self, messages: &[Message]) -> Result<(), CacheError> {
        check_batch(messages.len())?;
        for m in messages {
            self.delete_receipt(&m.receipt)?;
        }
        Ok(())
    }

    async fn release(&self, message: &Message, delay: Duration) -> Result<(), CacheError> {
        self.release_receipt(&message.receipt, delay)
    }

    async fn extend(&self, _message: &Message, _visibility: Duration) -> Result<(), CacheError> {
        Ok(())
    }

    fn visibility_timeout(&self) -> Option<Duration> {
        None
    }

    fn max_receives(&self) -> u32 {
        self.max_receives
    }

    async fn is_empty(&self) -> Result<bool, CacheError> {
        Ok(self.pending() == 0)
    }

    async fn dead_letters(&self) -> Result<Vec<String>, CacheError> {
        Ok(MemoryQueue::dead_letters(self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn release_with_delay_then_dead_letter() {
        let q = MemoryQueue::new(10, 2);
        q.send(&["a".into()]).await.unwrap();
        assert!(q.send(&vec!["x".to_owned(); 11]).await.is_err());
        let m = q.receive(10, Duration::ZERO).await.unwrap();
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].receives, 1);
        q.release_receipt(&m[0].receipt, Duration::from_secs(30))
            .unwrap();
        // Hidden during the delay, ready after it.
        assert!(q.try_receive(10).unwrap().is_empty());
        let started = Instant::now();
        let m = q.receive(10, Duration::from_secs(60)).await.unwrap();
        assert_eq!(started.elapsed(), Duration::from_secs(30));
        assert_eq!(m[0].receives, 2);
        q.release_receipt(&m[0].receipt, Duration::ZERO).unwrap();
        assert!(q.try_receive(10).unwrap().is_empty());
        assert_eq!(MemoryQueue::dead_letters(&q), vec!["a".to_owned()]);
        assert_eq!(q.pending(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_full_queue_makes_the_sender_wait() {
        let q = std::sync::Arc::new(MemoryQueue::new(10, 3));
        q.send(&vec!["a".to_owned(); 10]).await.unwrap();
        let sender = {
            let q = q.clone();
            tokio::spawn(async move { q.send(&["b".to_owned()]).await })
        };
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert!(!sender.is_finished(), "waits while full");
        let got = q.receive(3, Duration::ZERO).await.unwrap();
        assert_eq!(got.len(), 3);
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert!(!sender.is_finished(), "in flight messages count");
        q.delete(&got).await.unwrap();
        sender.await.unwrap().unwrap();
        assert_eq!(q.pending(), 8);
        assert_eq!(q.high_water(), 10);
    }

    #[tokio::test(start_paused = true)]
    async fn receive_waits_for_a_send_and_not_on_an_empty_queue() {
        let q = std::sync::Arc::new(MemoryQueue::new(10, 3));
        let started = Instant::now();
        assert!(
            q.receive(10, Duration::from_secs(20))
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(started.elapsed(), Duration::ZERO, "nothing to wait for");
        q.send(&["a".to_owned()]).await.unwrap();
        let held = q.receive(10, Duration::ZERO).await.unwrap();
        let waiter = {
            let q = q.clone();
            tokio::spawn(async move { q.receive(10, Duration::from_secs(20)).await })
        };
        tokio::time::sleep(Duration::from_secs(2)).await;
        q.send(&["b".to_owned()]).await.unwrap();
        let got = waiter.await.unwrap().unwrap();
        assert_eq!(got[0].body, "b");
        assert_eq!(started.elapsed(), Duration::from_secs(2));
        q.delete(&held).await.unwrap();
    }
}
