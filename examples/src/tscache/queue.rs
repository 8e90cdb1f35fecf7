//! The work queue between the schedule and the fetch workers: the seam where the original used
//! SQS. A small trait with an in-process bounded queue (the default) and an SQS backend (so fetch
//! workers can run in many processes). Both: batches of at most 10, receive hides a message until
//! it is deleted or released, a message received too often moves to the dead-letter queue.

use std::collections::{HashMap, VecDeque};
use std::fmt::Debug;
use std::sync::Mutex;

use async_trait::async_trait;
use tokio::sync::Notify;

use super::CacheError;

/// A work queue.
#[async_trait]
pub trait WorkQueue: Send + Sync + Debug + 'static {
    /// Sends at most [`MAX_BATCH`] messages.
    async fn send_batch(&self, bodies: &[String]) -> Result<(), CacheError>;
    /// Takes the next ready message, or `None` when none is ready.
    async fn receive(&self) -> Result<Option<Message>, CacheError>;
    /// Deletes a message whose work is done (its points are durable).
    async fn delete(&self, message: &Message) -> Result<(), CacheError>;
    /// Makes a failed message visible again for another try.
    async fn release(&self, message: &Message) -> Result<(), CacheError>;
    /// Whether no message is ready or in flight.
    async fn is_empty(&self) -> Result<bool, CacheError>;
    /// The bodies in the dead-letter queue.
    async fn dead_letters(&self) -> Result<Vec<String>, CacheError>;
}

/// Most entries in one send (SQS's limit).
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
    in_flight: HashMap<u64, (String, u32)>,
    dead: Vec<String>,
    next_receipt: u64,
}

/// An in-process, bounded queue.
#[derive(Debug)]
pub struct MemoryQueue {
    state: Mutex<State>,
    capacity: usize,
    max_receives: u32,
    changed: Notify,
}

impl MemoryQueue {
    /// A queue holding at most `capacity` messages (ready and in flight); a message received
    /// `max_receives` times without being deleted goes to the dead-letter list.
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
        if bodies.len() > MAX_BATCH {
            return Err(CacheError::Storage(format!(
                "a batch holds at most {MAX_BATCH} messages, not {}",
                bodies.len()
            )));
        }
        loop {
            let notified = self.changed.notified();
            {
                let mut s = self.lock()?;
                if s.ready.len() + s.in_flight.len() + bodies.len() <= self.capacity {
                    s.ready.extend(bodies.iter().map(|b| (b.clone(), 0)));
                    drop(s);
                    self.changed.notify_waiters();
                    return Ok(());
                }
            }
            notified.await;
        }
    }

    /// Takes the next ready message, or `None` when none is ready.
    pub fn try_receive(&self) -> Result<Option<Message>, CacheError> {
        let mut s = self.lock()?;
        let Some((body, receives)) = s.ready.pop_front() else {
            return Ok(None);
        };
        let receipt = s.next_receipt;
        s.next_receipt += 1;
        s.in_flight.insert(receipt, (body.clone(), receives + 1));
        Ok(Some(Message {
            receipt: receipt.to_string(),
            body,
            receives: receives + 1,
        }))
    }

    /// Deletes a message whose work is done.
    pub fn delete_receipt(&self, receipt: &str) -> Result<(), CacheError> {
        let receipt: u64 = receipt
            .parse()
            .map_err(|_| CacheError::Storage(format!("bad receipt {receipt:?}")))?;
        self.lock()?.in_flight.remove(&receipt);
        self.changed.notify_waiters();
        Ok(())
    }

    /// Returns a message whose work failed: it is received again later, or moves to the
    /// dead-letter list once received `max_receives` times.
    pub fn release_receipt(&self, receipt: &str) -> Result<(), CacheError> {
        let receipt: u64 = receipt
            .parse()
            .map_err(|_| CacheError::Storage(format!("bad receipt {receipt:?}")))?;
        let mut s = self.lock()?;
        if let Some((body, receives)) = s.in_flight.remove(&receipt) {
            if receives >= self.max_receives {
                s.dead.push(body);
            } else {
                s.ready.push_back((body, receives));
            }
        }
        drop(s);
        self.changed.notify_waiters();
        Ok(())
    }

    /// Messages ready plus in flight.
    pub fn pending(&self) -> usize {
        self.lock()
            .map(|s| s.ready.len() + s.in_flight.len())
            .unwrap_or(0)
    }

    /// The bodies that failed `max_receives` times.
    pub fn dead_letters(&self) -> Vec<String> {
        self.lock().map(|s| s.dead.clone()).unwrap_or_default()
    }
}

#[async_trait]
impl WorkQueue for MemoryQueue {
    async fn send_batch(&self, bodies: &[String]) -> Result<(), CacheError> {
        self.send(bodies).await
    }
    async fn receive(&self) -> Result<Option<Message>, CacheError> {
        self.try_receive()
    }
    async fn delete(&self, message: &Message) -> Result<(), CacheError> {
        self.delete_receipt(&message.receipt)
    }
    async fn release(&self, message: &Message) -> Result<(), CacheError> {
        self.release_receipt(&message.receipt)
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

    #[tokio::test]
    async fn release_then_dead_letter() {
        let q = MemoryQueue::new(10, 2);
        q.send(&["a".into()]).await.unwrap();
        assert!(q.send(&vec!["x".to_owned(); 11]).await.is_err());
        let m = q.try_receive().unwrap().unwrap();
        assert_eq!(m.receives, 1);
        q.release_receipt(&m.receipt).unwrap();
        let m = q.try_receive().unwrap().unwrap();
        assert_eq!(m.receives, 2);
        q.release_receipt(&m.receipt).unwrap();
        assert_eq!(q.try_receive().unwrap(), None);
        assert_eq!(MemoryQueue::dead_letters(&q), vec!["a".to_owned()]);
        assert_eq!(q.pending(), 0);
    }
}
