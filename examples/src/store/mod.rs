//! A versioned object store: every write makes a new version, and any past state can be read
//! back by time. Two backends: a local directory that keeps every version (the embedded default)
//! and an S3 bucket with object versioning.
//!
//! Stores are addressed by URL: `./dir`, `/abs/dir`, `file:///abs/dir` or `s3://bucket/prefix`.

mod local;
pub mod metrics;
mod s3;

use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use time::OffsetDateTime;

pub use local::LocalStore;
pub use s3::S3Store;

/// Errors of a versioned store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The store URL or a key is not acceptable.
    #[error("invalid store input: {0}")]
    Invalid(String),
    /// A local file system error.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The store (directory or bucket) does not exist.
    #[error("{0}")]
    NotFound(String),
    /// An S3 request failed.
    #[error("S3 {operation} failed: {message}")]
    S3 {
        /// The S3 operation.
        operation: &'static str,
        /// The error as the SDK reported it.
        message: String,
    },
}

impl StoreError {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        StoreError::Io {
            context: context.into(),
            source,
        }
    }
}

/// `Result` with [`StoreError`].
pub type StoreResult<T> = Result<T, StoreError>;

/// One stored version of an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionInfo {
    /// The backend's version id.
    pub version_id: String,
    /// When this version was written.
    pub modified: OffsetDateTime,
    /// Its size in bytes.
    pub size: u64,
}

/// A versioned object store. Keys are `/`-separated relative paths without `.`/`..` segments.
#[async_trait]
pub trait VersionedStore: Send + Sync + Debug + 'static {
    /// Writes a new version of `key`.
    async fn put(&self, key: &str, body: Bytes) -> StoreResult<VersionInfo>;

    /// Every version of `key`, oldest first (empty when the key was never written).
    async fn versions(&self, key: &str) -> StoreResult<Vec<VersionInfo>>;

    /// The bytes of one version of `key`.
    async fn get_version(&self, key: &str, version_id: &str) -> StoreResult<Bytes>;

    /// Removes one version (used to roll back a half-done write).
    async fn delete_version(&self, key: &str, version_id: &str) -> StoreResult<()>;

    /// The names directly under the folder `dir` (keys and sub-folders), sorted; empty when
    /// there is nothing there.
    async fn children(&self, dir: &str) -> StoreResult<Vec<String>>;

    /// The S3 backend behind this store, if it is one (for server-side copies).
    fn as_s3(&self) -> Option<&S3Store> {
        None
    }

    /// The version of `key` visible at `at` (the newest written at or before it), or the latest
    /// when `at` is `None`.
    async fn version_at(
        &self,
        key: &str,
        at: Option<OffsetDateTime>,
    ) -> StoreResult<Option<VersionInfo>> {
        let versions = self.versions(key).await?;
        Ok(match at {
            None => versions.into_iter().last(),
            Some(at) => versions.into_iter().rev().find(|v| v.modified <= at),
        })
    }

    /// The bytes of `key` as visible at `at` (latest when `None`), or `None` when it did not
    /// exist then.
    async fn get_at(&self, key: &str, at: Option<OffsetDateTime>) -> StoreResult<Option<Bytes>> {
        match self.version_at(key, at).await? {
            Some(v) => Ok(Some(self.get_version(key, &v.version_id).await?)),
            None => Ok(None),
        }
    }
}

#[async_trait]
impl<T: VersionedStore + ?Sized> VersionedStore for Arc<T> {
    async fn put(&self, key: &str, body: Bytes) -> StoreResult<VersionInfo> {
        (**self).put(key, body).await
    }
    async fn versions(&self, key: &str) -> StoreResult<Vec<VersionInfo>> {
        (**self).versions(key).await
    }
    async fn get_version(&self, key: &str, version_id: &str) -> StoreResult<Bytes> {
        (**self).get_version(key, version_id).await
    }
    async fn delete_version(&self, key: &str, version_id: &str) -> StoreResult<()> {
        (**self).delete_version(key, version_id).await
    }
    async fn children(&self, dir: &str) -> StoreResult<Vec<String>> {
        (**self).children(dir).await
    }
    fn as_s3(&self) -> Option<&S3Store> {
        (**self).as_s3()
    }
}

/// Checks that `key` is a relative `/`-separated path with no empty, `.` or `..` segments.
pub fn validate_key(key: &str) -> StoreResult<()> {
    let ok = !key.is_empty()
        && !key.contains(['\\', '\0'])
        && key
            .split('/')
            .all(|s| !s.is_empty() && s != "." && s != "..");
    if ok {
        Ok(())
    } else {
        Err(StoreError::Invalid(format!("bad key {key:?}")))
    }
}

/// Opens the store a URL names: `s3://bucket/prefix` (with the default AWS configuration), or
/// a local directory (`./dir`, `/dir`, `file:///dir`), creating the directory when missing.
pub async fn open(url: &str) -> StoreResult<Arc<dyn VersionedStore>> {
    open_with(url, true).await
}

/// Opens the store a URL names, checking that it exists: the bucket must answer (HeadBucket),
/// the directory must be there unless `create` is set. A server uses this so that a store URL
/// that names nothing is an error at start.
pub async fn open_with(url: &str, create: bool) -> StoreResult<Arc<dyn VersionedStore>> {
    if let Some(rest) = url.strip_prefix("s3://") {
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.len() < 3 {
            return Err(StoreError::Invalid(format!("bad bucket name in {url:?}")));
        }
        let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        let store = S3Store::new(&config, bucket, prefix);
        store.check_bucket().await?;
        return Ok(Arc::new(store));
    }
    let path = url.strip_prefix("file://").unwrap_or(url);
    if path.contains("://") {
        return Err(StoreError::Invalid(format!(
            "unsupported store URL {url:?}"
        )));
    }
    if create {
        Ok(Arc::new(LocalStore::open(path)?))
    } else {
        Ok(Arc::new(LocalStore::open_existing(path)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys() {
        for ok in ["a", "a/b.zinc", "ts/x-1.zinc"] {
            assert!(validate_key(ok).is_ok(), "{ok}");
        }
        for bad in ["", "/a", "a//b", "../a", "a/./b", "a\\b"] {
            assert!(validate_key(bad).is_err(), "{bad}");
        }
    }
}
