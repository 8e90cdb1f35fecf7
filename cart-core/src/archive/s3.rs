//! Files in an S3 bucket.

use super::{Archive, ArchiveStatus, ByteStream};
use crate::s3_error::{S3Failure, classify};
use crate::{ArchiveId, Error, Result};
use aws_sdk_s3::Client;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::types::{GlacierJobParameters, RestoreRequest, StorageClass, Tier};
use futures::StreamExt;

/// An archive that is an S3 bucket: the id (after an optional prefix) is the object key. Objects
/// in Glacier classes are restored on `stage` and ready once the restore completes.
#[derive(Debug, Clone)]
pub struct S3Archive {
    client: Client,
    bucket: String,
    prefix: String,
}

fn sdk_err<E>(e: SdkError<E, HttpResponse>, what: &str, id: &ArchiveId) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match classify(&e, what, &id) {
        S3Failure::NotFound => Error::NotFound(format!("archive file {id}")),
        S3Failure::Failed { message, retryable } => Error::archive_caused(message, retryable, e),
    }
}

fn archived(class: Option<&StorageClass>) -> bool {
    matches!(
        class,
        Some(StorageClass::Glacier | StorageClass::DeepArchive)
    )
}

fn restored(restore: Option<&str>) -> bool {
    restore.is_some_and(|r| r.contains("ongoing-request=\"false\""))
}

impl S3Archive {
    /// An archive on `bucket` (configure path-style addressing on the client for emulators).
    pub fn new(client: Client, bucket: impl Into<String>) -> Self {
        S3Archive {
            client,
            bucket: bucket.into(),
            prefix: String::new(),
        }
    }
    /// Keys are `prefix` + id.
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }
    fn key(&self, id: &ArchiveId) -> String {
        format!("{}{}", self.prefix, id.as_str())
    }
}

#[async_trait::async_trait]
impl Archive for S3Archive {
    async fn stage(&self, id: &ArchiveId) -> Result<()> {
        let head = self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(self.key(id))
            .send()
            .await
            .map_err(|e| sdk_err(e, "staging", id))?;
        if !archived(head.storage_class()) || head.restore().is_some() {
            return Ok(());
        }
        let params = GlacierJobParameters::builder()
            .tier(Tier::Standard)
            .build()
            .map_err(|e| Error::archive_caused("building a restore request", false, e))?;
        self.client
            .restore_object()
            .bucket(&self.bucket)
            .key(self.key(id))
            .restore_request(
                RestoreRequest::builder()
                    .days(1)
                    .glacier_job_parameters(params)
                    .build(),
            )
            .send()
            .await
            .map_err(|e| sdk_err(e, "restoring", id))?;
        Ok(())
    }

    async fn status(&self, id: &ArchiveId) -> Result<ArchiveStatus> {
        let head = self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(self.key(id))
            .send()
            .await
            .map_err(|e| sdk_err(e, "status of", id))?;
        let ready = !archived(head.storage_class()) || restored(head.restore());
        Ok(ArchiveStatus {
            size: head.content_length().and_then(|n| u64::try_from(n).ok()),
            ready,
            message: head.restore().unwrap_or_default().to_owned(),
        })
    }

    async fn read(&self, id: &ArchiveId) -> Result<ByteStream> {
        let obj = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(self.key(id))
            .send()
            .await
            .map_err(|e| sdk_err(e, "reading", id))?;
        let id = id.clone();
        let stream = futures::stream::unfold(Some(obj.body), move |body| {
            let id = id.clone();
            async move {
                let mut body = body?;
                match body.next().await {
                    None => None,
                    Some(Ok(chunk)) => Some((Ok(chunk), Some(body))),
                    Some(Err(e)) => Some((
                        Err(Error::archive_caused(format!("reading {id}"), true, e)),
                        None,
                    )),
                }
            }
        });
        Ok(stream.boxed())
    }
}
