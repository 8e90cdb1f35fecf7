//! The local-directory backend: each key's versions are files under `<root>/.versions/<key>/`.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use bytes::Bytes;
use time::OffsetDateTime;

use super::{StoreError, StoreResult, VersionInfo, VersionedStore, validate_key};

/// A versioned store in a local directory. A version id is the write time in nanoseconds since
/// the epoch (zero-padded, so ids sort by time) and a sequence number; each version is written to
/// a temporary file, fsynced and renamed into place, so a crash never leaves a partial version.
#[derive(Debug)]
pub struct LocalStore {
    root: PathBuf,
    seq: AtomicU64,
}

impl LocalStore {
    /// Opens (creating when missing) the store in `root`.
    pub fn open(root: impl AsRef<Path>) -> StoreResult<Self> {
        let root = root.as_ref().to_path_buf();
        std::fs::create_dir_all(root.join(".versions"))
            .map_err(|e| StoreError::io(format!("creating {}", root.display()), e))?;
        Ok(Self {
            root,
            seq: AtomicU64::new(0),
        })
    }

    /// Opens the store in `root`, which must be an existing directory.
    pub fn open_existing(root: impl AsRef<Path>) -> StoreResult<Self> {
        let root = root.as_ref();
        if !root.is_dir() {
            return Err(StoreError::NotFound(format!(
                "no store directory {}",
                root.display()
            )));
        }
        Self::open(root)
    }

    fn dir(&self, key: &str) -> PathBuf {
        self.root.join(".versions").join(key)
    }

    fn parse_id(id: &str) -> Option<OffsetDateTime> {
        let nanos: i128 = id.split('-').next()?.parse().ok()?;
        OffsetDateTime::from_unix_timestamp_nanos(nanos).ok()
    }
}

#[async_trait]
impl VersionedStore for LocalStore {
    async fn put(&self, key: &str, body: Bytes) -> StoreResult<VersionInfo> {
        validate_key(key)?;
        let dir = self.dir(key);
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        let now = OffsetDateTime::now_utc();
        // Ids must grow even when the clock does not: never below the newest existing id.
        let mut nanos = now.unix_timestamp_nanos();
        if let Some(last) = self.versions(key).await?.last() {
            nanos = nanos.max(last.modified.unix_timestamp_nanos() + 1);
        }
        let id = format!("{nanos:024}-{seq}");
        let size = body.len() as u64;
        let path = dir.join(&id);
        tokio::task::spawn_blocking(move || -> StoreResult<()> {
            use std::io::Write;
            std::fs::create_dir_all(&dir)
                .map_err(|e| StoreError::io(format!("creating {}", dir.display()), e))?;
            let tmp = dir.join(format!(".tmp-{id}"));
            let mut file = std::fs::File::create(&tmp)
                .map_err(|e| StoreError::io(format!("creating {}", tmp.display()), e))?;
            file.write_all(&body)
                .and_then(|()| file.sync_all())
                .map_err(|e| StoreError::io(format!("writing {}", tmp.display()), e))?;
            std::fs::rename(&tmp, &path)
                .map_err(|e| StoreError::io(format!("renaming to {}", path.display()), e))
        })
        .await
        .map_err(|e| StoreError::Invalid(format!("write task failed: {e}")))??;
        let modified = OffsetDateTime::from_unix_timestamp_nanos(nanos).unwrap_or(now);
        Ok(VersionInfo {
            version_id: format!("{nanos:024}-{seq}"),
            modified,
            size,
        })
    }

    async fn versions(&self, key: &str) -> StoreResult<Vec<VersionInfo>> {
        validate_key(key)?;
        let dir = self.dir(key);
        let mut out = Vec::new();
        let mut entries = match tokio::fs::read_dir(&dir).await {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(StoreError::io(format!("listing {}", dir.display()), e)),
        };
        while let Some(entry) = entries
            .next_entry()
            .await
            .map_err(|e| StoreError::io("listing versions", e))?
        {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(modified) = Self::parse_id(&name) else {
                continue;
            };
            let meta = entry
                .metadata()
                .await
                .map_err(|e| StoreError::io("reading metadata", e))?;
            if meta.is_file() {
                out.push(VersionInfo {
                    version_id: name,
                    modified,
                    size: meta.len(),
                });
            }
        }
        out.sort_by(|a, b| a.version_id.cmp(&b.version_id));
        Ok(out)
    }

    async fn get_version(&self, key: &str, version_id: &str) -> StoreResult<Bytes> {
        validate_key(key)?;
        if Self::parse_id(version_id).is_none() || version_id.contains(['/', '\\']) {
            return Err(StoreError::Invalid(format!(
                "bad version id {version_id:?}"
            )));
        }
        let path = self.dir(key).join(version_id);
        tokio::fs::read(&path)
            .await
            .map(Bytes::from)
            .map_err(|e| StoreError::io(format!("reading {}", path.display()), e))
    }

    async fn children(&self, dir: &str) -> StoreResult<Vec<String>> {
        validate_key(dir)?;
        let path = self.dir(dir);
        let mut out = Vec::new();
        let mut entries = match tokio::fs::read_dir(&path).await {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(StoreError::io(format!("listing {}", path.display()), e)),
        };
        while let Some(entry) = entries
            .next_entry()
            .await
            .map_err(|e| StoreError::io("listing a folder", e))?
        {
            let name = entry.file_name().to_string_lossy().into_owned();
            if entry.file_type().await.is_ok_and(|t| t.is_dir()) {
                out.push(name);
            }
        }
        out.sort();
        Ok(out)
    }

    async fn delete_version(&self, key: &str, version_id: &str) -> StoreResult<()> {
        validate_key(key)?;
        if Self::parse_id(version_id).is_none() || version_id.contains(['/', '\\']) {
            return Err(StoreError::Invalid(format!(
                "bad version id {version_id:?}"
            )));
        }
        let path = self.dir(key).join(version_id);
        match tokio::fs::remove_file(&path).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(StoreError::io(format!("deleting {}", path.display()), e)),
        }
    }
}
