//! The S3 backend: a bucket with object versioning turned on.

use async_trait::async_trait;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};
use bytes::Bytes;
use time::OffsetDateTime;

use super::{StoreError, StoreResult, VersionInfo, VersionedStore, validate_key};

/// A versioned store in an S3 bucket (object versioning must be on; see
/// [`S3Store::enable_versioning`]). Keys live under an optional prefix.
#[derive(Debug, Clone)]
pub struct S3Store {
    client: aws_sdk_s3::Client,
    bucket: String,
    prefix: String,
}

fn s3_err<E: std::fmt::Debug>(operation: &'static str) -> impl FnOnce(E) -> StoreError {
    move |e| StoreError::S3 {
        operation,
        message: format!("{e:?}"),
    }
}

impl S3Store {
    /// A store over `bucket` (keys under `prefix`), with path-style addressing so that local
    /// emulators work as real S3 does.
    pub fn new(config: &aws_config::SdkConfig, bucket: &str, prefix: &str) -> Self {
        let prefix = prefix.trim_matches('/');
        let prefix = if prefix.is_empty() {
            String::new()
        } else {
            format!("{prefix}/")
        };
        Self {
            client: super::metrics::s3_client(config),
            bucket: bucket.to_owned(),
            prefix,
        }
    }

    /// Creates the bucket (if missing) and turns object versioning on.
    pub async fn enable_versioning(&self) -> StoreResult<()> {
        if self
            .client
            .head_bucket()
            .bucket(&self.bucket)
            .send()
            .await
            .is_err()
        {
            self.client
                .create_bucket()
                .bucket(&self.bucket)
                .send()
                .await
                .map_err(s3_err("CreateBucket"))?;
        }
        self.client
            .put_bucket_versioning()
            .bucket(&self.bucket)
            .versioning_configuration(
                VersioningConfiguration::builder()
                    .status(BucketVersioningStatus::Enabled)
                    .build(),
            )
            .send()
            .await
            .map_err(s3_err("PutBucketVersioning"))?;
        Ok(())
    }

    /// Checks that the bucket exists and answers (HeadBucket).
    pub async fn check_bucket(&self) -> StoreResult<()> {
        self.client
            .head_bucket()
            .bucket(&self.bucket)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| {
                StoreError::NotFound(format!(
                    "bucket {} does not exist or cannot be reached: {e:?}",
                    self.bucket
                ))
            })
    }

    /// The bucket's name.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The key prefix (empty, or ending in `/`).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The S3 client.
    pub fn client(&self) -> &aws_sdk_s3::Client {
        &self.client
    }

    /// The full object key of a store key (the prefix prepended).
    pub fn object_key(&self, key: &str) -> StoreResult<String> {
        self.full_key(key)
    }

    fn full_key(&self, key: &str) -> StoreResult<String> {
        validate_key(key)?;
        Ok(format!("{}{key}", self.prefix))
    }
}

fn to_time(t: Option<&aws_sdk_s3::primitives::DateTime>) -> OffsetDateTime {
    t.and_then(|t| OffsetDateTime::from_unix_timestamp_nanos(t.as_nanos()).ok())
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

#[async_trait]
impl VersionedStore for S3Store {
    async fn put(&self, key: &str, body: Bytes) -> StoreResult<VersionInfo> {
        let full = self.full_key(key)?;
        let size = body.len() as u64;
        let out = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(&full)
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(s3_err("PutObject"))?;
        let version_id = out
            .version_id()
            .map(str::to_owned)
            .ok_or_else(|| StoreError::S3 {
                operation: "PutObject",
                message: format!(
                    "bucket {} has no versioning: no version id returned",
                    self.bucket
                ),
            })?;
        // The write time is the server's: read it back from the version listing.
        let modified = self
            .versions(key)
            .await?
            .into_iter()
            .find(|v| v.version_id == version_id)
            .map(|v| v.modified)
            .unwrap_or_else(OffsetDateTime::now_utc);
        Ok(VersionInfo {
            version_id,
            modified,
            size,
        })
    }

    async fn versions(&self, key: &str) -> StoreResult<Vec<VersionInfo>> {
        let full = self.full_key(key)?;
        let mut out = Vec::new();
        let mut key_marker = None;
        let mut version_marker = None;
        loop {
            let page = self
                .client
                .list_object_versions()
                .bucket(&self.bucket)
                .prefix(&full)
                .set_key_marker(key_marker.take())
                .set_version_id_marker(version_marker.take())
                .send()
                .await
                .map_err(s3_err("ListObjectVersions"))?;
            for v in page.versions() {
                if v.key() != Some(full.as_str()) {
                    continue;
                }
                let Some(id) = v.version_id() else { continue };
                out.push(VersionInfo {
                    version_id: id.to_owned(),
                    modified: to_time(v.last_modified()),
                    size: v.size().unwrap_or(0).max(0) as u64,
                });
            }
            if page.is_truncated() == Some(true) {
                key_marker = page.next_key_marker().map(str::to_owned);
                version_marker = page.next_version_id_marker().map(str::to_owned);
                if key_marker.is_none() && version_marker.is_none() {
                    break;
                }
            } else {
                break;
            }
        }
        // S3 lists newest first; several versions may share a timestamp, in which case the
        // listing order (newest first) is kept by a stable sort on time.
        out.reverse();
        out.sort_by_key(|v| v.modified);
        Ok(out)
    }

    async fn get_version(&self, key: &str, version_id: &str) -> StoreResult<Bytes> {
        let full = self.full_key(key)?;
        let out = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(&full)
            .version_id(version_id)
            .send()
            .await
            .map_err(s3_err("GetObject"))?;
        let body = out.body.collect().await.map_err(s3_err("GetObject body"))?;
        Ok(body.into_bytes())
    }

    fn as_s3(&self) -> Option<&S3Store> {
        Some(self)
    }

    async fn children(&self, dir: &str) -> StoreResult<Vec<String>> {
        let prefix = format!("{}/", self.full_key(dir)?);
        let mut out = Vec::new();
        let mut token = None;
        loop {
            let page = self
                .client
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(&prefix)
                .delimiter("/")
                .set_continuation_token(token.take())
                .send()
                .await
                .map_err(s3_err("ListObjectsV2"))?;
            for p in page.common_prefixes() {
                if let Some(name) = p.prefix().and_then(|p| p.strip_prefix(prefix.as_str())) {
                    out.push(name.trim_end_matches('/').to_owned());
                }
            }
            for o in page.contents() {
                if let Some(name) = o.key().and_then(|k| k.strip_prefix(prefix.as_str())) {
                    out.push(name.to_owned());
                }
            }
            match page.next_continuation_token() {
                Some(t) if page.is_truncated() == Some(true) => token = Some(t.to_owned()),
                _ => break,
            }
        }
        out.sort();
        out.dedup();
        Ok(out)
    }

    async fn delete_version(&self, key: &str, version_id: &str) -> StoreResult<()> {
        let full = self.full_key(key)?;
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(&full)
            .version_id(version_id)
            .send()
            .await
            .map_err(s3_err("DeleteObject"))?;
        Ok(())
    }
}
