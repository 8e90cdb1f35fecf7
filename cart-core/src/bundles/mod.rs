//! Where staged files and finished tars live: the [`BundleStore`] trait and its backends.
//!
//! - [`LocalBundles`] (always built, the default): this server's volume, laid out as
//!   [`Volume`] documents. Only the server that staged a cart can serve it.
//! - [`S3Bundles`] (feature `s3`): a bucket shared by every server on the same cart store, so
//!   any server answers any cart. Layout under the configured prefix (which, when not empty,
//!   should end with `/`):
//!
//!   | key | what |
//!   |---|---|
//!   | `<prefix>carts/<uid>/files/<n>` | the staged copy of the `n`-th file of the request (0-based) |
//!   | `<prefix>carts/<uid>/bundle.tar` | the pre-built tar (default download name), written by a multipart upload while it is built |
//!
//!   A file is uploaded once it is verified (size and digest) on this server's volume, which
//!   then only ever holds files in flight. Downloads read with ranged `GET`s, streamed. Deleting
//!   or evicting a cart deletes exactly these keys. An upload interrupted by a crash leaves an
//!   incomplete multipart upload behind, which S3 does not bill as an object but keeps: give
//!   the bucket a lifecycle rule that aborts incomplete multipart uploads after a day.
//!
//! Every backend passes the same conformance suite (`testing::bundle_conformance`).

use crate::archive::ByteStream;
use crate::{CartUid, Error, Result, Volume};
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use std::path::Path;

#[cfg(feature = "testing")]
pub(crate) mod conformance;
#[cfg(feature = "s3")]
mod s3;
pub(crate) mod tar;

#[cfg(feature = "s3")]
pub use s3::S3Bundles;

/// One stored object of a cart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Object {
    /// The staged copy of the file at this request position.
    File(usize),
    /// The pre-built tar.
    Bundle,
}

/// Where staged files and pre-built tars live (see the [module documentation](self)).
#[async_trait::async_trait]
pub trait BundleStore: Send + Sync + std::fmt::Debug + 'static {
    /// Whether every server on the same cart store sees this store (then any server can serve
    /// any cart, and evicting a cart frees nothing on this server's volume).
    fn is_shared(&self) -> bool;
    /// The volume, when objects are files on this server's volume (the engine then reads and
    /// writes them in place: tars are built and served straight from the files).
    fn local_volume(&self) -> Option<&Volume>;
    /// Makes the verified local file `staged` the cart's file `index` (moving or uploading it;
    /// `staged` is gone afterwards).
    async fn put_file(&self, uid: &CartUid, index: usize, staged: &Path) -> Result<()>;
    /// The sizes of the cart's stored files `0..files` (`None`: not stored).
    async fn file_sizes(&self, uid: &CartUid, files: usize) -> Result<Vec<Option<u64>>>;
    /// `count` bytes of an object from `start`, streamed. An object shorter than
    /// `start + count` ends the stream with an error.
    async fn read(
        &self,
        uid: &CartUid,
        object: Object,
        start: u64,
        count: u64,
    ) -> Result<ByteStream>;
    /// Stores the cart's tar from `body`, which must yield exactly `len` bytes: afterwards the
    /// tar is there complete, or (on any error) not at all.
    async fn write_bundle(&self, uid: &CartUid, body: ByteStream, len: u64) -> Result<()>;
    /// Removes the staged files `0..files` (after bundling; missing is fine).
    async fn remove_files(&self, uid: &CartUid, files: usize) -> Result<()>;
    /// Removes everything of a cart of `files` files (missing is fine).
    async fn remove_cart(&self, uid: &CartUid, files: usize) -> Result<()>;
}

/// The default store: files on this server's volume (the layout of [`Volume`]).
#[derive(Debug, Clone)]
pub struct LocalBundles {
    volume: Volume,
}

impl LocalBundles {
    /// The store on `volume`.
    pub fn new(volume: Volume) -> Self {
        LocalBundles { volume }
    }
}

/// Checks that a stream yields exactly `len` bytes.
pub(crate) fn exactly(body: ByteStream, len: u64, what: String) -> ByteStream {
    let state = Some((body, 0u64));
    futures::stream::unfold(state, move |state| {
        let what = what.clone();
        async move {
            let (mut body, seen) = state?;
            match body.next().await {
                Some(Ok(chunk)) => {
                    let seen = seen + chunk.len() as u64;
                    if seen > len {
                        return Some((Err(short(&what, len, seen)), None));
                    }
                    Some((Ok(chunk), Some((body, seen))))
                }
                Some(Err(e)) => Some((Err(e), None)),
                None if seen == len => None,
                None => Some((Err(short(&what, len, seen)), None)),
            }
        }
    })
    .boxed()
}

fn short(what: &str, expected: u64, actual: u64) -> Error {
    Error::SizeMismatch {
        id: what.to_owned(),
        expected,
        actual,
    }
}

#[async_trait::async_trait]
impl BundleStore for LocalBundles {
    fn is_shared(&self) -> bool {
        false
    }
    fn local_volume(&self) -> Option<&Volume> {
        Some(&self.volume)
    }
    async fn put_file(&self, uid: &CartUid, index: usize, staged: &Path) -> Result<()> {
        let dest = self.volume.file_path(uid, index);
        if let Some(parent) = dest.parent() {
            tokio::fs::create_dir_all(parent).await?;
        }
        tokio::fs::rename(staged, &dest).await?;
        Ok(())
    }
    async fn file_sizes(&self, uid: &CartUid, files: usize) -> Result<Vec<Option<u64>>> {
        let paths: Vec<_> = (0..files).map(|i| self.volume.file_path(uid, i)).collect();
        tokio::task::spawn_blocking(move || {
            paths
                .iter()
                .map(|p| std::fs::metadata(p).ok().map(|m| m.len()))
                .collect()
        })
        .await
        .map_err(|e| Error::Io(std::io::Error::other(e)))
    }
    async fn read(
        &self,
        uid: &CartUid,
        object: Object,
        start: u64,
        count: u64,
    ) -> Result<ByteStream> {
        let path = match object {
            Object::File(i) => self.volume.file_path(uid, i),
            Object::Bundle => self.volume.bundle_path(uid),
        };
        // Checking now makes a missing object an error of this call, not of the stream.
        match tokio::fs::metadata(&path).await {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::NotFound(format!("{object:?} of cart {uid}")));
            }
            Err(e) => return Err(e.into()),
        }
        Ok(crate::bundle::file_range_stream(path, start, count)
            .map_err(Error::Io)
            .boxed())
    }
    async fn write_bundle(&self, uid: &CartUid, body: ByteStream, len: u64) -> Result<()> {
        use tokio::io::AsyncWriteExt;
        let partial = self.volume.bundle_partial_path(uid);
        if let Some(parent) = partial.parent() {
            tokio::fs::create_dir_all(parent).await?;
        }
        let written = async {
            let file = tokio::fs::File::create(&partial).await?;
            let mut out = tokio::io::BufWriter::with_capacity(1 << 20, file);
            let mut body = exactly(body, len, format!("tar of cart {uid}"));
            while let Some(chunk) = body.next().await {
                let chunk: Bytes = chunk?;
                out.write_all(&chunk).await?;
            }
            out.flush().await?;
            out.into_inner().sync_all().await?;
            Ok::<(), Error>(())
        }
        .await;
        if let Err(e) = written {
            let _ = tokio::fs::remove_file(&partial).await;
            return Err(e);
        }
        tokio::fs::rename(&partial, self.volume.bundle_path(uid)).await?;
        Ok(())
    }
    async fn remove_files(&self, uid: &CartUid, files: usize) -> Result<()> {
        self.volume.remove_staged(uid, files).await
    }
    async fn remove_cart(&self, uid: &CartUid, files: usize) -> Result<()> {
        self.volume.remove_cart(uid, files).await
    }
}
