//! A cart's work: claim, stage and pull every file, build the tar, finish.

use super::{Inner, space};
use crate::messages::{NO_SPACE, failed_to_pull};
use crate::store;
use crate::{
    ArchiveId, Cart, CartFile, CartStatus, CartUid, DownloadName, Error, FileStatus, FileStep,
    Result, Step, TarMember, TarOptions, TarPlan,
};
use futures::{StreamExt, TryStreamExt};
use std::sync::Arc;
use tokio::io::AsyncWriteExt;
use tokio::time::{Instant, sleep, timeout, timeout_at};
use tokio_util::sync::CancellationToken;

/// Runs a cart to `ready` or `error`; returns early, leaving the status as is, when cancelled
/// (delete or shutdown), when another node holds the lease, or when the lease is lost (taken
/// over, or not renewed in time): every write here is fenced on the lease's token.
pub(super) async fn run_cart(inner: &Arc<Inner>, uid: &CartUid, token: &CancellationToken) {
    let _permit = tokio::select! {
        _ = token.cancelled() => return,
        p = inner.carts.acquire() => match p {
            Ok(p) => p,
            Err(_) => return,
        },
    };
    let owner = inner.config.node_id.clone();
    let ttl = inner.config.lease_ttl;
    let lease = match store::claim(inner.store.as_ref(), uid, &owner, inner.now(), ttl, None).await
    {
        Ok(lease) => lease,
        Err(Error::Conflict(_) | Error::NotFound(_)) => return,
        Err(e) => {
            tracing::error!(%uid, "cannot claim cart: {}", e.report());
            return;
        }
    };
    let work = Work {
        inner: Arc::clone(inner),
        uid: uid.clone(),
        fence: lease.token,
    };
    let result = tokio::select! {
        biased;
        _ = token.cancelled() => Err(Error::Cancelled),
        r = renew_lease(inner, uid, lease) => r,
        r = process(&work, token) => r,
    };
    match result {
        Ok(()) | Err(Error::Cancelled) => {}
        Err(Error::LeaseLost(why)) => {
            tracing::warn!(%uid, "stopped working on the cart: lease lost ({why})");
        }
        Err(e) => fail_cart(&work, &e).await,
    }
    if let Err(e) = store::release(inner.store.as_ref(), uid, work.fence).await {
        tracing::warn!(%uid, "cannot release lease: {}", e.report());
    }
}

/// One claim's work on a cart: every write goes through [`Work::modify`], fenced on the token.
pub(super) struct Work {
    inner: Arc<Inner>,
    uid: CartUid,
    fence: u64,
}

impl Work {
    async fn modify<F>(&self, f: F) -> Result<Cart>
    where
        F: FnMut(&mut Cart) -> Result<()> + Send,
    {
        store::modify_fenced(self.inner.store.as_ref(), &self.uid, self.fence, f).await
    }
}

/// Renews the lease every third of its lifetime; returns only when it is lost: the store says
/// it was taken ([`Error::LeaseLost`]), or no renewal succeeded for a whole lease period on
/// this server's monotonic clock (a renewal that fails stops the work before anyone may take
/// the cart over, see [`crate::engine`]).
async fn renew_lease(inner: &Arc<Inner>, uid: &CartUid, mut lease: crate::Lease) -> Result<()> {
    let ttl = inner.config.lease_ttl;
    // The lease is good until `valid_until` (from when the last successful renewal was sent).
    let mut valid_until = Instant::now() + ttl;
    loop {
        sleep(ttl / 3).await;
        let sent = Instant::now();
        let renewed = timeout_at(
            valid_until,
            store::renew(inner.store.as_ref(), uid, &lease, inner.now()),
        )
        .await;
        match renewed {
            Ok(Ok(l)) => {
                lease = l;
                valid_until = sent + ttl;
            }
            Ok(Err(Error::LeaseLost(why))) => return Err(Error::LeaseLost(why)),
            Ok(Err(Error::NotFound(_))) => {
                return Err(Error::LeaseLost(format!("cart {uid} is gone")));
            }
            Ok(Err(e)) if Instant::now() < valid_until => {
                tracing::warn!(%uid, "cannot renew lease (will retry): {}", e.report());
            }
            Ok(Err(e)) => {
                return Err(Error::LeaseLost(format!(
                    "not renewed for a whole lease period: {}",
                    e.report()
                )));
            }
            Err(_) => {
                return Err(Error::LeaseLost(
                    "renewal did not finish within the lease period".to_owned(),
                ));
            }
        }
    }
}

/// The message clients see for a failure.
fn message_for(e: &Error) -> String {
    match e {
        Error::NoSpace => NO_SPACE.to_owned(),
        other => failed_to_pull(&other.report()),
    }
}

async fn fail_cart(work: &Work, e: &Error) {
    let (inner, uid) = (&work.inner, &work.uid);
    let msg = message_for(e);
    let now = inner.now();
    let result = work
        .modify(|c| {
            let Some(active) = c.status.active() else {
                return Ok(());
            };
            c.apply(&Step::fail(active, msg.clone()), now)
        })
        .await;
    match result {
        Ok(_) | Err(Error::NotFound(_)) => {}
        Err(Error::LeaseLost(why)) => {
            tracing::warn!(%uid, "not recording failure {msg:?}: lease lost ({why})");
        }
        Err(err) => tracing::error!(%uid, "cannot record failure {msg:?}: {}", err.report()),
    }
    inner.notify();
}

async fn step(work: &Work, step: Step) -> Result<Cart> {
    let now = work.inner.now();
    let cart = work.modify(|c| c.apply(&step, now)).await?;
    work.inner.notify();
    Ok(cart)
}

/// One file step: writes that file's record alone, fenced on the lease (one store write,
/// whatever the number of files).
async fn file_step(
    work: &Work,
    files_key: &str,
    index: usize,
    file: &mut CartFile,
    fs: FileStep,
) -> Result<()> {
    let now = work.inner.now();
    let mut next = file.clone();
    next.apply(&fs)?;
    if matches!(fs, FileStep::Staged { .. }) {
        next.staged_at = Some(now);
    }
    let records = [(index, next)];
    let mut attempt = 0;
    loop {
        match work
            .inner
            .store
            .save_files(&work.uid, files_key, &records, Some(work.fence))
            .await
        {
            Err(Error::Conflict(_)) if attempt + 1 < store::MODIFY_ATTEMPTS => {
                attempt += 1;
                tokio::task::yield_now().await;
            }
            Err(Error::NotFound(_)) => return Err(Error::Cancelled),
            Err(e) => return Err(e),
            Ok(()) => break,
        }
    }
    let [(_, next)] = records;
    *file = next;
    Ok(())
}

async fn process(work: &Work, token: &CancellationToken) -> Result<()> {
    let (inner, uid) = (&work.inner, &work.uid);
    let (cart, _) = inner
        .store
        .load(uid)
        .await?
        .ok_or_else(|| Error::NotFound(format!("cart {uid}")))?;
    let cart = match cart.status {
        CartStatus::Waiting => step(work, Step::start_staging()).await?,
        CartStatus::Staging => cart,
        // Requeued carts come back as `waiting`; anything else is not ours to work on.
        _ => return Ok(()),
    };
    tokio::fs::create_dir_all(inner.volume.cart_dir(uid).join("tmp")).await?;
    let pending: Vec<(usize, CartFile)> = cart
        .files
        .iter()
        .cloned()
        .enumerate()
        .filter(|(_, f)| f.status != FileStatus::Staged)
        .collect();
    let width = inner.config.max_concurrent_files.get();
    let files_key = cart.files_key.as_str();
    futures::stream::iter(pending)
        .map(|(i, f)| stage_file(work, files_key, i, f))
        .buffer_unordered(width)
        .try_collect::<Vec<()>>()
        .await?;
    if token.is_cancelled() {
        return Err(Error::Cancelled);
    }
    if inner.bundles.local_volume().is_none() {
        // Every file is in the shared store: drop this cart's (now empty) local directories
        // before the cart is seen ready.
        inner.volume.remove_cart(uid, cart.files.len()).await?;
    }
    if cart.bundle {
        let cart = step(work, Step::start_bundling()).await?;
        let size = bundle(inner, &cart, token).await.map_err(|e| match e {
            Error::NoSpace | Error::Cancelled => e,
            other => Error::Bundle(Box::new(other)),
        })?;
        // The tar is complete and synced: drop the staged copies so the cart does not take
        // twice its size (downloads under another name read the members out of the tar). If the
        // server stops before `ready`, recovery finds the copies gone and pulls them again.
        inner.bundles.remove_files(uid, cart.files.len()).await?;
        let now = inner.now();
        work.modify(|c| {
            c.apply(&Step::bundled(), now)?;
            c.bundle_size = Some(size);
            Ok(())
        })
        .await?;
        inner.notify();
    } else {
        step(work, Step::staged()).await?;
    }
    Ok(())
}

/// The modification time of a cart's member in its tar: when it was staged.
fn member_mtime(cart: &Cart, f: &CartFile) -> u64 {
    f.staged_at.unwrap_or(cart.updated).unix_seconds()
}

fn tar_options(inner: &Inner, cart: &Cart) -> TarOptions {
    if inner.config.deterministic_tar {
        TarOptions::deterministic(cart.created.unix_seconds())
    } else {
        TarOptions::default()
    }
}

/// The tar of a cart's staged files under the top directory `name`: the one plan both the
/// pre-built bundle and a streamed download are written from.
pub(super) fn tar_plan(inner: &Inner, cart: &Cart, name: &DownloadName) -> TarPlan {
    let uid = &cart.uid;
    let members = cart
        .files
        .iter()
        .enumerate()
        .map(|(i, f)| {
            TarMember::new(
                f.path.clone(),
                inner.volume.file_path(uid, i),
                f.size.unwrap_or(0),
            )
            .with_mtime(member_mtime(cart, f))
        })
        .collect();
    TarPlan::new(name, members, tar_options(inner, cart))
}

/// The tar of a bundled cart under the top directory `name`, every member read out of the
/// pre-built tar (whose staged copies are gone).
pub(super) fn prebuilt_plan(inner: &Inner, cart: &Cart, name: &DownloadName) -> TarPlan {
    let uid = &cart.uid;
    let offsets = tar_plan(inner, cart, &cart.default_download_name()).data_offsets();
    let source = inner.volume.bundle_path(uid);
    let members = cart
        .files
        .iter()
        .zip(offsets)
        .map(|(f, offset)| {
            TarMember::new(f.path.clone(), source.clone(), f.size.unwrap_or(0))
                .at_offset(offset)
                .with_mtime(member_mtime(cart, f))
        })
        .collect();
    TarPlan::new(name, members, tar_options(inner, cart))
}

async fn bundle(inner: &Arc<Inner>, cart: &Cart, token: &CancellationToken) -> Result<u64> {
    let uid = &cart.uid;
    let plan = tar_plan(inner, cart, &cart.default_download_name());
    let size = plan.len();
    if inner.bundles.local_volume().is_none() {
        // Built from the stored files straight into the store (a multipart upload on S3):
        // nothing of it lands on this server's volume.
        let sources = (0..cart.files.len())
            .map(|i| (crate::bundles::Object::File(i), 0))
            .collect();
        let body = crate::bundles::tar::store_tar_stream(
            plan,
            sources,
            Arc::clone(&inner.bundles),
            uid.clone(),
        );
        let cancel = token.clone();
        let body = body
            .take_until(async move { cancel.cancelled().await })
            .boxed();
        let written = inner.bundles.write_bundle(uid, body, size).await;
        return match written {
            Err(_) if token.is_cancelled() => Err(Error::Cancelled),
            other => other.map(|()| size),
        };
    }
    let _room = space::reserve(inner, size, Some(uid)).await?;
    let partial = inner.volume.bundle_partial_path(uid);
    let dest = inner.volume.bundle_path(uid);
    let token = token.clone();
    // Bounded CPU and disk work: at most `max_concurrent_carts` of these run at once.
    tokio::task::spawn_blocking(move || -> Result<()> {
        let file = std::fs::File::create(&partial)?;
        let file = plan.write(file, &|| token.is_cancelled())?;
        file.sync_all()?;
        std::fs::rename(&partial, &dest)?;
        Ok(())
    })
    .await
    .map_err(|e| Error::Io(std::io::Error::other(e)))??;
    Ok(size)
}

/// Retries `f` on retryable errors, up to `max_attempts`, with doubling backoff.
async fn retry<T, F, Fut>(inner: &Inner, mut f: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    let max = inner.config.max_attempts.max(1);
    let mut delay = inner.config.retry_backoff;
    let mut attempt = 1;
    loop {
        match f().await {
            Err(e) if e.is_retryable() && attempt < max => {
                tracing::debug!("retrying after {} (attempt {attempt} of {max})", e.report());
                sleep(delay).await;
                delay = delay.saturating_mul(2);
                attempt += 1;
            }
            other => return other,
        }
    }
}

async fn stage_file(work: &Work, files_key: &str, index: usize, mut file: CartFile) -> Result<()> {
    let (inner, uid) = (&work.inner, &work.uid);
    let _permit = inner.files.acquire().await.map_err(|_| Error::Cancelled)?;
    if file.status == FileStatus::Waiting {
        file_step(work, files_key, index, &mut file, FileStep::Start).await?;
    }
    match pull_file(inner, uid, index, &file).await {
        Ok(size) => file_step(work, files_key, index, &mut file, FileStep::Staged { size }).await,
        Err(Error::Cancelled) => Err(Error::Cancelled),
        Err(e) => {
            let msg = e.report();
            if let Err(err) =
                file_step(work, files_key, index, &mut file, FileStep::Fail(msg)).await
            {
                tracing::warn!(%uid, "cannot record file failure: {}", err.report());
            }
            Err(e)
        }
    }
}

async fn pull_file(
    inner: &Arc<Inner>,
    uid: &CartUid,
    index: usize,
    file: &CartFile,
) -> Result<u64> {
    let id = &file.id;
    let archive = inner.archive.as_ref();
    let status = retry(inner, || archive.status(id)).await?;
    // A size the archive does not report is bounded by the configured maximum.
    let room = status.size.unwrap_or(inner.config.max_unknown_size);
    let _room = space::reserve(inner, room, Some(uid)).await?;
    let size = if status.ready {
        status.size
    } else {
        retry(inner, || archive.stage(id)).await?;
        wait_ready(inner, id).await?
    };
    if let Some(s) = size
        && s > room
    {
        // The file became bigger than what was reserved for it.
        return Err(Error::SizeMismatch {
            id: id.to_string(),
            expected: room,
            actual: s,
        });
    }
    retry(inner, || pull_once(inner, uid, index, file, size)).await
}

/// Polls until the file is ready, with doubling waits, until the stage deadline.
async fn wait_ready(inner: &Inner, id: &ArchiveId) -> Result<Option<u64>> {
    let limit = inner.config.stage_timeout;
    let deadline = Instant::now() + limit;
    let poll = async {
        let mut wait = inner.config.poll_initial;
        loop {
            sleep(wait).await;
            wait = wait.saturating_mul(2).min(inner.config.poll_max);
            let st = retry(inner, || inner.archive.status(id)).await?;
            if st.ready {
                return Ok(st.size);
            }
        }
    };
    timeout_at(deadline, poll).await.map_err(|_| {
        Error::Timeout(format!(
            "file {id} was not ready {}s after staging",
            limit.as_secs()
        ))
    })?
}

async fn pull_once(
    inner: &Inner,
    uid: &CartUid,
    index: usize,
    file: &CartFile,
    expected: Option<u64>,
) -> Result<u64> {
    let id = file.id.as_str();
    let partial = inner.volume.partial_path(uid, index);
    let idle = inner.config.read_idle_timeout;
    let mut stream = timeout(idle, inner.archive.read(&file.id))
        .await
        .map_err(|_| Error::Timeout(format!("opening file {id}")))??;
    let out = tokio::fs::File::create(&partial).await?;
    let mut out = tokio::io::BufWriter::with_capacity(1 << 20, out);
    let mut hasher = file.hash.as_ref().map(|h| h.kind().hasher());
    let mut written: u64 = 0;
    loop {
        let next = timeout(idle, stream.next()).await.map_err(|_| {
            Error::Timeout(format!(
                "no data for {}s while reading file {id}",
                idle.as_secs()
            ))
        })?;
        let Some(chunk) = next else { break };
        let chunk = chunk?;
        written += chunk.len() as u64;
        if let Some(exp) = expected
            && written > exp
        {
            return Err(Error::SizeMismatch {
                id: id.to_owned(),
                expected: exp,
                actual: written,
            });
        }
        if expected.is_none() && written > inner.config.max_unknown_size {
            return Err(Error::invalid(
                "size",
                format!(
                    "file {id} has no reported size and is larger than the maximum of {} bytes",
                    inner.config.max_unknown_size
                ),
            ));
        }
        if let Some(h) = hasher.as_mut() {
            h.update(&chunk);
        }
        out.write_all(&chunk).await?;
    }
    out.flush().await?;
    let out = out.into_inner();
    out.sync_all().await?;
    drop(out);
    if let Some(exp) = expected
        && written != exp
    {
        return Err(Error::SizeMismatch {
            id: id.to_owned(),
            expected: exp,
            actual: written,
        });
    }
    if let (Some(h), Some(want)) = (hasher, file.hash.as_ref()) {
        h.verify(want, id)?;
    }
    inner.bundles.put_file(uid, index, &partial).await?;
    Ok(written)
}
