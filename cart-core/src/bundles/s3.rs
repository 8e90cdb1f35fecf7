//! The shared bundle store on S3 (layout in the [module documentation](super)).

use super::{BundleStore, Object, exactly};
use crate::archive::ByteStream;
use crate::s3_error::{S3Failure, classify};
use crate::{CartUid, Error, Result, Volume};
use aws_sdk_s3::Client;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, Delete, ObjectIdentifier};
use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use std::path::Path;

/// Size of each part of a multipart upload (S3's minimum for all but the last part is 5 MiB).
/// Objects up to this size are written with one `PutObject`.
pub const PART_SIZE: usize = 8 << 20;

/// Keys per `DeleteObjects` request (S3's maximum).
const DELETE_BATCH: usize = 1000;

fn sdk_err<E>(e: SdkError<E, HttpResponse>, what: &str, key: &str) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match classify(&e, what, &key) {
        S3Failure::NotFound => Error::NotFound(format!("bundle store object {key}")),
        S3Failure::Failed { message, retryable } => Error::bundles_caused(message, retryable, e),
    }
}

/// Staged files and tars in an S3 bucket, shared by every server that uses the same bucket and
/// prefix (see the [module documentation](super) for the key layout).
#[derive(Debug, Clone)]
pub struct S3Bundles {
    client: Client,
    bucket: String,
    prefix: String,
}

impl S3Bundles {
    /// The store in `bucket` under `prefix` (`""` or ending with `/`; configure path-style
    /// addressing on the client for emulators).
    pub fn new(client: Client, bucket: impl Into<String>, prefix: impl Into<String>) -> Self {
        S3Bundles {
            client,
            bucket: bucket.into(),
            prefix: prefix.into(),
        }
    }

    /// The key prefix of a cart's objects.
    pub fn cart_prefix(&self, uid: &CartUid) -> String {
        format!("{}carts/{}/", self.prefix, uid.as_str())
    }

    /// The key of one of a cart's objects.
    pub fn key(&self, uid: &CartUid, object: Object) -> String {
        match object {
            Object::File(i) => format!("{}files/{i}", self.cart_prefix(uid)),
            Object::Bundle => format!("{}bundle.tar", self.cart_prefix(uid)),
        }
    }

    async fn put_small(&self, key: &str, body: Bytes) -> Result<()> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .body(body.into())
            .send()
            .await
            .map_err(|e| sdk_err(e, "PutObject", key))?;
        Ok(())
    }

    /// Writes `body` (exactly `len` bytes) to `key`: one `PutObject` up to [`PART_SIZE`], a
    /// multipart upload (aborted on any error) above it, so memory stays at one part.
    async fn upload(&self, key: &str, body: ByteStream, len: u64) -> Result<()> {
        let mut body = exactly(body, len, key.to_owned());
        if len <= PART_SIZE as u64 {
            let mut buf = BytesMut::with_capacity(usize::try_from(len).unwrap_or(PART_SIZE));
            while let Some(chunk) = body.next().await {
                buf.extend_from_slice(&chunk?);
            }
            return self.put_small(key, buf.freeze()).await;
        }
        let created = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| sdk_err(e, "CreateMultipartUpload", key))?;
        let upload_id = created
            .upload_id()
            .ok_or_else(|| Error::bundles(format!("CreateMultipartUpload {key}: no upload id")))?
            .to_owned();
        let result: Result<()> = async {
            let mut parts = Vec::new();
            let mut buf = BytesMut::with_capacity(PART_SIZE);
            let mut ended = false;
            while !ended {
                match body.next().await {
                    Some(chunk) => buf.extend_from_slice(&chunk?),
                    None => ended = true,
                }
                while buf.len() >= PART_SIZE || (ended && !buf.is_empty()) {
                    let n = buf.len().min(PART_SIZE);
                    let part = buf.split_to(n).freeze();
                    let number = i32::try_from(parts.len() + 1)
                        .map_err(|_| Error::bundles(format!("{key}: too many parts")))?;
                    let out = self
                        .client
                        .upload_part()
                        .bucket(&self.bucket)
                        .key(key)
                        .upload_id(&upload_id)
                        .part_number(number)
                        .body(part.into())
                        .send()
                        .await
                        .map_err(|e| sdk_err(e, "UploadPart", key))?;
                    parts.push(
                        CompletedPart::builder()
                            .part_number(number)
                            .set_e_tag(out.e_tag().map(str::to_owned))
                            .build(),
                    );
                }
            }
            self.client
                .complete_multipart_upload()
                .bucket(&self.bucket)
                .key(key)
                .upload_id(&upload_id)
                .multipart_upload(
                    CompletedMultipartUpload::builder()
                        .set_parts(Some(parts))
                        .build(),
                )
                .send()
                .await
                .map_err(|e| sdk_err(e, "CompleteMultipartUpload", key))?;
            Ok(())
        }
        .await;
        if result.is_err()
            && let Err(abort) = self
                .client
                .abort_multipart_upload()
                .bucket(&self.bucket)
                .key(key)
                .upload_id(&upload_id)
                .send()
                .await
        {
            let abort = sdk_err(abort, "AbortMultipartUpload", key);
            tracing::warn!("{}", abort.report());
        }
        result
    }

    async fn delete_keys(&self, keys: Vec<String>) -> Result<()> {
        for batch in keys.chunks(DELETE_BATCH) {
            let objects = batch
                .iter()
                .map(|k| ObjectIdentifier::builder().key(k).build())
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(|e| Error::bundles_caused("building DeleteObjects", false, e))?;
            let delete = Delete::builder()
                .set_objects(Some(objects))
                .quiet(true)
                .build()
                .map_err(|e| Error::bundles_caused("building DeleteObjects", false, e))?;
            let first = batch.first().map_or("", String::as_str);
            let out = self
                .client
                .delete_objects()
                .bucket(&self.bucket)
                .delete(delete)
                .send()
                .await
                .map_err(|e| sdk_err(e, "DeleteObjects", first))?;
            if let Some(err) = out.errors().first() {
                return Err(Error::bundles(format!(
                    "DeleteObjects {}: {}",
                    err.key().unwrap_or_default(),
                    err.code().unwrap_or_default()
                )));
            }
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl BundleStore for S3Bundles {
    fn is_shared(&self) -> bool {
        true
    }
    fn local_volume(&self) -> Option<&Volume> {
        None
    }
    async fn put_file(&self, uid: &CartUid, index: usize, staged: &Path) -> Result<()> {
        let len = tokio::fs::metadata(staged).await?.len();
        let body = crate::bundle::file_range_stream(staged.to_path_buf(), 0, len)
            .map(|r| r.map_err(Error::Io))
            .boxed();
        self.upload(&self.key(uid, Object::File(index)), body, len)
            .await?;
        tokio::fs::remove_file(staged).await?;
        Ok(())
    }
    async fn file_sizes(&self, uid: &CartUid, files: usize) -> Result<Vec<Option<u64>>> {
        let mut sizes = vec![None; files];
        let prefix = format!("{}files/", self.cart_prefix(uid));
        let mut token: Option<String> = None;
        loop {
            let out = self
                .client
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(&prefix)
                .set_continuation_token(token.take())
                .send()
                .await
                .map_err(|e| sdk_err(e, "ListObjectsV2", &prefix))?;
            for o in out.contents() {
                let index = o
                    .key()
                    .and_then(|k| k.strip_prefix(&prefix))
                    .and_then(|n| n.parse::<usize>().ok());
                if let (Some(slot), Some(size)) = (
                    index.and_then(|i| sizes.get_mut(i)),
                    o.size().and_then(|s| u64::try_from(s).ok()),
                ) {
                    *slot = Some(size);
                }
            }
            match out.next_continuation_token() {
                Some(t) if out.is_truncated() == Some(true) => token = Some(t.to_owned()),
                _ => break,
            }
        }
        Ok(sizes)
    }
    async fn read(
        &self,
        uid: &CartUid,
        object: Object,
        start: u64,
        count: u64,
    ) -> Result<ByteStream> {
        let key = self.key(uid, object);
        if count == 0 {
            self.client
                .head_object()
                .bucket(&self.bucket)
                .key(&key)
                .send()
                .await
                .map_err(|e| sdk_err(e, "HeadObject", &key))?;
            return Ok(futures::stream::empty().boxed());
        }
        let last = start.saturating_add(count - 1);
        let obj = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(&key)
            .range(format!("bytes={start}-{last}"))
            .send()
            .await
            .map_err(|e| sdk_err(e, "GetObject", &key))?;
        let what = key.clone();
        let body = futures::stream::unfold(Some(obj.body), move |body| {
            let what = what.clone();
            async move {
                let mut body = body?;
                match body.next().await {
                    None => None,
                    Some(Ok(chunk)) => Some((Ok(chunk), Some(body))),
                    Some(Err(e)) => Some((
                        Err(Error::bundles_caused(format!("reading {what}"), true, e)),
                        None,
                    )),
                }
            }
        })
        .boxed();
        // A range past the end is cut short by S3: the length check turns that into an error.
        Ok(exactly(body, count, key))
    }
    async fn write_bundle(&self, uid: &CartUid, body: ByteStream, len: u64) -> Result<()> {
        self.upload(&self.key(uid, Object::Bundle), body, len).await
    }
    async fn remove_files(&self, uid: &CartUid, files: usize) -> Result<()> {
        let keys = (0..files).map(|i| self.key(uid, Object::File(i))).collect();
        self.delete_keys(keys).await
    }
    async fn remove_cart(&self, uid: &CartUid, files: usize) -> Result<()> {
        let mut keys: Vec<String> = (0..files).map(|i| self.key(uid, Object::File(i))).collect();
        keys.push(self.key(uid, Object::Bundle));
        self.delete_keys(keys).await
    }
}
