//! A sink storing one S3 object per batch under `PREFIX/TABLE/YYYY-MM-DD/BATCH-ID.jsonl`.

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{DisplayErrorContext, SdkError};
use aws_sdk_s3::primitives::ByteStream;

use super::Sink;
use crate::{Batch, Error, Result};

/// Writes each batch as one JSON-lines object, keyed by table, the batch's (UTC) date and its
/// id. Retrying a batch overwrites the same key, so redelivery never duplicates records.
///
/// Table names may hold ASCII letters, digits, `_`, `-` and `.`, and may not start with `.`.
#[derive(Debug, Clone)]
pub struct S3Sink {
    client: Client,
    bucket: String,
    prefix: String,
}

fn map_err<E>(e: SdkError<E, HttpResponse>) -> Error
where
    E: std::error::Error + Send + Sync + 'static,
{
    let message = DisplayErrorContext(&e).to_string();
    match &e {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            Error::Unavailable(message)
        }
        SdkError::ServiceError(ctx) => match ctx.raw().status().as_u16() {
            429 | 503 => Error::Throttled(message),
            500..=599 => Error::Unavailable(message),
            401 | 403 => Error::Unauthorized(message),
            _ => Error::Other(message),
        },
        _ => Error::Other(message),
    }
}

pub(crate) fn check_table(table: &str) -> Result<()> {
    let ok = !table.is_empty()
        && !table.starts_with('.')
        && table
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidInput(format!(
            "table name {table:?} is not usable in an object key"
        )))
    }
}

impl S3Sink {
    /// A sink writing into `bucket` (which must exist).
    pub fn new(client: Client, bucket: impl Into<String>) -> Self {
        Self {
            client,
            bucket: bucket.into(),
            prefix: String::new(),
        }
    }

    /// Puts every key under `prefix` (a `/` is added if missing).
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        let mut prefix = prefix.into();
        if !prefix.is_empty() && !prefix.ends_with('/') {
            prefix.push('/');
        }
        self.prefix = prefix;
        self
    }

    /// The object key of a batch.
    pub fn key(&self, batch: &Batch) -> String {
        let date = time::OffsetDateTime::from(batch.created()).date();
        format!(
            "{}{}/{:04}-{:02}-{:02}/{}.jsonl",
            self.prefix,
            batch.table(),
            date.year(),
            u8::from(date.month()),
            date.day(),
            batch.id()
        )
    }

    /// Every record stored for `table`, decoded, in key order (date, then batch id).
    pub async fn read_table(&self, table: &str) -> Result<Vec<serde_json::Value>> {
        check_table(table)?;
        let prefix = format!("{}{}/", self.prefix, table);
        let mut keys = Vec::new();
        let mut token = None;
        loop {
            let page = self
                .client
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(&prefix)
                .set_continuation_token(token)
                .send()
                .await
                .map_err(map_err)?;
            keys.extend(
                page.contents()
                    .iter()
                    .filter_map(|o| o.key().map(str::to_owned)),
            );
            token = page.next_continuation_token().map(str::to_owned);
            if token.is_none() {
                break;
            }
        }
        keys.sort();
        let mut out = Vec::new();
        for key in keys {
            let object = self
                .client
                .get_object()
                .bucket(&self.bucket)
                .key(&key)
                .send()
                .await
                .map_err(map_err)?;
            let body = object
                .body
                .collect()
                .await
                .map_err(|e| Error::Unavailable(format!("reading {key}: {e}")))?
                .into_bytes();
            for line in body.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
                out.push(serde_json::from_slice(line)?);
            }
        }
        Ok(out)
    }
}

#[async_trait]
impl Sink for S3Sink {
    async fn deliver(&self, batch: &Batch) -> Result<()> {
        check_table(batch.table())?;
        if batch.is_empty() {
            return Ok(());
        }
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(self.key(batch))
            .content_type("application/x-ndjson")
            .body(ByteStream::from(batch.to_json_lines()))
            .send()
            .await
            .map_err(map_err)?;
        Ok(())
    }
}
