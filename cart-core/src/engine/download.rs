//! Downloads: the in-use guard and the streamed tar.

use super::Inner;
use crate::bundle::STREAM_CHUNK;
use crate::bundles::tar::{Source, store_tar_stream};
use crate::bundles::{BundleStore, Object};
use crate::store;
use crate::{Cart, CartStatus, CartUid, DownloadName, Error, Result, TarPlan};
use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{Stream, StreamExt, TryStreamExt};
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
    /// Set when the bytes come from a bundle store that is not this volume.
    stored: Option<Stored>,
    guard: InUseGuard,
}

/// Where a download's bytes are in a (shared) bundle store.
#[derive(Debug)]
struct Stored {
    bundles: Arc<dyn BundleStore>,
    /// The download is exactly the pre-built tar.
    prebuilt: bool,
    /// Otherwise, where each member's bytes are.
    sources: Vec<Source>,
}

fn to_io(e: Error) -> io::Error {
    match e {
        Error::Io(e) => e,
        Error::NotFound(m) => io::Error::new(io::ErrorKind::NotFound, m),
        other => io::Error::other(other),
    }
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
    let (prebuilt, stored) = if inner.bundles.local_volume().is_some() {
        (prebuilt, None)
    } else {
        let sources = if bundled {
            plan.members()
                .iter()
                .map(|m| (Object::Bundle, m.offset))
                .collect()
        } else {
            (0..plan.members().len())
                .map(|i| (Object::File(i), 0))
                .collect()
        };
        let stored = Stored {
            bundles: Arc::clone(&inner.bundles),
            prebuilt: prebuilt.is_some(),
            sources,
        };
        (None, Some(stored))
    };
    Ok(Download {
        cart,
        name,
        plan,
        prebuilt,
        stored,
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
    /// Whether this download is exactly the pre-built tar, so byte ranges of it can be served
    /// ([`range_stream`](Self::range_stream)), from the volume or the shared store.
    pub fn is_prebuilt(&self) -> bool {
        self.prebuilt.is_some() || self.stored.as_ref().is_some_and(|s| s.prebuilt)
    }

    /// `count` bytes of the pre-built tar from `start`, streamed (from the volume under the
    /// process-wide read bound, or with a ranged read of the shared store); `None` unless
    /// [`is_prebuilt`](Self::is_prebuilt). Keep the `Download` alive while reading so the cart
    /// is not evicted.
    pub fn range_stream(
        &self,
        start: u64,
        count: u64,
    ) -> Option<BoxStream<'static, io::Result<Bytes>>> {
        if let Some(path) = &self.prebuilt {
            return Some(crate::bundle::file_range_stream(path.clone(), start, count).boxed());
        }
        let stored = self.stored.as_ref().filter(|s| s.prebuilt)?;
        let bundles = Arc::clone(&stored.bundles);
        let uid = self.cart.uid.clone();
        let open = async move { bundles.read(&uid, Object::Bundle, start, count).await };
        Some(
            futures::stream::once(open)
                .try_flatten()
                .map_err(to_io)
                .boxed(),
        )
    }

    /// The in-use guard (its token is cancelled when the cart is deleted).
    pub fn guard(&self) -> &InUseGuard {
        &self.guard
    }

    /// Writes the tar into `out` on the calling thread (blocking I/O). Fails with
    /// [`Error::Cancelled`] if the cart is deleted meanwhile. Only for carts on this server's
    /// volume; with a shared bundle store use [`write_to`](Self::write_to) or
    /// [`into_stream`](Self::into_stream).
    pub fn write_blocking<W: Write>(&self, mut out: W) -> Result<W> {
        if self.stored.is_some() {
            return Err(Error::invalid(
                "download",
                "a cart in a shared bundle store is read asynchronously (write_to, into_stream)",
            ));
        }
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

    /// Writes the tar into `out` (on the blocking thread pool for carts on the volume).
    pub async fn write_to<W: Write + Send + 'static>(self, mut out: W) -> Result<W> {
        if self.stored.is_some() {
            let mut stream = std::pin::pin!(self.into_stream());
            while let Some(chunk) = stream.next().await {
                out.write_all(&chunk?)?;
            }
            out.flush()?;
            return Ok(out);
        }
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
        let len = self.plan.len();
        let ranged = self.range_stream(0, len);
        let Download {
            cart,
            plan,
            stored,
            guard,
            ..
        } = self;
        let inner: BoxStream<'static, io::Result<Bytes>> = match (ranged, stored) {
            (Some(whole), _) => whole,
            (None, Some(s)) => store_tar_stream(plan, s.sources, s.bundles, cart.uid)
                .map_err(to_io)
                .boxed(),
            (None, None) => plan.into_stream().boxed(),
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
