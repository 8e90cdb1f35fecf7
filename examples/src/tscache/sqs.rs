//! The SQS backend of the [`WorkQueue`]: fetch workers in many processes or machines share one
//! queue; a message that keeps failing moves to a dead-letter queue through SQS's redrive policy.

use async_trait::async_trait;
use aws_sdk_sqs::types::{
    MessageSystemAttributeName, QueueAttributeName, SendMessageBatchRequestEntry,
};

use super::CacheError;
use super::queue::{MAX_BATCH, Message, WorkQueue};

/// A work queue on SQS, with its dead-letter queue.
#[derive(Debug, Clone)]
pub struct SqsQueue {
    client: aws_sdk_sqs::Client,
    url: String,
    dead_url: String,
}

fn err<E: std::fmt::Debug>(what: &'static str) -> impl FnOnce(E) -> CacheError {
    move |e| CacheError::Storage(format!("SQS {what}: {e:?}"))
}

impl SqsQueue {
    /// Creates (or opens) queue `name` and its dead-letter queue `name-dlq`; a message received
    /// `max_receives` times without being deleted moves to the dead-letter queue.
    pub async fn create(
        client: aws_sdk_sqs::Client,
        name: &str,
        max_receives: u32,
    ) -> Result<Self, CacheError> {
        let dead = client
            .create_queue()
            .queue_name(format!("{name}-dlq"))
            .send()
            .await
            .map_err(err("CreateQueue"))?;
        let dead_url = dead.queue_url().unwrap_or_default().to_owned();
        let attrs = client
            .get_queue_attributes()
            .queue_url(&dead_url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .map_err(err("GetQueueAttributes"))?;
        let arn = attrs
            .attributes()
            .and_then(|a| a.get(&QueueAttributeName::QueueArn))
            .cloned()
            .unwrap_or_default();
        let redrive =
            serde_json::json!({"deadLetterTargetArn": arn, "maxReceiveCount": max_receives.max(1)})
                .to_string();
        let queue = client
            .create_queue()
            .queue_name(name)
            .attributes(QueueAttributeName::RedrivePolicy, redrive)
            .attributes(QueueAttributeName::VisibilityTimeout, "300")
            .send()
            .await
            .map_err(err("CreateQueue"))?;
        let url = queue.queue_url().unwrap_or_default().to_owned();
        Ok(Self {
            client,
            url,
            dead_url,
        })
    }

    async fn count(&self, url: &str) -> Result<u64, CacheError> {
        let out = self
            .client
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
            .map_err(err("GetQueueAttributes"))?;
        let n = |k: &QueueAttributeName| -> u64 {
            out.attributes()
                .and_then(|a| a.get(k))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        Ok(n(&QueueAttributeName::ApproximateNumberOfMessages)
            + n(&QueueAttributeName::ApproximateNumberOfMessagesNotVisible))
    }
}

#[async_trait]
impl WorkQueue for SqsQueue {
    async fn send_batch(&self, bodies: &[String]) -> Result<(), CacheError> {
        if bodies.len() > MAX_BATCH {
            return Err(CacheError::Storage(format!(
                "a batch holds at most {MAX_BATCH} messages, not {}",
                bodies.len()
            )));
        }
        if bodies.is_empty() {
            return Ok(());
        }
        let entries = bodies
            .iter()
            .enumerate()
            .map(|(i, b)| {
                SendMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .message_body(b)
                    .build()
                    .map_err(err("entry"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let out = self
            .client
            .send_message_batch()
            .queue_url(&self.url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(err("SendMessageBatch"))?;
        if !out.failed().is_empty() {
            return Err(CacheError::Storage(format!(
                "SQS SendMessageBatch: {} entries failed: {:?}",
                out.failed().len(),
                out.failed()
            )));
        }
        Ok(())
    }

    async fn receive(&self) -> Result<Option<Message>, CacheError> {
        let out = self
            .client
            .receive_message()
            .queue_url(&self.url)
            .max_number_of_messages(1)
            .wait_time_seconds(0)
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send()
            .await
            .map_err(err("ReceiveMessage"))?;
        Ok(out.messages().first().map(|m| Message {
            receipt: m.receipt_handle().unwrap_or_default().to_owned(),
            body: m.body().unwrap_or_default().to_owned(),
            receives: m
                .attributes()
                .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
                .and_then(|v| v.parse().ok())
                .unwrap_or(1),
        }))
    }

    async fn delete(&self, message: &Message) -> Result<(), CacheError> {
        self.client
            .delete_message()
            .queue_url(&self.url)
            .receipt_handle(&message.receipt)
            .send()
            .await
            .map_err(err("DeleteMessage"))?;
        Ok(())
    }

    async fn release(&self, message: &Message) -> Result<(), CacheError> {
        self.client
            .change_message_visibility()
            .queue_url(&self.url)
            .receipt_handle(&message.receipt)
            .visibility_timeout(0)
            .send()
            .await
            .map_err(err("ChangeMessageVisibility"))?;
        Ok(())
    }

    async fn is_empty(&self) -> Result<bool, CacheError> {
        Ok(self.count(&self.url).await? == 0)
    }

    async fn dead_letters(&self) -> Result<Vec<String>, CacheError> {
        // Peek: receive with a zero visibility timeout, so the messages stay for an operator.
        let out = self
            .client
            .receive_message()
            .queue_url(&self.dead_url)
            .max_number_of_messages(10)
            .visibility_timeout(0)
            .wait_time_seconds(0)
            .send()
            .await
            .map_err(err("ReceiveMessage"))?;
        Ok(out
            .messages()
            .iter()
            .filter_map(|m| m.body().map(str::to_owned))
            .collect())
    }
}
