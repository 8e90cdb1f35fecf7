//! Object storage for the history: get with a version tag (ETag), and conditional put (create
//! only if absent, or replace only if unchanged), so that writers in many processes merge into
//! the same objects without losing each other's points. In a local directory (embedded
//! default) or an S3 bucket (`If-None-Match: *` / `If-Match: <etag>`).

use std::fmt::Debug;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_s3::primitives::ByteStream;
use bytes::Bytes;
use sha2::{Digest, Sha256};

use super::{CacheError, aws_error};

/// An object's bytes and its version tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Versioned {
    /// The bytes.
    pub body: Bytes,
    /// The tag of this version (S3's ETag; a content digest locally).
    pub etag: String,
}

/// When a put may go through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// Always (replaces whatever is there).
    Always,
    /// Only when no object has the key (S3 `If-None-Match: *`).
    IfAbsent,
    /// Only when the object still has this tag (S3 `If-Match`).
    IfMatch(String),
}

/// Get/put object storage for history objects. A put whose condition does not hold fails with
/// [`CacheError::Conflict`].
#[async_trait]
pub trait Objects: Send + Sync + Debug + 'static {
    /// The object with its tag, or `None` when missing.
    async fn get(&self, key: &str) -> Result<Option<Versioned>, CacheError>;
    /// Writes the object if `condition` holds; returns the new tag.
    async fn put(&self, key: &str, body: Bytes, condition: Condition)
    -> Result<String, CacheError>;
}

#[async_trait]
impl<O: Objects + ?Sized> Objects for Arc<O> {
    async fn get(&self, key: &str) -> Result<Option<Versioned>, CacheError> {
        (**self).get(key).await
    }
    async fn put(
        &self,
        key: &str,
        body: Bytes,
        condition: Condition,
    ) -> Result<String, CacheError> {
        (**self).put(key, body, condition).await
    }
}

fn digest(body: &[u8]) -> String {
    let hash = Sha256::digest(body);
    hash.iter().map(|b| format!("{b:02x}")).collect()
}

/// Objects in a local directory. Each write goes to a temporary file of its own (concurrent
/// writers never share one), which is fsynced, renamed over the object, and the directory
/// fsynced, so an object is durable, name included, once `put` returns: the worker deletes the
/// queue message right after. Conditions are checked and the rename done under a lock of the
/// key (one of [`LOCK_STRIPES`]), so they hold between the tasks of this process (the embedded
/// default runs in one process; use S3 for several).
#[derive(Debug, Clone)]
pub struct LocalObjects {
    root: PathBuf,
    locks: Arc<[tokio::sync::Mutex<()>]>,
}

/// Locks of a [`LocalObjects`]: writes of keys in different stripes run in parallel.
pub const LOCK_STRIPES: usize = 64;

impl LocalObjects {
    /// Objects under `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            root: dir.into(),
            locks: (0..LOCK_STRIPES)
                .map(|_| tokio::sync::Mutex::new(()))
                .collect(),
        }
    }

    fn lock_of(&self, key: &str) -> &tokio::sync::Mutex<()> {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        key.hash(&mut h);
        let n = self.locks.len().max(1);
        let i = usize::try_from(h.finish() % n as u64).unwrap_or(0);
        // `i < n == locks.len()`, and `new` builds LOCK_STRIPES > 0 of them.
        &self.locks[i]
    }
}

async fn read_local(path: &Path, key: &str) -> Result<Option<Versioned>, CacheError> {
    match tokio::fs::read(path).await {
        Ok(b) => {
            let etag = digest(&b);
            Ok(Some(Versioned {
                body: Bytes::from(b),
                etag,
            }))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(CacheError::Storage(format!("reading {key}: {e}"))),
    }
}

#[async_trait]
impl Objects for LocalObjects {
    async fn get(&self, key: &str) -> Result<Option<Versioned>, CacheError> {
        read_local(&self.root.join(key), key).await
    }

    async fn put(
        &self,
        key: &str,
        body: Bytes,
        condition: Condition,
    ) -> Result<String, CacheError> {
        let path = self.root.join(key);
        let _held = self.lock_of(key).lock().await;
        if condition != Condition::Always {
            let current = read_local(&path, key).await?;
            let holds = match (&condition, &current) {
                (Condition::IfAbsent, None) => true,
                (Condition::IfMatch(tag), Some(v)) => &v.etag == tag,
                _ => false,
            };
            if !holds {
                return Err(CacheError::Conflict(format!(
                    "{key}: changed since it was read"
                )));
            }
        }
        let root = self.root.clone();
        let etag = digest(&body);
        let written = tokio::task::spawn_blocking(move || write_durably(&root, &path, &body))
            .await
            .map_err(|e| CacheError::Storage(format!("writing {key}: {e}")))?;
        written.map_err(|e| CacheError::Storage(format!("writing {key}: {e}")))?;
        Ok(etag)
    }
}

/// Writes `body` to `path` (under `root`) through a fresh temporary file: fsync, rename, fsync
/// of the directory (and of the parents of directories it had to create).
fn write_durably(root: &Path, path: &Path, body: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let parent = path.parent().unwrap_or(root);
    if !parent.is_dir() {
        std::fs::create_dir_all(parent)?;
        // Make the new directories' entries durable, up to the root.
        let mut dir = parent;
        while let Some(up) = dir.parent() {
            std::fs::File::open(up)?.sync_all()?;
            if up == root || !up.starts_with(root) {
                break;
            }
            dir = up;
        }
    }
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("object");
    let tmp = parent.join(format!(".{name}.{}.tmp", uuid::Uuid::new_v4().simple()));
    let result = (|| {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        file.write_all(body)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&tmp, path)?;
        std::fs::File::open(parent)?.sync_all()
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Objects in an S3 bucket, written with S3's conditional writes.
#[derive(Debug, Clone)]
pub struct S3Objects {
    client: aws_sdk_s3::Client,
    bucket: String,
}

impl S3Objects {
    /// Objects in `bucket` (path-style addressing, so emulators work too).
    pub fn new(config: &aws_config::SdkConfig, bucket: impl Into<String>) -> Self {
        let conf = aws_sdk_s3::config::Builder::from(config)
            .force_path_style(true)
            .build();
        Self {
            client: aws_sdk_s3::Client::from_conf(conf),
            bucket: bucket.into(),
        }
    }

    /// Creates the bucket.
    pub async fn create_bucket(&self) -> Result<(), CacheError> {
        self.client
            .create_bucket()
            .bucket(&self.bucket)
            .send()
            .await
            .map_err(|e| aws_error("S3 CreateBucket", e))?;
        Ok(())
    }
}

#[async_trait]
impl Objects for S3Objects {
    async fn get(&self, key: &str) -> Result<Option<Versioned>, CacheError> {
        match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(out) => {
                let etag = out.e_tag().unwrap_or_default().to_owned();
                let body = out
                    .body
                    .collect()
                    .await
                    .map_err(|e| CacheError::Unavailable(format!("S3 GetObject {key}: {e}")))?;
                Ok(Some(Versioned {
                    body: body.into_bytes(),
                    etag,
                }))
            }
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => Ok(None),
            Err(e) => Err(aws_error(&format!("S3 GetObject {key}"), e)),
        }
    }

    async fn put(
        &self,
        key: &str,
        body: Bytes,
        condition: Condition,
    ) -> Result<String, CacheError> {
        let mut put = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .body(ByteStream::from(body));
        put = match &condition {
            Condition::Always => put,
            Condition::IfAbsent => put.if_none_match("*"),
            Condition::IfMatch(tag) => put.if_match(tag),
        };
        match put.send().await {
            Ok(out) => Ok(out.e_tag().unwrap_or_default().to_owned()),
            // If-Match on an object deleted meanwhile: a conflict too (read it again).
            Err(e)
                if matches!(condition, Condition::IfMatch(_))
                    && e.raw_response().is_some_and(|r| r.status().as_u16() == 404) =>
            {
                Err(CacheError::Conflict(format!(
                    "S3 PutObject {key}: object gone"
                )))
            }
            Err(e) => Err(aws_error(&format!("S3 PutObject {key}"), e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_local_writes_of_one_object_never_collide() {
        let dir = tempfile::tempdir().unwrap();
        let objects = LocalObjects::new(dir.path());
        let mut tasks = Vec::new();
        for n in 0..16 {
            let objects = objects.clone();
            tasks.push(tokio::spawn(async move {
                objects
                    .put(
                        "history/x/2024-06-01.zinc",
                        Bytes::from(format!("body {n}")),
                        Condition::Always,
                    )
                    .await
            }));
        }
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        let got = objects
            .get("history/x/2024-06-01.zinc")
            .await
            .unwrap()
            .unwrap();
        assert!(got.body.starts_with(b"body "));
        let left: Vec<_> = std::fs::read_dir(dir.path().join("history/x"))
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(left.is_empty(), "no temporary file left");
    }

    #[tokio::test]
    async fn local_conditions_hold() {
        let dir = tempfile::tempdir().unwrap();
        let o = LocalObjects::new(dir.path());
        let first = o
            .put("k", Bytes::from("1"), Condition::IfAbsent)
            .await
            .unwrap();
        let again = o.put("k", Bytes::from("2"), Condition::IfAbsent).await;
        assert!(matches!(again, Err(CacheError::Conflict(_))), "{again:?}");
        let second = o
            .put("k", Bytes::from("2"), Condition::IfMatch(first.clone()))
            .await
            .unwrap();
        let stale = o
            .put("k", Bytes::from("3"), Condition::IfMatch(first))
            .await;
        assert!(matches!(stale, Err(CacheError::Conflict(_))), "{stale:?}");
        let now = o.get("k").await.unwrap().unwrap();
        assert_eq!((now.body, now.etag), (Bytes::from("2"), second));
    }
}
