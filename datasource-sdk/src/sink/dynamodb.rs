//! A sink writing records as DynamoDB items with `BatchWriteItem`, 25 at a time.

use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use futures::StreamExt;
use serde_json::{Map, Number, Value};

use super::Sink;
use crate::{Batch, Error, Result, RetryPolicy};

/// Most items in one `BatchWriteItem` call (a DynamoDB limit).
pub const BATCH_WRITE_ITEMS: usize = 25;

/// Puts each record (a JSON object holding the table's key attributes) into the DynamoDB table
/// `PREFIX + batch table`, in calls of `BATCH_WRITE_ITEMS` (25), at most
/// [`DynamoDbSink::with_concurrency`] calls at once (default 4). Items DynamoDB leaves in
/// `UnprocessedItems` are sent again with backoff and jitter; if some remain after the retries,
/// the delivery fails with a retryable [`Error::Throttled`] (puts are idempotent, so the writer
/// may redeliver the whole batch).
///
/// Records of one batch with the same key (read once per table with `DescribeTable`) are put
/// once, the last one winning, as DynamoDB refuses a call holding a key twice. A call DynamoDB
/// rejects as invalid is split in halves until the bad items are alone; they go to the sink's
/// dead-letter sink ([`DynamoDbSink::with_dead_letter`]) and every other item is written. With
/// no dead-letter sink the delivery fails with [`Error::InvalidInput`] after writing the others.
///
/// JSON maps to attribute values as: string → S, number → N, bool → BOOL, null → NULL,
/// array → L, object → M.
#[derive(Debug, Clone)]
pub struct DynamoDbSink {
    client: Client,
    table_prefix: String,
    unprocessed_retry: RetryPolicy,
    concurrency: NonZeroUsize,
    dead_letter: Option<Arc<dyn Sink>>,
    key_names: Arc<Mutex<HashMap<String, Arc<[String]>>>>,
}

/// One record to put: the request and the record it came from.
struct Put {
    request: WriteRequest,
    record: Vec<u8>,
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
                max_attempts: std::num::NonZeroU32::new(8).unwrap_or(std::num::NonZeroU32::MIN),
                initial_backoff: Duration::from_millis(50),
                max_backoff: Duration::from_secs(2),
                max_elapsed: Duration::from_secs(20),
                attempt_timeout: Duration::from_secs(30),
            },
            concurrency: NonZeroUsize::new(4).unwrap_or(NonZeroUsize::MIN),
            dead_letter: None,
            key_names: Arc::default(),
        }
    }

    /// Most `BatchWriteItem` calls of one delivery in flight at once.
    pub fn with_concurrency(mut self, concurrency: NonZeroUsize) -> Self {
        self.concurrency = concurrency;
        self
    }

    /// Where items DynamoDB rejects as invalid go (as a batch with the same id and table).
    pub fn with_dead_letter(mut self, sink: impl Sink) -> Self {
        self.dead_letter = Some(Arc::new(sink));
        self
    }

    /// The key attribute names of `table`, asked once.
    async fn keys_of(&self, table: &str) -> Result<Arc<[String]>> {
        if let Some(keys) = self
            .key_names
            .lock()
            .map_err(|_| Error::Other("key cache lock poisoned".into()))?
            .get(table)
        {
            return Ok(Arc::clone(keys));
        }
        let described = self
            .client
            .describe_table()
            .table_name(table)
            .send()
            .await
            .map_err(map_err)?;
        let keys: Arc<[String]> = described
            .table()
            .map(|t| {
                t.key_schema()
                    .iter()
                    .map(|k| k.attribute_name().to_owned())
                    .collect()
            })
            .unwrap_or_default();
        self.key_names
            .lock()
            .map_err(|_| Error::Other("key cache lock poisoned".into()))?
            .insert(table.to_owned(), Arc::clone(&keys));
        Ok(keys)
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
        let mut delays = self.unprocessed_retry.backoff();
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
            let Some(delay) = delays.next() else {
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

    /// Writes one chunk; when DynamoDB rejects it as invalid, halves it until the bad items
    /// stand alone. Returns the rejected records with the reason.
    async fn write_isolating(
        &self,
        table: &str,
        chunk: Vec<Put>,
    ) -> Result<Vec<(Vec<u8>, String)>> {
        let mut rejected = Vec::new();
        let mut parts = vec![chunk];
        while let Some(mut part) = parts.pop() {
            let requests = part.iter().map(|p| p.request.clone()).collect();
            match self.write_chunk(table, requests).await {
                Ok(()) => {}
                Err(Error::InvalidInput(reason)) if part.len() == 1 => {
                    rejected.extend(part.pop().map(|p| (p.record, reason)));
                }
                Err(Error::InvalidInput(_)) if part.len() > 1 => {
                    let second = part.split_off(part.len() / 2);
                    parts.push(second);
                    parts.push(part);
                }
                Err(e) => return Err(e),
            }
        }
        Ok(rejected)
    }
}

/// The identity of an item by its key attributes (`None` when one is missing: never merged).
fn key_of(item: &Map<String, Value>, keys: &[String]) -> Option<String> {
    if keys.is_empty() {
        return None;
    }
    let mut out = String::new();
    for k in keys {
        out.push_str(&item.get(k)?.to_string());
        out.push('\u{1f}');
    }
    Some(out)
}

#[async_trait]
impl Sink for DynamoDbSink {
    async fn deliver(&self, batch: &Batch) -> Result<()> {
        if batch.table().is_empty() {
            return Err(Error::InvalidInput("empty table name".into()));
        }
        let table = self.table_name(batch.table());
        let keys = self.keys_of(&table).await?;
        let mut rejected: Vec<(Vec<u8>, String)> = Vec::new();
        // Last record per key wins, at the position of its first occurrence.
        let mut puts: Vec<Option<(Map<String, Value>, &[u8])>> = Vec::with_capacity(batch.len());
        let mut by_key: HashMap<String, usize> = HashMap::new();
        for record in batch.records() {
            let map = match serde_json::from_slice::<Value>(record) {
                Ok(Value::Object(map)) => map,
                Ok(_) => {
                    rejected.push((
                        record.to_vec(),
                        "a DynamoDB item must be a JSON object".into(),
                    ));
                    continue;
                }
                Err(e) => {
                    rejected.push((record.to_vec(), format!("not JSON: {e}")));
                    continue;
                }
            };
            match key_of(&map, &keys) {
                Some(key) => match by_key.get(&key) {
                    Some(&at) => {
                        if let Some(slot) = puts.get_mut(at) {
                            *slot = Some((map, record));
                        }
                    }
                    None => {
                        by_key.insert(key, puts.len());
                        puts.push(Some((map, record)));
                    }
                },
                None => puts.push(Some((map, record))),
            }
        }
        let mut requests = Vec::with_capacity(puts.len());
        for (map, record) in puts.into_iter().flatten() {
            let item: HashMap<String, AttributeValue> = map
                .iter()
                .map(|(k, v)| (k.clone(), to_attribute(v)))
                .collect();
            match PutRequest::builder().set_item(Some(item)).build() {
                Ok(put) => requests.push(Put {
                    request: WriteRequest::builder().put_request(put).build(),
                    record: record.to_vec(),
                }),
                Err(e) => rejected.push((record.to_vec(), e.to_string())),
            }
        }
        let mut chunks = Vec::with_capacity(requests.len().div_ceil(BATCH_WRITE_ITEMS));
        let mut requests = requests.into_iter().peekable();
        while requests.peek().is_some() {
            chunks.push(
                requests
                    .by_ref()
                    .take(BATCH_WRITE_ITEMS)
                    .collect::<Vec<_>>(),
            );
        }
        let table_ref = table.as_str();
        let mut results = futures::stream::iter(chunks)
            .map(|chunk| self.write_isolating(table_ref, chunk))
            .buffer_unordered(self.concurrency.get());
        let mut first_error = None;
        while let Some(result) = results.next().await {
            match result {
                Ok(bad) => rejected.extend(bad),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        if let Some(e) = first_error {
            // Puts are idempotent: the writer may send the whole batch again.
            return Err(e);
        }
        if rejected.is_empty() {
            return Ok(());
        }
        let reason = rejected.first().map(|(_, r)| r.clone()).unwrap_or_default();
        let count = rejected.len();
        match &self.dead_letter {
            Some(dead) => {
                let bad = Batch::new(
                    batch.id(),
                    batch.table().to_owned(),
                    rejected.into_iter().map(|(r, _)| r).collect(),
                );
                dead.deliver(&bad).await
            }
            None => Err(Error::InvalidInput(format!(
                "{count} item(s) of {} rejected by DynamoDB (the others were written): {reason}",
                batch.table()
            ))),
        }
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
