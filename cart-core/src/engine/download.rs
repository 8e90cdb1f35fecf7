//! Downloads: the in-use guard and the streamed tar.

use super::Inner;
use crate::bundle::STREAM_CHUNK;
use crate::store;
use crate::{Cart, CartStatus, CartUid, DownloadName, Error, Result, TarPlan};
use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{Stream, StreamExt};
use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// Marks a cart in use while alive: it is not evicted, and deleting it cancels [`token`](Self::token).
#[derive(Debug)]
pub struct InUseGuard {
    inner: Arc<Inner>,
    uid: CartUid,
    token: CancellationToken,
}

impl InUseGuard {
    pub(super) fn new(inner: Arc<Inner>, uid: &CartUid) -> Result<Self> {
        let token = {
            let mut in_use = inner.lock_in_use();
            if in_use.evicting.contains(uid) {
                return Err(Error::NotFound(format!("cart {uid} is being evicted")));
            }
            let entry = in_use
                .counts
                .entry(uid.clone())
                .or_insert_with(|| (0, CancellationToken::new()));
            entry.0 += 1;
            entry.1.clone()
        };
        Ok(InUseGuard {
            inner,
            uid: uid.clone(),
            token,
        })
    }
    /// The cart.
    pub fn uid(&self) -> &CartUid {
        &self.uid
    }
    /// Cancelled when the cart is deleted.
    pub fn token(&self) -> &CancellationToken {
        &self.token
    }
}

impl Drop for InUseGuard {
    fn drop(&mut self) {
        let mut in_use = self.inner.lock_in_use();
        if let Some(entry) = in_use.counts.get_mut(&self.uid) {
            entry.0 = entry.0.saturating_sub(1);
            if entry.0 == 0 {
                in_use.counts.remove(&self.uid);
            }
        }
    }
}

/// A ready cart opened for download. Holds an [`InUseGuard`] until dropped or consumed.
#[derive(Debug)]
pub struct Download {
    cart: Cart,
    name: DownloadName,
    plan: TarPlan,
    prebuilt: Option<PathBuf>,
    guard: InUseGuard,
}

pub(super) async fn open(
    inner: &Arc<Inner>,
    uid: &CartUid,
    name: Option<DownloadName>,
) -> Result<Download> {
    let check = |cart: Option<Cart>| -> Result<Cart> {
        match cart {
            None => Err(Error::NotFound(format!("cart {uid}"))),
            Some(c) if c.status == CartStatus::Deleted => {
                Err(Error::NotFound(format!("cart {uid}")))
            }
            Some(c) if c.status != CartStatus::Ready => Err(Error::NotReady { status: c.status }),
            Some(c) => Ok(c),
        }
    };
    check(inner.store.load(uid).await?.map(|(c, _)| c))?;
    let guard = InUseGuard::new(Arc::clone(inner), uid)?;
    // Re-check under the guard: a delete or eviction may have won the race.
    let now = inner.now();
    let cart = store::modify(inner.store.as_ref(), uid, |c| {
        check(Some(c.clone()))?;
        c.last_used = now;
        Ok(())
    })
    .await?;
    let name = name.unwrap_or_else(|| cart.default_download_name());
    let bundled = cart.bundle && cart.bundle_size.is_some();
    let default_stem = cart.default_download_name().stem();
    let (plan, prebuilt) = if bundled && name.stem() == default_stem {
        let plan = super::work::tar_plan(inner, &cart, &name);
        (plan, Some(inner.volume.bundle_path(uid)))
    } else if bundled {
        // Another top directory: the members are read out of the pre-built tar.
        (super::work::prebuilt_plan(inner, &cart, &name), None)
    } else {
        (super::work::tar_plan(inner, &cart, &name), None)
    };
    Ok(Download {
        cart,
        name,
        plan,
        prebuilt,
        guard,
    })
}

impl Download {
    /// The cart.
    pub fn cart(&self) -> &Cart {
        &self.cart
    }
    /// The download file name (for `Content-Disposition`).
    pub fn name(&self) -> &DownloadName {
        &self.name
    }
    /// The exact size of the tar (for `Content-Length`).
    pub fn content_length(&self) -> u64 {
        self.plan.len()
    }
    /// The pre-built tar file, when this download is exactly it (for range requests). Keep the
    /// `Download` alive while reading it so the cart is not evicted.
    pub fn prebuilt_path(&self) -> Option<&std::path::Path> {
        self.prebuilt.as_deref()
    }
    /// The in-use guard (its token is cancelled when the cart is deleted).
    pub fn guard(&self) -> &InUseGuard {
        &self.guard
    }

    /// Writes the tar into `out` on the calling thread (blocking I/O). Fails with
    /// [`Error::Cancelled`] if the cart is deleted meanwhile.
    pub fn write_blocking<W: Write>(&self, mut out: W) -> Result<W> {
        let token = self.guard.token.clone();
        let cancelled = move || token.is_cancelled();
        match &self.prebuilt {
            Some(path) => {
                let mut file = std::fs::File::open(path)?;
                let mut buf = vec![0u8; STREAM_CHUNK];
                loop {
                    if cancelled() {
                        return Err(Error::Cancelled);
                    }
                    let n = file.read(&mut buf)?;
                    let Some(chunk) = buf.get(..n) else { break };
                    if n == 0 {
                        break;
                    }
                    out.write_all(chunk)?;
                }
                out.flush()?;
                Ok(out)
            }
            None => self.plan.write(out, &cancelled),
        }
    }

    /// Writes the tar into `out` on the blocking thread pool.
    pub async fn write_to<W: Write + Send + 'static>(self, out: W) -> Result<W> {
        tokio::task::spawn_blocking(move || self.write_blocking(out))
            .await
            .map_err(|e| Error::Io(io::Error::other(e)))?
    }

    /// The tar as an async stream of chunks of at most [`STREAM_CHUNK`] bytes: headers are
    /// computed in memory and file bytes read with async file I/O (at most
    /// [`MAX_CONCURRENT_READS`](crate::bundle::MAX_CONCURRENT_READS) reads in flight in the
    /// process), so no thread is held while the reader is slow, and memory stays bounded. Ends with an `Err` item if reading fails
    /// or the cart is deleted; the cart stays in use until the stream is dropped.
    pub fn into_stream(self) -> impl Stream<Item = io::Result<Bytes>> + Send + 'static {
        let Download {
            plan,
            prebuilt,
            guard,
            ..
        } = self;
        let inner: BoxStream<'static, io::Result<Bytes>> = match prebuilt {
            Some(path) => {
                let len = plan.len();
                crate::bundle::file_range_stream(path, 0, len).boxed()
            }
            None => plan.into_stream().boxed(),
        };
        let token = guard.token.clone();
        futures::stream::unfold(Some((inner, token, guard)), |state| async move {
            let (mut inner, token, guard) = state?;
            tokio::select! {
                biased;
                _ = token.cancelled() => Some((
                    Err(io::Error::new(
                        io::ErrorKind::Interrupted,
                        "the cart was deleted during the download",
                    )),
                    None,
                )),
                item = inner.next() => match item {
                    None => None,
                    Some(Err(e)) => Some((Err(e), None)),
                    Some(Ok(chunk)) => Some((Ok(chunk), Some((inner, token, guard)))),
                },
            }
        })
    }
}
