//! Where files come from: the [`Archive`] trait and its backends.

use crate::{ArchiveId, Result};
use bytes::Bytes;
use futures::stream::BoxStream;
use std::sync::Arc;

mod local;
#[cfg(feature = "pacifica")]
mod pacifica;
#[cfg(feature = "s3")]
mod s3;

pub use local::LocalArchive;
#[cfg(feature = "pacifica")]
pub use pacifica::{PacificaArchive, PacificaArchiveBuilder};
#[cfg(feature = "s3")]
pub use s3::S3Archive;

/// The bytes of an archived file, in chunks.
pub type ByteStream = BoxStream<'static, Result<Bytes>>;

/// What an archive says about a file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ArchiveStatus {
    /// Its size in bytes, when the archive knows it.
    pub size: Option<u64>,
    /// Whether it can be read now (on disk), or must be staged and waited for.
    pub ready: bool,
    /// The archive's message, if any.
    pub message: String,
}

/// A source of archived files. Errors use [`Error::NotFound`](crate::Error::NotFound) for
/// unknown ids and [`Error::Archive`](crate::Error::Archive) (with `retryable`) for the rest.
#[async_trait::async_trait]
pub trait Archive: Send + Sync + std::fmt::Debug + 'static {
    /// Asks the archive to bring the file to readable storage (may return before it is ready).
    async fn stage(&self, id: &ArchiveId) -> Result<()>;
    /// The file's size and readiness.
    async fn status(&self, id: &ArchiveId) -> Result<ArchiveStatus>;
    /// The file's bytes.
    async fn read(&self, id: &ArchiveId) -> Result<ByteStream>;
}

#[async_trait::async_trait]
impl<T: Archive + ?Sized> Archive for Arc<T> {
    async fn stage(&self, id: &ArchiveId) -> Result<()> {
        (**self).stage(id).await
    }
    async fn status(&self, id: &ArchiveId) -> Result<ArchiveStatus> {
        (**self).status(id).await
    }
    async fn read(&self, id: &ArchiveId) -> Result<ByteStream> {
        (**self).read(id).await
    }
}

#[async_trait::async_trait]
impl<T: Archive + ?Sized> Archive for Box<T> {
    async fn stage(&self, id: &ArchiveId) -> Result<()> {
        (**self).stage(id).await
    }
    async fn status(&self, id: &ArchiveId) -> Result<ArchiveStatus> {
        (**self).status(id).await
    }
    async fn read(&self, id: &ArchiveId) -> Result<ByteStream> {
        (**self).read(id).await
    }
}
