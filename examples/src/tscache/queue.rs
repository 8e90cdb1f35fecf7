//! The work queue between the schedule and the fetch workers: an in-process bounded queue with
//! SQS-like semantics (batches of at most 10, receive hides a message until it is deleted or
//! released, a message received too often moves to the dead-letter list).

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use tokio::sync::Notify;

use super::CacheError;

/// Most entries in one send (SQS's limit).
pub const MAX_BATCH: usize = 10;

/// A received message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Handle for [`MemoryQueue::delete`] and [`MemoryQueue::release`].
    pub receipt: u64,
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
    pub async fn send_batch(&self, bodies: &[String]) -> Result<(), CacheError> {
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
            receipt,
            body,
            receives: receives + 1,
        }))
    }

    /// Deletes a message whose work is done.
    pub fn delete(&self, receipt: u64) -> Result<(), CacheError> {
        self.lock()?.in_flight.remove(&receipt);
        self.changed.notify_waiters();
        Ok(())
    }

    /// Returns a message whose work failed: it is received again later, or moves to the
    /// dead-letter list once received `max_receives` times.
    pub fn release(&self, receipt: u64) -> Result<(), CacheError> {
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
    pub fn len(&self) -> usize {
        self.lock()
            .map(|s| s.ready.len() + s.in_flight.len())
            .unwrap_or(0)
    }

    /// Whether nothing is ready or in flight.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bodies that failed `max_receives` times.
    pub fn dead_letters(&self) -> Vec<String> {
        self.lock().map(|s| s.dead.clone()).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn release_then_dead_letter() {
        let q = MemoryQueue::new(10, 2);
        q.send_batch(&["a".into()]).await.unwrap();
        assert!(q.send_batch(&vec!["x".to_owned(); 11]).await.is_err());
        let m = q.try_receive().unwrap().unwrap();
        assert_eq!(m.receives, 1);
        q.release(m.receipt).unwrap();
        let m = q.try_receive().unwrap().unwrap();
        assert_eq!(m.receives, 2);
        q.release(m.receipt).unwrap();
        assert_eq!(q.try_receive().unwrap(), None);
        assert_eq!(q.dead_letters(), vec!["a".to_owned()]);
        assert!(q.is_empty());
    }
}
