//! Files in a local directory.

use super::{Archive, ArchiveStatus, ByteStream};
use crate::{ArchiveId, BundlePath, Error, Result};
use futures::StreamExt;
use std::path::{Path, PathBuf};

/// An archive that is a local directory: the id is a safe relative path under the root (the
/// same rules as a [`BundlePath`]); files are always ready. Symlinks leaving the root are refused.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use cart_core::{Archive, ArchiveId, LocalArchive};
/// let dir = tempfile::tempdir().unwrap();
/// std::fs::write(dir.path().join("a.txt"), b"hello").unwrap();
/// let archive = LocalArchive::new(dir.path()).unwrap();
/// let status = archive.status(&ArchiveId::new("a.txt").unwrap()).await.unwrap();
/// assert_eq!(status.size, Some(5));
/// assert!(archive.status(&ArchiveId::new("../etc/passwd").unwrap()).await.is_err());
/// # });
/// ```
#[derive(Debug, Clone)]
pub struct LocalArchive {
    root: PathBuf,
}

impl LocalArchive {
    /// An archive rooted at an existing directory.
    pub fn new(root: impl AsRef<Path>) -> Result<Self> {
        let root = std::fs::canonicalize(root.as_ref())?;
        if !root.is_dir() {
            return Err(Error::invalid("archive root", "not a directory"));
        }
        Ok(LocalArchive { root })
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    async fn resolve(&self, id: &ArchiveId) -> Result<PathBuf> {
        let rel = BundlePath::new(id.as_str())
            .map_err(|e| Error::invalid("id", format!("not a safe relative path: {e}")))?;
        let path = self.root.join(rel.as_str());
        let real = match tokio::fs::canonicalize(&path).await {
            Ok(p) => p,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::NotFound(format!("archive file {id}")));
            }
            Err(e) => return Err(e.into()),
        };
        if !real.starts_with(&self.root) {
            return Err(Error::invalid("id", "resolves outside the archive root"));
        }
        Ok(real)
    }
}

#[async_trait::async_trait]
impl Archive for LocalArchive {
    async fn stage(&self, id: &ArchiveId) -> Result<()> {
        self.resolve(id).await.map(|_| ())
    }

    async fn status(&self, id: &ArchiveId) -> Result<ArchiveStatus> {
        let path = self.resolve(id).await?;
        let meta = tokio::fs::metadata(&path).await?;
        if !meta.is_file() {
            return Err(Error::NotFound(format!("archive file {id} is not a file")));
        }
        Ok(ArchiveStatus {
            size: Some(meta.len()),
            ready: true,
            message: String::new(),
        })
    }

    async fn read(&self, id: &ArchiveId) -> Result<ByteStream> {
        let path = self.resolve(id).await?;
        let file = tokio::fs::File::open(&path).await?;
        let stream = tokio_util::io::ReaderStream::with_capacity(file, 256 * 1024);
        Ok(stream.map(|r| r.map_err(Error::from)).boxed())
    }
}
