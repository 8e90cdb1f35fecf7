//! The SQS backend of the [`WorkQueue`]: fetch workers in many processes or machines share one
//! queue; a message that keeps failing moves to a dead-letter queue through SQS's redrive policy.
//!
//! Receives long-poll (`WaitTimeSeconds` up to 20) for up to 10 messages; deletes go in
//! batches of up to 10; a message being worked on is kept hidden by a heartbeat
//! (`ChangeMessageVisibility`), and a failed one is released with a delay (its visibility set
//! to the delay). Entries of a `SendMessageBatch` or `DeleteMessageBatch` that fail are sent
//! again, through the data-source SDK's retry policy.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_sqs::types::{
    DeleteMessageBatchRequestEntry, MessageSystemAttributeName, QueueAttributeName,
    SendMessageBatchRequestEntry,
};
use datasource_sdk::RetryPolicy;

use super::queue::{MAX_BATCH, Message, WorkQueue, check_batch};
use super::{CacheError, aws_error};

/// Longest long poll SQS allows.
pub const MAX_WAIT: Duration = Duration::from_secs(20);
/// Longest visibility timeout SQS allows (12 hours).
pub const MAX_VISIBILITY: Duration = Duration::from_secs(12 * 3600);

/// One entry of a batch request that failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchFailure {
    /// The entry's id in the request.
    pub id: String,
    /// SQS's code and message.
    pub reason: String,
    /// Whether SQS blames the request (resending it unchanged will fail again).
    pub sender_fault: bool,
}

/// The operations the queue needs from SQS: the real client, or a fake in tests (to show what an
/// emulator cannot, such as a partly failed batch).
#[async_trait]
pub trait SqsApi: Send + Sync + std::fmt::Debug + 'static {
    /// `SendMessageBatch`: `(id, body)` entries; returns the entries that failed.
    async fn send_batch(
        &self,
        url: &str,
        entries: &[(String, String)],
    ) -> Result<Vec<BatchFailure>, CacheError>;
    /// `DeleteMessageBatch`: `(id, receipt)` entries; returns the entries that failed.
    async fn delete_batch(
        &self,
        url: &str,
        entries: &[(String, String)],
    ) -> Result<Vec<BatchFailure>, CacheError>;
}

#[async_trait]
impl SqsApi for aws_sdk_sqs::Client {
    async fn send_batch(
        &self,
        url: &str,
        entries: &[(String, String)],
    ) -> Result<Vec<BatchFailure>, CacheError> {
        let entries = entries
            .iter()
            .map(|(id, body)| {
                SendMessageBatchRequestEntry::builder()
                    .id(id)
                    .message_body(body)
                    .build()
                    .map_err(|e| CacheError::Storage(format!("SQS entry: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let out = self
            .send_message_batch()
            .queue_url(url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| aws_error("SQS SendMessageBatch", e))?;
        Ok(out
            .failed()
            .iter()
            .map(|f| BatchFailure {
                id: f.id().to_owned(),
                reason: format!("{}: {}", f.code(), f.message().unwrap_or_default()),
                sender_fault: f.sender_fault(),
            })
            .collect())
    }

    async fn delete_batch(
        &self,
        url: &str,
        entries: &[(String, String)],
    ) -> Result<Vec<BatchFailure>, CacheError> {
        let entries = entries
            .iter()
            .map(|(id, receipt)| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(id)
                    .receipt_handle(receipt)
                    .build()
                    .map_err(|e| CacheError::Storage(format!("SQS entry: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let out = self
            .delete_message_batch()
            .queue_url(url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| aws_error("SQS DeleteMessageBatch", e))?;
        Ok(out
            .failed()
            .iter()
            .map(|f| BatchFailure {
                id: f.id().to_owned(),
                reason: format!("{}: {}", f.code(), f.message().unwrap_or_default()),
                sender_fault: f.sender_fault(),
            })
            .collect())
    }
}

/// Requests this queue made to SQS, by kind (each attempt counts).
#[derive(Debug, Default)]
pub struct SqsRequests {
    /// `SendMessageBatch`.
    pub send: AtomicU64,
    /// `ReceiveMessage` on the work queue.
    pub receive: AtomicU64,
    /// `DeleteMessageBatch`.
    pub delete: AtomicU64,
    /// `ChangeMessageVisibility` (heartbeats and releases).
    pub visibility: AtomicU64,
    /// `GetQueueAttributes` and requests on the dead-letter queue.
    pub other: AtomicU64,
}

impl SqsRequests {
    /// All requests.
    pub fn total(&self) -> u64 {
        [
            &self.send,
            &self.receive,
            &self.delete,
            &self.visibility,
            &self.other,
        ]
        .iter()
        .map(|c| c.load(Ordering::Relaxed))
        .sum()
    }
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// A work queue on SQS, with its dead-letter queue.
#[derive(Debug, Clone)]
pub struct SqsQueue {
    requests: std::sync::Arc<SqsRequests>,
    client: aws_sdk_sqs::Client,
    batches: std::sync::Arc<dyn SqsApi>,
    url: String,
    dead_url: String,
    visibility: Duration,
    max_receives: u32,
    /// Retries of failed batch entries.
    pub retry: RetryPolicy,
}

/// Whole seconds for SQS, at least `min`, at most `max`.
fn secs(d: Duration, min: u64, max: Duration) -> i32 {
    i32::try_from(d.as_secs().clamp(min, max.as_secs())).unwrap_or(i32::MAX)
}

impl SqsQueue {
    /// Creates (or opens) queue `name` and its dead-letter queue `name-dlq`; a message received
    /// `max_receives` times without being deleted moves to the dead-letter queue. Received
    /// messages stay hidden for `visibility` (at least 1 s) unless the heartbeat extends it.
    pub async fn create(
        client: aws_sdk_sqs::Client,
        name: &str,
        max_receives: u32,
        visibility: Duration,
    ) -> Result<Self, CacheError> {
        let dead = client
            .create_queue()
            .queue_name(format!("{name}-dlq"))
            .send()
            .await
            .map_err(|e| aws_error("SQS CreateQueue", e))?;
        let dead_url = dead.queue_url().unwrap_or_default().to_owned();
        let attrs = client
            .get_queue_attributes()
            .queue_url(&dead_url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .map_err(|e| aws_error("SQS GetQueueAttributes", e))?;
        let arn = attrs
            .attributes()
            .and_then(|a| a.get(&QueueAttributeName::QueueArn))
            .cloned()
            .unwrap_or_default();
        let max_receives = max_receives.max(1);
        let redrive =
            serde_json::json!({"deadLetterTargetArn": arn, "maxReceiveCount": max_receives})
                .to_string();
        let visibility =
            Duration::from_secs(visibility.as_secs().clamp(1, MAX_VISIBILITY.as_secs()));
        let queue = client
            .create_queue()
            .queue_name(name)
            .attributes(QueueAttributeName::RedrivePolicy, redrive)
            .attributes(
                QueueAttributeName::VisibilityTimeout,
                visibility.as_secs().to_string(),
            )
            .send()
            .await
            .map_err(|e| aws_error("SQS CreateQueue", e))?;
        let url = queue.queue_url().unwrap_or_default().to_owned();
        Ok(Self {
            requests: std::sync::Arc::default(),
            batches: std::sync::Arc::new(client.clone()),
            client,
            url,
            dead_url,
            visibility,
            max_receives,
            retry: RetryPolicy::default(),
        })
    }

    /// Sends batch requests through `api` instead of the client (a fake in tests).
    pub fn with_batch_api(mut self, api: std::sync::Arc<dyn SqsApi>) -> Self {
        self.batches = api;
        self
    }

    /// The requests made so far (shared by clones).
    pub fn requests(&self) -> &SqsRequests {
        &self.requests
    }

    /// The queue URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    async fn count(&self, url: &str) -> Result<u64, CacheError> {
        bump(&self.requests.other);
        let out = self
            .client
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesDelayed)
            .send()
            .await
            .map_err(|e| aws_error("SQS GetQueueAttributes", e))?;
        let n = |k: &QueueAttributeName| -> u64 {
            out.attributes()
                .and_then(|a| a.get(k))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        Ok(n(&QueueAttributeName::ApproximateNumberOfMessages)
            + n(&QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            + n(&QueueAttributeName::ApproximateNumberOfMessagesDelayed))
    }

    /// Runs a batch request until every entry went through: the entries that failed on the
    /// server's side (and whole requests that failed retryably) are sent again, with the delays
    /// of the retry policy's backoff. An entry refused as the sender's fault is not resent.
    async fn batch_until_done(
        &self,
        op: BatchOp,
        entries: Vec<(String, String)>,
    ) -> Result<(), CacheError> {
        let mut left = entries;
        let mut delays = self.retry.backoff();
        loop {
            let call = async {
                match op {
                    BatchOp::Send => {
                        bump(&self.requests.send);
                        self.batches.send_batch(&self.url, &left).await
                    }
                    BatchOp::Delete => {
                        bump(&self.requests.delete);
                        self.batches.delete_batch(&self.url, &left).await
                    }
                }
            };
            let err = match tokio::time::timeout(self.retry.attempt_timeout, call).await {
                Ok(Ok(failed)) => {
                    if let Some(f) = failed.iter().find(|f| f.sender_fault) {
                        return Err(CacheError::Storage(format!(
                            "SQS {op:?}: entry refused: {}",
                            f.reason
                        )));
                    }
                    left.retain(|(id, _)| failed.iter().any(|f| &f.id == id));
                    if left.is_empty() {
                        return Ok(());
                    }
                    CacheError::Unavailable(format!(
                        "SQS {op:?}: {} entries failed: {}",
                        failed.len(),
                        failed
                            .first()
                            .map(|f| f.reason.as_str())
                            .unwrap_or_default()
                    ))
                }
                Ok(Err(e)) if e.is_retryable() => e,
                Ok(Err(e)) => return Err(e),
                Err(_) => CacheError::Unavailable(format!(
                    "SQS {op:?}: no answer within {:?}",
                    self.retry.attempt_timeout
                )),
            };
            match delays.next() {
                Some(delay) => {
                    tracing::warn!("{err}; {} entries again in {delay:?}", left.len());
                    tokio::time::sleep(delay).await;
                }
                None => return Err(err),
            }
        }
    }
}

/// Which batch request.
#[derive(Debug, Clone, Copy)]
enum BatchOp {
    /// `SendMessageBatch`.
    Send,
    /// `DeleteMessageBatch`.
    Delete,
}

#[async_trait]
impl WorkQueue for SqsQueue {
    async fn send_batch(&self, bodies: &[String]) -> Result<(), CacheError> {
        check_batch(bodies.len())?;
        if bodies.is_empty() {
            return Ok(());
        }
        let entries = bodies
            .iter()
            .enumerate()
            .map(|(i, b)| (i.to_string(), b.clone()))
            .collect();
        self.batch_until_done(BatchOp::Send, entries).await
    }

    async fn receive(&self, max: usize, wait: Duration) -> Result<Vec<Message>, CacheError> {
        let max = i32::try_from(max.clamp(1, MAX_BATCH)).unwrap_or(1);
        bump(&self.requests.receive);
        let out = self
            .client
            .receive_message()
            .queue_url(&self.url)
            .max_number_of_messages(max)
            .wait_time_seconds(secs(wait, 0, MAX_WAIT))
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send()
            .await
            .map_err(|e| aws_error("SQS ReceiveMessage", e))?;
        Ok(out
            .messages()
            .iter()
            .map(|m| Message {
                receipt: m.receipt_handle().unwrap_or_default().to_owned(),
                body: m.body().unwrap_or_default().to_owned(),
                receives: m
                    .attributes()
                    .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(1),
            })
            .collect())
    }

    async fn delete(&self, messages: &[Message]) -> Result<(), CacheError> {
        check_batch(messages.len())?;
        if messages.is_empty() {
            return Ok(());
        }
        let entries = messages
            .iter()
            .enumerate()
            .map(|(i, m)| (i.to_string(), m.receipt.clone()))
            .collect();
        self.batch_until_done(BatchOp::Delete, entries).await
    }

    async fn release(&self, message: &Message, delay: Duration) -> Result<(), CacheError> {
        bump(&self.requests.visibility);
        self.client
            .change_message_visibility()
            .queue_url(&self.url)
            .receipt_handle(&message.receipt)
            .visibility_timeout(secs(delay, 0, MAX_VISIBILITY))
            .send()
            .await
            .map_err(|e| aws_error("SQS ChangeMessageVisibility", e))?;
        Ok(())
    }

    async fn extend(&self, message: &Message, visibility: Duration) -> Result<(), CacheError> {
        bump(&self.requests.visibility);
        self.client
            .change_message_visibility()
            .queue_url(&self.url)
            .receipt_handle(&message.receipt)
            .visibility_timeout(secs(visibility, 1, MAX_VISIBILITY))
            .send()
            .await
            .map_err(|e| aws_error("SQS ChangeMessageVisibility", e))?;
        Ok(())
    }

    fn visibility_timeout(&self) -> Option<Duration> {
        Some(self.visibility)
    }

    fn max_receives(&self) -> u32 {
        self.max_receives
    }

    async fn is_empty(&self) -> Result<bool, CacheError> {
        Ok(self.count(&self.url).await? == 0)
    }

    async fn dead_letters(&self) -> Result<Vec<String>, CacheError> {
        // Peek: receive with a zero visibility timeout, so the messages stay for an operator.
        bump(&self.requests.other);
        let out = self
            .client
            .receive_message()
            .queue_url(&self.dead_url)
            .max_number_of_messages(10)
            .visibility_timeout(0)
            .wait_time_seconds(0)
            .send()
            .await
            .map_err(|e| aws_error("SQS ReceiveMessage", e))?;
        Ok(out
            .messages()
            .iter()
            .filter_map(|m| m.body().map(str::to_owned))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    /// Fails the entries whose body or receipt is in `flaky` on their first request.
    #[derive(Debug, Default)]
    struct PartlyFailing {
        flaky: Vec<String>,
        refused: Vec<String>,
        requests: Mutex<Vec<Vec<String>>>,
    }

    impl PartlyFailing {
        fn answer(&self, entries: &[(String, String)]) -> Vec<BatchFailure> {
            let mut requests = self.requests.lock().unwrap();
            let first = requests.is_empty();
            requests.push(entries.iter().map(|(_, b)| b.clone()).collect());
            entries
                .iter()
                .filter(|(_, b)| (first && self.flaky.contains(b)) || self.refused.contains(b))
                .map(|(id, b)| BatchFailure {
                    id: id.clone(),
                    reason: format!("InternalError: {b}"),
                    sender_fault: self.refused.contains(b),
                })
                .collect()
        }
    }

    #[async_trait]
    impl SqsApi for PartlyFailing {
        async fn send_batch(
            &self,
            _url: &str,
            entries: &[(String, String)],
        ) -> Result<Vec<BatchFailure>, CacheError> {
            Ok(self.answer(entries))
        }
        async fn delete_batch(
            &self,
            _url: &str,
            entries: &[(String, String)],
        ) -> Result<Vec<BatchFailure>, CacheError> {
            Ok(self.answer(entries))
        }
    }

    fn queue(api: std::sync::Arc<PartlyFailing>) -> SqsQueue {
        let conf = aws_sdk_sqs::Config::builder()
            .behavior_version(aws_sdk_sqs::config::BehaviorVersion::latest())
            .region(aws_sdk_sqs::config::Region::new("us-east-1"))
            .build();
        SqsQueue {
            requests: std::sync::Arc::default(),
            client: aws_sdk_sqs::Client::from_conf(conf),
            batches: api,
            url: "http://unused/queue".into(),
            dead_url: "http://unused/dlq".into(),
            visibility: Duration::from_secs(30),
            max_receives: 3,
            retry: RetryPolicy::with_attempts(5),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn only_the_failed_entries_of_a_batch_are_sent_again() {
        let api = std::sync::Arc::new(PartlyFailing {
            flaky: vec!["b".into(), "d".into()],
            ..PartlyFailing::default()
        });
        let q = queue(api.clone());
        let bodies: Vec<String> = ["a", "b", "c", "d"].map(String::from).to_vec();
        q.send_batch(&bodies).await.unwrap();
        let requests = api.requests.lock().unwrap().clone();
        assert_eq!(requests, vec![bodies.clone(), vec!["b".into(), "d".into()]]);

        let api = std::sync::Arc::new(PartlyFailing {
            flaky: vec!["r2".into()],
            ..PartlyFailing::default()
        });
        let q = queue(api.clone());
        let messages: Vec<Message> = (1..=3)
            .map(|i| Message {
                receipt: format!("r{i}"),
                body: format!("m{i}"),
                receives: 1,
            })
            .collect();
        q.delete(&messages).await.unwrap();
        let requests = api.requests.lock().unwrap().clone();
        assert_eq!(requests.len(), 2);
        assert_eq!(requests[1], vec!["r2".to_owned()]);
        assert_eq!(q.requests().delete.load(Ordering::Relaxed), 2);
        assert_eq!(q.requests().total(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn entries_refused_as_the_senders_fault_are_an_error_not_a_loop() {
        let api = std::sync::Arc::new(PartlyFailing {
            refused: vec!["bad".into()],
            ..PartlyFailing::default()
        });
        let q = queue(api.clone());
        let err = q
            .send_batch(&["ok".to_owned(), "bad".to_owned()])
            .await
            .unwrap_err();
        assert!(matches!(err, CacheError::Storage(_)), "{err}");
        assert_eq!(api.requests.lock().unwrap().len(), 1);
    }
}
