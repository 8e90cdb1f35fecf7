//! A sink writing records as DynamoDB items with `BatchWriteItem`, 25 at a time.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use serde_json::{Map, Number, Value};

use super::Sink;
use crate::{Batch, Error, Result, RetryPolicy};

/// Most items in one `BatchWriteItem` call (a DynamoDB limit).
pub const BATCH_WRITE_ITEMS: usize = 25;

/// Puts each record (a JSON object holding the table's key attributes) into the DynamoDB table
/// `PREFIX + batch table`, in calls of [`BATCH_WRITE_ITEMS`]. Items DynamoDB leaves in
/// `UnprocessedItems` are sent again with backoff; if some remain after the retries, the
/// delivery fails with a retryable [`Error::Throttled`] (puts are idempotent, so the writer
/// may redeliver the whole batch).
///
/// JSON maps to attribute values as: string → S, number → N, bool → BOOL, null → NULL,
/// array → L, object → M. Two records with the same key in one call are refused by DynamoDB.
#[derive(Debug, Clone)]
pub struct DynamoDbSink {
    client: Client,
    table_prefix: String,
    unprocessed_retry: RetryPolicy,
}

fn map_err<E>(e: SdkError<E, HttpResponse>) -> Error
where
    E: std::error::Error + ProvideErrorMetadata + Send + Sync + 'static,
{
    let message = DisplayErrorContext(&e).to_string();
    match &e {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            Error::Unavailable(message)
        }
        SdkError::ServiceError(ctx) => {
            let code = ctx.err().code().unwrap_or_default();
            let status = ctx.raw().status().as_u16();
            if code.contains("Throughput")
                || code.contains("Throttl")
                || code == "RequestLimitExceeded"
            {
                Error::Throttled(message)
            } else if status >= 500 {
                Error::Unavailable(message)
            } else if code == "ResourceNotFoundException" || code == "ValidationException" {
                Error::InvalidInput(message)
            } else if code.contains("Token") || code.contains("Signature") || status == 403 {
                Error::Unauthorized(message)
            } else {
                Error::Other(message)
            }
        }
        _ => Error::Other(message),
    }
}

/// A JSON value as a DynamoDB attribute value.
pub(crate) fn to_attribute(value: &Value) -> AttributeValue {
    match value {
        Value::Null => AttributeValue::Null(true),
        Value::Bool(b) => AttributeValue::Bool(*b),
        Value::Number(n) => AttributeValue::N(n.to_string()),
        Value::String(s) => AttributeValue::S(s.clone()),
        Value::Array(items) => AttributeValue::L(items.iter().map(to_attribute).collect()),
        Value::Object(map) => AttributeValue::M(
            map.iter()
                .map(|(k, v)| (k.clone(), to_attribute(v)))
                .collect(),
        ),
    }
}

/// A DynamoDB attribute value as JSON (sets become arrays, binary becomes base64 text).
pub(crate) fn to_json(value: &AttributeValue) -> Value {
    use base64::Engine;
    let b64 = |b: &aws_sdk_dynamodb::primitives::Blob| {
        Value::from(base64::engine::general_purpose::STANDARD.encode(b.as_ref()))
    };
    let number = |n: &str| {
        n.parse::<i64>()
            .map(Value::from)
            .ok()
            .or_else(|| n.parse::<u64>().ok().map(Value::from))
            .or_else(|| {
                n.parse::<f64>()
                    .ok()
                    .and_then(Number::from_f64)
                    .map(Value::Number)
            })
            .unwrap_or_else(|| Value::from(n))
    };
    match value {
        AttributeValue::S(s) => Value::from(s.clone()),
        AttributeValue::N(n) => number(n),
        AttributeValue::Bool(b) => Value::from(*b),
        AttributeValue::L(items) => Value::Array(items.iter().map(to_json).collect()),
        AttributeValue::M(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), to_json(v)))
                .collect::<Map<_, _>>(),
        ),
        AttributeValue::Ss(items) => Value::from(items.clone()),
        AttributeValue::Ns(items) => Value::Array(items.iter().map(|n| number(n)).collect()),
        AttributeValue::B(b) => b64(b),
        AttributeValue::Bs(items) => Value::Array(items.iter().map(b64).collect()),
        _ => Value::Null,
    }
}

impl DynamoDbSink {
    /// A sink writing into existing tables named `table_prefix + table`.
    pub fn new(client: Client, table_prefix: impl Into<String>) -> Self {
        Self {
            client,
            table_prefix: table_prefix.into(),
            unprocessed_retry: RetryPolicy {
                max_attempts: 8,
                initial_backoff: Duration::from_millis(50),
                max_backoff: Duration::from_secs(2),
                max_elapsed: Duration::from_secs(20),
                attempt_timeout: Duration::from_secs(30),
            },
        }
    }

    /// How `UnprocessedItems` are sent again (attempts, backoff, total time).
    pub fn with_unprocessed_retry(mut self, retry: RetryPolicy) -> Self {
        self.unprocessed_retry = retry;
        self
    }

    /// The DynamoDB table name for `table`.
    pub fn table_name(&self, table: &str) -> String {
        format!("{}{}", self.table_prefix, table)
    }

    /// Every item of the table for `table`, as JSON (scan order).
    pub async fn read_table(&self, table: &str) -> Result<Vec<Value>> {
        let name = self.table_name(table);
        let mut out = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .client
                .scan()
                .table_name(&name)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(map_err)?;
            for item in page.items() {
                out.push(Value::Object(
                    item.iter().map(|(k, v)| (k.clone(), to_json(v))).collect(),
                ));
            }
            start = page.last_evaluated_key().cloned();
            if start.is_none() {
                break;
            }
        }
        Ok(out)
    }

    async fn write_chunk(&self, table: &str, mut requests: Vec<WriteRequest>) -> Result<()> {
        let started = tokio::time::Instant::now();
        let mut attempt = 1;
        loop {
            let response = self
                .client
                .batch_write_item()
                .request_items(table, requests)
                .send()
                .await
                .map_err(map_err)?;
            let left: Vec<WriteRequest> = response
                .unprocessed_items
                .and_then(|mut m| m.remove(table))
                .unwrap_or_default();
            if left.is_empty() {
                return Ok(());
            }
            let Some(delay) = self
                .unprocessed_retry
                .next_delay(attempt, started.elapsed())
            else {
                return Err(Error::Throttled(format!(
                    "{} item(s) still unprocessed in {table} after {attempt} attempt(s)",
                    left.len()
                )));
            };
            tokio::time::sleep(delay).await;
            attempt += 1;
            requests = left;
        }
    }
}

#[async_trait]
impl Sink for DynamoDbSink {
    async fn deliver(&self, batch: &Batch) -> Result<()> {
        if batch.table().is_empty() {
            return Err(Error::InvalidInput("empty table name".into()));
        }
        let table = self.table_name(batch.table());
        let mut requests = Vec::with_capacity(batch.len());
        for record in batch.records() {
            let Value::Object(map) = serde_json::from_slice::<Value>(record)? else {
                return Err(Error::InvalidInput(
                    "a DynamoDB item must be a JSON object".into(),
                ));
            };
            let item: HashMap<String, AttributeValue> = map
                .iter()
                .map(|(k, v)| (k.clone(), to_attribute(v)))
                .collect();
            let put = PutRequest::builder()
                .set_item(Some(item))
                .build()
                .map_err(|e| Error::InvalidInput(e.to_string()))?;
            requests.push(WriteRequest::builder().put_request(put).build());
        }
        let mut requests = requests.into_iter().peekable();
        while requests.peek().is_some() {
            let chunk: Vec<WriteRequest> = requests.by_ref().take(BATCH_WRITE_ITEMS).collect();
            self.write_chunk(&table, chunk).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_round_trips_through_attribute_values() {
        let v = json!({"id": "a", "n": 3, "f": 1.5, "neg": -2, "ok": true, "none": null,
                       "list": [1, "x"], "map": {"k": "v"}});
        assert_eq!(to_json(&to_attribute(&v)), v);
    }
}
