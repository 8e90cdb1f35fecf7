//! Free-space checks and least-recently-used eviction.

use super::{Inner, mark_deleted};
use crate::store;
use crate::{CartStatus, CartUid, Error, Result};
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// Bytes promised to a transfer that is still writing; released on drop.
pub(crate) struct Reservation {
    inner: Arc<Inner>,
    bytes: u64,
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.inner.reserved.fetch_sub(self.bytes, Ordering::SeqCst);
    }
}

async fn probe<T: Send + 'static>(
    inner: &Arc<Inner>,
    f: impl FnOnce(&dyn crate::SpaceProbe, &std::path::Path) -> std::io::Result<T> + Send + 'static,
) -> Result<T> {
    let probe = Arc::clone(&inner.space);
    let root = inner.volume.root().to_path_buf();
    tokio::task::spawn_blocking(move || f(probe.as_ref(), &root))
        .await
        .map_err(|e| Error::Io(std::io::Error::other(e)))?
        .map_err(Error::from)
}

async fn available(inner: &Arc<Inner>) -> Result<u64> {
    probe(inner, |p, root| p.available(root)).await
}

/// Reserves `bytes` on the volume, evicting carts (oldest last use first) while short.
/// `current` is never evicted. [`Error::NoSpace`] when nothing more can go, and at once
/// (evicting nothing) when `bytes` is more than the whole volume less the reserve.
pub(crate) async fn reserve(
    inner: &Arc<Inner>,
    bytes: u64,
    current: Option<&CartUid>,
) -> Result<Reservation> {
    let capacity = probe(inner, |p, root| p.capacity(root)).await?;
    if bytes > capacity.saturating_sub(inner.config.space_reserve) {
        return Err(Error::NoSpace);
    }
    let _serial = inner.space_lock.lock().await;
    loop {
        let free = available(inner)
            .await?
            .saturating_sub(inner.reserved.load(Ordering::SeqCst))
            .saturating_sub(inner.config.space_reserve);
        if free >= bytes {
            inner.reserved.fetch_add(bytes, Ordering::SeqCst);
            return Ok(Reservation {
                inner: Arc::clone(inner),
                bytes,
            });
        }
        if !evict_one(inner, current).await? {
            return Err(Error::NoSpace);
        }
    }
}

/// Evicts the least recently used eligible cart; whether one went.
///
/// Only what this server can free is evicted: carts whose files are on its own volume. With a
/// shared bundle store the volume holds only files being pulled, so nothing is evicted here
/// (another server's carts, which may be in use there, are never marked deleted by this one).
async fn evict_one(inner: &Arc<Inner>, current: Option<&CartUid>) -> Result<bool> {
    if inner.bundles.is_shared() {
        return Ok(false);
    }
    let now = inner.now();
    let cutoff = crate::Timestamp::from_unix_millis(
        now.unix_millis()
            .saturating_sub(i64::try_from(inner.config.lru_buffer.as_millis()).unwrap_or(i64::MAX)),
    );
    let mut candidates: Vec<_> = inner
        .store
        .list_by_status(&[CartStatus::Ready, CartStatus::Error])
        .await?
        .into_iter()
        .filter(|c| matches!(c.status, CartStatus::Ready | CartStatus::Error))
        .filter(|c| c.last_used <= cutoff)
        .filter(|c| Some(&c.uid) != current)
        .filter(|c| !inner.is_running(&c.uid) && !inner.is_in_use(&c.uid))
        .collect();
    candidates.sort_by_key(|c| (c.last_used, c.uid.clone()));
    for victim in candidates {
        // A cart staged by another server on the same store has nothing on this volume.
        if !tokio::fs::try_exists(inner.volume.cart_dir(&victim.uid))
            .await
            .unwrap_or(false)
        {
            continue;
        }
        // Block new downloads of the victim while it goes; skip it if one started meanwhile.
        {
            let mut in_use = inner.lock_in_use();
            if in_use.counts.contains_key(&victim.uid) {
                continue;
            }
            in_use.evicting.insert(victim.uid.clone());
        }
        let last_used = victim.last_used;
        let result = store::modify(inner.store.as_ref(), &victim.uid, |c| {
            if !matches!(c.status, CartStatus::Ready | CartStatus::Error)
                || c.last_used != last_used
            {
                return Err(Error::Conflict("used meanwhile".into()));
            }
            mark_deleted(c, now);
            Ok(())
        })
        .await;
        let removed = match result {
            Ok(c) => inner
                .remove_cart_files(&victim.uid, c.files.len())
                .await
                .map(|()| true),
            Err(Error::Conflict(_) | Error::NotFound(_)) => Ok(false),
            Err(e) => Err(e),
        };
        inner.lock_in_use().evicting.remove(&victim.uid);
        if removed? {
            tracing::info!(uid = %victim.uid, "evicted least recently used cart");
            inner.notify();
            return Ok(true);
        }
    }
    Ok(false)
}
