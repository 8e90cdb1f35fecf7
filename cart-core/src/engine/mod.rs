//! The engine: stages carts' files, builds tars, serves downloads, evicts old carts.
//!
//! Work for each cart runs in its own task, at most
//! [`EngineConfig::max_concurrent_carts`] carts and [`EngineConfig::max_concurrent_files`] file
//! transfers at a time. Deleting a cart cancels its task and any download in progress (the
//! download stream ends with an error, never a silently short tar), then removes its files.
//! After a restart, call [`Engine::recover`]: carts left `waiting`, `staging` or `bundling` are
//! requeued, or end in `error` when they have been interrupted too often.
//!
//! # Leases, fencing and clock skew
//!
//! A server works on a cart only while it holds the cart's lease, taken with a fencing token
//! that grows with every claim ([`Lease::token`](crate::Lease::token)). Every write the
//! worker makes is conditional, in the store, on the lease still carrying that token
//! ([`store::modify_fenced`]), so once the lease is taken over, the old holder cannot
//! change the cart any more, not even mark it `ready`.
//!
//! The holder renews the lease every third of [`EngineConfig::lease_ttl`]; each renewal
//! changes the stored lease (its renewal count grows). The holder stops working on the cart
//! when the store says the lease is gone, or when no renewal succeeded for a whole lease period
//! on its own monotonic clock (a renewal that fails keeps failing: the work stops).
//!
//! The rule for taking a lease over: another server takes it only after seeing it
//! **unchanged (same token, same renewal count) for the holder's whole lease duration
//! ([`Lease::ttl_ms`](crate::Lease::ttl_ms)) measured on the taker's own monotonic clock**
//! (across [`Engine::recover`] passes), and the take-over write is conditional on the lease
//! still being exactly the one it saw. No wall-clock time of one server is ever compared with
//! another's, so wall-clock skew of any size cannot let a live lease be taken. The bound: a
//! live holder changes the lease at least every `ttl/3` (plus one store round trip) of its
//! own time, so a live lease is never taken while the servers' monotonic clocks run at rates
//! within a factor of about 3 of each other and store round trips stay under `2·ttl/3`; a
//! holder that is paused or partitioned longer than that loses the lease, and fencing makes
//! its late writes fail. Take-over takes between one and two lease periods plus the recovery
//! interval after the holder's last renewal. A server restarted under the same node id takes
//! its own leases back at once.

mod download;
mod space;
mod work;

pub use download::{Download, InUseGuard};

use crate::bundles::{BundleStore, LocalBundles};
use crate::store::{self, CartStore};
use crate::volume::{FsSpace, SpaceProbe, Volume};
use crate::{
    Archive, Cart, CartRequest, CartStatus, CartUid, Clock, Error, FileStatus, FileStep, Result,
    Step, SystemClock,
};
use std::collections::{HashMap, HashSet};
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Engine settings. `Default` gives the values documented on each field.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// This server's name in work leases (default `"local"`). Servers sharing a store need
    /// distinct names; a restarted server with the same name takes its old carts back at once.
    pub node_id: String,
    /// Carts worked on at once (default 4).
    pub max_concurrent_carts: NonZeroUsize,
    /// File transfers at once, over all carts (default 8).
    pub max_concurrent_files: NonZeroUsize,
    /// How long a file may take to become ready after staging (default 1 hour).
    pub stage_timeout: Duration,
    /// First wait between readiness polls; doubles up to `poll_max` (default 1 s).
    pub poll_initial: Duration,
    /// Longest wait between readiness polls (default 60 s).
    pub poll_max: Duration,
    /// Longest silence while reading a file's bytes (default 5 minutes).
    pub read_idle_timeout: Duration,
    /// Attempts for an archive call that fails with a retryable error (default 3).
    pub max_attempts: u32,
    /// Wait before the first retry; doubles each time (default 1 s).
    pub retry_backoff: Duration,
    /// Carts used more recently than this are never evicted (`LRU_BUFFER_TIME`, default 0).
    pub lru_buffer: Duration,
    /// How long a work lease lasts unless renewed (renewed every third of it; default 60 s).
    /// Another server takes the cart over only after seeing the lease unchanged this long on
    /// its own monotonic clock (see the [module documentation](self)).
    pub lease_ttl: Duration,
    /// How long a deleted cart's record is kept before [`Engine::purge_deleted`] forgets it
    /// (default 1 day).
    pub deleted_retention: Duration,
    /// Restarts a cart's work survives before it ends in `error` (default 3).
    pub max_restarts: u32,
    /// Byte-identical tars (every mtime = the cart's creation time) instead of file mtimes
    /// (default false).
    pub deterministic_tar: bool,
    /// Bytes of the volume always left free (default 0).
    pub space_reserve: u64,
    /// Largest file accepted when the archive does not report its size (default 1 GiB): that
    /// much room is reserved before pulling it, and a file that turns out larger fails.
    pub max_unknown_size: u64,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            node_id: "local".to_owned(),
            max_concurrent_carts: NonZeroUsize::new(4).unwrap_or(NonZeroUsize::MIN),
            max_concurrent_files: NonZeroUsize::new(8).unwrap_or(NonZeroUsize::MIN),
            stage_timeout: Duration::from_secs(3600),
            poll_initial: Duration::from_secs(1),
            poll_max: Duration::from_secs(60),
            read_idle_timeout: Duration::from_secs(300),
            max_attempts: 3,
            retry_backoff: Duration::from_secs(1),
            lru_buffer: Duration::ZERO,
            lease_ttl: Duration::from_secs(60),
            deleted_retention: Duration::from_secs(24 * 3600),
            max_restarts: 3,
            deterministic_tar: false,
            space_reserve: 0,
            max_unknown_size: 1 << 30,
        }
    }
}

/// Builds an [`Engine`].
#[derive(Debug)]
pub struct EngineBuilder {
    store: Arc<dyn CartStore>,
    archive: Arc<dyn Archive>,
    volume: Option<PathBuf>,
    config: EngineConfig,
    space: Arc<dyn SpaceProbe>,
    clock: Arc<dyn Clock>,
    bundles: Option<Arc<dyn BundleStore>>,
}

impl EngineBuilder {
    /// Where staged files and tars live (default: [`LocalBundles`] on the volume). With a
    /// shared store ([`BundleStore::is_shared`], e.g. `S3Bundles`) every server on the same
    /// cart store serves every cart, and the volume holds only files being pulled.
    pub fn bundles(mut self, bundles: Arc<dyn BundleStore>) -> Self {
        self.bundles = Some(bundles);
        self
    }
    /// The volume directory (`VOLUME_PATH`); required.
    pub fn volume(mut self, path: impl Into<PathBuf>) -> Self {
        self.volume = Some(path.into());
        self
    }
    /// Settings.
    pub fn config(mut self, config: EngineConfig) -> Self {
        self.config = config;
        self
    }
    /// How free space is measured (default: the real file system).
    pub fn space_probe(mut self, probe: impl SpaceProbe) -> Self {
        self.space = Arc::new(probe);
        self
    }
    /// The wall clock for timestamps and LRU age (default: the system clock).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }
    /// The engine. Fails when no volume was given or it cannot be created.
    pub fn build(self) -> Result<Engine> {
        let root = self
            .volume
            .ok_or_else(|| Error::invalid("volume", "no volume path given"))?;
        let volume = Volume::new(root)?;
        let bundles = self
            .bundles
            .unwrap_or_else(|| Arc::new(LocalBundles::new(volume.clone())));
        let (changed, _) = watch::channel(0u64);
        Ok(Engine {
            inner: Arc::new(Inner {
                files: Semaphore::new(self.config.max_concurrent_files.get()),
                carts: Semaphore::new(self.config.max_concurrent_carts.get()),
                store: self.store,
                archive: self.archive,
                volume,
                bundles,
                config: self.config,
                space: self.space,
                clock: self.clock,
                running: Mutex::new(HashMap::new()),
                seen_leases: Mutex::new(HashMap::new()),
                in_use: Mutex::new(InUse::default()),
                space_lock: tokio::sync::Mutex::new(()),
                reserved: AtomicU64::new(0),
                generation: AtomicU64::new(0),
                changed,
            }),
        })
    }
}

struct Running {
    generation: u64,
    token: CancellationToken,
    handle: Option<JoinHandle<()>>,
}

#[derive(Default)]
struct InUse {
    counts: HashMap<CartUid, (usize, CancellationToken)>,
    evicting: HashSet<CartUid>,
}

pub(crate) struct Inner {
    store: Arc<dyn CartStore>,
    archive: Arc<dyn Archive>,
    volume: Volume,
    bundles: Arc<dyn BundleStore>,
    config: EngineConfig,
    space: Arc<dyn SpaceProbe>,
    clock: Arc<dyn Clock>,
    files: Semaphore,
    carts: Semaphore,
    running: Mutex<HashMap<CartUid, Running>>,
    /// Other servers' leases as first seen unchanged, with when (monotonic): the evidence for
    /// judging a lease expired.
    seen_leases: Mutex<HashMap<CartUid, (crate::Lease, tokio::time::Instant)>>,
    in_use: Mutex<InUse>,
    space_lock: tokio::sync::Mutex<()>,
    reserved: AtomicU64,
    generation: AtomicU64,
    changed: watch::Sender<u64>,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("store", &self.store)
            .field("archive", &self.archive)
            .field("volume", &self.volume)
            .field("bundles", &self.bundles)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Inner {
    fn now(&self) -> crate::Timestamp {
        self.clock.now()
    }
    fn notify(&self) {
        self.changed.send_modify(|n| *n = n.wrapping_add(1));
    }
    fn lock_running(&self) -> std::sync::MutexGuard<'_, HashMap<CartUid, Running>> {
        // A panic while holding this lock cannot leave the map inconsistent (single inserts and
        // removes), so a poisoned lock is recovered.
        self.running.lock().unwrap_or_else(|p| p.into_inner())
    }
    fn lock_in_use(&self) -> std::sync::MutexGuard<'_, InUse> {
        // As above: plain counter updates only.
        self.in_use.lock().unwrap_or_else(|p| p.into_inner())
    }
    fn is_running(&self, uid: &CartUid) -> bool {
        self.lock_running().contains_key(uid)
    }
    fn is_in_use(&self, uid: &CartUid) -> bool {
        self.lock_in_use().counts.contains_key(uid)
    }
    /// Removes a cart's objects from the bundle store and anything of it on this volume
    /// (with a shared store: files that were being pulled).
    async fn remove_cart_files(&self, uid: &CartUid, files: usize) -> Result<()> {
        self.bundles.remove_cart(uid, files).await?;
        if self.bundles.local_volume().is_none() {
            self.volume.remove_cart(uid, files).await?;
        }
        Ok(())
    }
    /// Whether `lease` has been seen unchanged for its whole duration on this server's
    /// monotonic clock; records it as first seen now otherwise.
    fn lease_is_stale(&self, uid: &CartUid, lease: &crate::Lease) -> bool {
        let now = tokio::time::Instant::now();
        let ttl = lease.ttl_or(self.config.lease_ttl);
        let mut seen = self.seen_leases.lock().unwrap_or_else(|p| p.into_inner());
        match seen.get(uid) {
            Some((l, since)) if l == lease => now.duration_since(*since) >= ttl,
            _ => {
                seen.insert(uid.clone(), (lease.clone(), now));
                false
            }
        }
    }
}

/// What [`Engine::recover`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    /// Carts whose work was (re)started.
    pub resumed: Vec<CartUid>,
    /// Carts put in `error`, with the message.
    pub failed: Vec<(CartUid, String)>,
}

/// Stages carts and serves their tars. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

impl Engine {
    /// Starts building an engine on a store and an archive.
    pub fn builder(store: impl CartStore, archive: impl Archive) -> EngineBuilder {
        EngineBuilder {
            store: Arc::new(store),
            archive: Arc::new(archive),
            volume: None,
            config: EngineConfig::default(),
            space: Arc::new(FsSpace),
            clock: Arc::new(SystemClock),
            bundles: None,
        }
    }

    /// The settings.
    pub fn config(&self) -> &EngineConfig {
        &self.inner.config
    }

    /// The volume.
    pub fn volume(&self) -> &Volume {
        &self.inner.volume
    }

    /// Where staged files and tars live.
    pub fn bundles(&self) -> &dyn BundleStore {
        self.inner.bundles.as_ref()
    }

    /// The store.
    pub fn store(&self) -> &dyn CartStore {
        self.inner.store.as_ref()
    }

    /// Records a new cart and starts its work. [`Error::AlreadyExists`] when a cart with this
    /// uid exists and is not deleted (a deleted cart's uid may be reused).
    pub async fn submit(&self, uid: CartUid, request: CartRequest) -> Result<Cart> {
        let cart = Cart::new(uid.clone(), request, self.inner.now());
        self.inner.store.insert(&cart).await?;
        self.inner.notify();
        self.spawn(uid);
        Ok(cart)
    }

    /// The cart as stored (a deleted cart has status [`CartStatus::Deleted`]).
    pub async fn status(&self, uid: &CartUid) -> Result<Option<Cart>> {
        Ok(self.inner.store.load(uid).await?.map(|(c, _)| c))
    }

    /// The cart's header as stored (its `files` empty): one small store read whatever the
    /// number of files, for status checks (`HEAD`).
    pub async fn status_header(&self, uid: &CartUid) -> Result<Option<Cart>> {
        self.inner.store.load_header(uid).await
    }

    /// Waits until the cart is no longer `waiting`, `staging` or `bundling` and returns it.
    /// [`Error::NotFound`] when there is no such cart.
    pub async fn wait_settled(&self, uid: &CartUid) -> Result<Cart> {
        let mut rx = self.inner.changed.subscribe();
        loop {
            rx.borrow_and_update();
            let cart = self
                .status(uid)
                .await?
                .ok_or_else(|| Error::NotFound(format!("cart {uid}")))?;
            if cart.status.active().is_none() {
                return Ok(cart);
            }
            if rx.changed().await.is_err() {
                return Err(Error::Cancelled);
            }
        }
    }

    /// Deletes a cart: cancels its work and downloads, marks it `deleted`, removes the files its
    /// record names (see [`Volume`]). Whether a (not yet deleted) cart existed; for an unknown
    /// or deleted uid nothing on the volume is touched.
    pub async fn delete(&self, uid: &CartUid) -> Result<bool> {
        let now = self.inner.now();
        let marked = store::modify(self.inner.store.as_ref(), uid, |cart| {
            if cart.status == CartStatus::Deleted {
                return Err(Error::NotFound(format!("cart {uid}")));
            }
            mark_deleted(cart, now);
            Ok(())
        })
        .await;
        let cart = match marked {
            Ok(cart) => cart,
            // Unknown or already deleted: nothing on the volume is touched.
            Err(Error::NotFound(_)) => return Ok(false),
            Err(e) => return Err(e),
        };
        self.inner.notify();
        self.stop(uid).await;
        if let Some((_, token)) = self.inner.lock_in_use().counts.get(uid) {
            token.cancel();
        }
        self.inner.remove_cart_files(uid, cart.files.len()).await?;
        Ok(true)
    }

    /// Cancels and awaits a cart's task, if any.
    async fn stop(&self, uid: &CartUid) {
        let running = self.inner.lock_running().remove(uid);
        if let Some(mut r) = running {
            r.token.cancel();
            if let Some(h) = r.handle.take()
                && let Err(e) = h.await
            {
                tracing::error!(%uid, "cart task failed: {e}");
            }
        }
    }

    /// Stops all work without changing any cart's status (it resumes at the next
    /// [`recover`](Self::recover)), and waits for the tasks to end.
    pub async fn shutdown(&self) {
        let uids: Vec<CartUid> = self.inner.lock_running().keys().cloned().collect();
        for uid in uids {
            self.stop(&uid).await;
        }
    }

    /// Marks the cart in use (downloads): it will not be evicted until the guard drops, and
    /// deleting it cancels the guard's token. [`Error::NotFound`] while it is being evicted.
    pub fn acquire(&self, uid: &CartUid) -> Result<InUseGuard> {
        InUseGuard::new(Arc::clone(&self.inner), uid)
    }

    /// Picks up carts that need work: `waiting`, `staging` or `bundling` with no live lease by
    /// another node. Interrupted carts are requeued (unfinished files back to `waiting`, staged
    /// files whose copy is missing or the wrong size too); after
    /// [`EngineConfig::max_restarts`] interruptions a cart ends in `error`. Call at start and,
    /// with several servers, periodically.
    pub async fn recover(&self) -> Result<RecoveryReport> {
        let mut report = RecoveryReport::default();
        let now = self.inner.now();
        let mut leased_elsewhere = HashSet::new();
        let unsettled = [
            CartStatus::Waiting,
            CartStatus::Staging,
            CartStatus::Bundling,
        ];
        for header in self.inner.store.list_by_status(&unsettled).await? {
            let Some(active) = header.status.active() else {
                continue;
            };
            if self.inner.is_running(&header.uid) {
                continue;
            }
            if let Some(l) = &header.lease
                && l.owner != self.inner.config.node_id
            {
                leased_elsewhere.insert(header.uid.clone());
                if !self.inner.lease_is_stale(&header.uid, l) {
                    continue;
                }
                tracing::warn!(uid = %header.uid, owner = %l.owner, token = l.token,
                    "taking over a cart whose lease was not renewed for a whole lease period");
            }
            let seen_lease = header.lease.clone();
            let Some((cart, _)) = self.inner.store.load(&header.uid).await? else {
                continue;
            };
            let interrupted = active != crate::ActiveStatus::Waiting;
            let max = self.inner.config.max_restarts;
            let stored = self
                .inner
                .bundles
                .file_sizes(&cart.uid, cart.files.len())
                .await?;
            let files_on_disk: Vec<bool> = cart
                .files
                .iter()
                .zip(stored)
                .map(|(f, size)| size.is_some() && size == f.size)
                .collect();
            let node = self.inner.config.node_id.clone();
            let ttl = self.inner.config.lease_ttl;
            let mut taken = None;
            let result = store::modify(self.inner.store.as_ref(), &cart.uid, |c| {
                let Some(active) = c.status.active() else {
                    return Err(Error::Conflict("settled meanwhile".into()));
                };
                // Only the lease judged above is dropped: a renewal or a new claim since
                // then means someone is working on the cart.
                if c.lease != seen_lease {
                    return Err(Error::Conflict("lease changed meanwhile".into()));
                }
                c.lease = None;
                taken = None;
                if active == crate::ActiveStatus::Waiting {
                    return Ok(());
                }
                // The requeue is done under a lease of this server's, with a new token, so
                // the file records reset below are written fenced on it: if another server
                // claims the cart between the header write and these, they are refused
                // instead of undoing its work. The lease is released right after.
                let token = store::last_token(c) + 1;
                c.fence = token;
                c.lease = Some(crate::Lease {
                    owner: node.clone(),
                    expires: now.plus(ttl),
                    token,
                    renewals: 0,
                    ttl_ms: u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX),
                });
                taken = Some(token);
                c.restarts = c.restarts.saturating_add(1);
                if c.restarts > max {
                    let msg = crate::messages::failed_to_pull(&format!(
                        "work was interrupted {} times by restarts",
                        c.restarts
                    ));
                    c.apply(&Step::fail(active, msg), now)?;
                    c.lease = None;
                    taken = None;
                    return Ok(());
                }
                c.apply(&Step::requeue(active), now)?;
                c.bundle_size = None;
                for (f, on_disk) in c.files.iter_mut().zip(&files_on_disk) {
                    let lost = f.status == FileStatus::Staged && !on_disk;
                    if f.status == FileStatus::Staging || lost {
                        f.apply(&FileStep::Reset)?;
                    }
                }
                Ok(())
            })
            .await;
            if let (Ok(_), Some(token)) = (&result, taken) {
                store::release(self.inner.store.as_ref(), &cart.uid, token).await?;
            }
            match result {
                Ok(c) if c.status == CartStatus::Error => {
                    report.failed.push((c.uid.clone(), c.message.clone()));
                }
                Ok(c) => {
                    if interrupted {
                        tracing::info!(uid = %c.uid, "requeued interrupted cart");
                    }
                    self.spawn(c.uid.clone());
                    report.resumed.push(c.uid);
                }
                // Lease lost: another server claimed the cart while it was requeued here.
                Err(Error::Conflict(_) | Error::NotFound(_) | Error::LeaseLost(_)) => {}
                Err(e) => return Err(e),
            }
        }
        // Forget leases no longer seen (settled, released, or taken over just now).
        self.inner
            .seen_leases
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|uid, _| leased_elsewhere.contains(uid) && !report.resumed.contains(uid));
        self.inner.notify();
        Ok(report)
    }

    /// Forgets deleted carts whose deletion is older than
    /// [`EngineConfig::deleted_retention`] (each removal conditional on the cart still being
    /// that deleted cart); the uids purged. Call periodically (the cart server does, with
    /// recovery).
    pub async fn purge_deleted(&self) -> Result<Vec<CartUid>> {
        let retention =
            i64::try_from(self.inner.config.deleted_retention.as_millis()).unwrap_or(i64::MAX);
        let cutoff = crate::Timestamp::from_unix_millis(
            self.inner.now().unix_millis().saturating_sub(retention),
        );
        let mut purged = Vec::new();
        for c in self
            .inner
            .store
            .list_by_status(&[CartStatus::Deleted])
            .await?
        {
            if c.status == CartStatus::Deleted
                && c.updated < cutoff
                && self.inner.store.purge(&c.uid, cutoff).await?
            {
                purged.push(c.uid);
            }
        }
        Ok(purged)
    }

    /// The carts this engine has a work task for right now.
    pub fn working_on(&self) -> Vec<CartUid> {
        self.inner.lock_running().keys().cloned().collect()
    }

    fn spawn(&self, uid: CartUid) {
        let inner = Arc::clone(&self.inner);
        let generation = inner.generation.fetch_add(1, Ordering::Relaxed);
        let token = CancellationToken::new();
        let mut running = inner.lock_running();
        if running.contains_key(&uid) {
            return;
        }
        let task_inner = Arc::clone(&inner);
        let task_uid = uid.clone();
        let task_token = token.clone();
        let handle = tokio::spawn(async move {
            work::run_cart(&task_inner, &task_uid, &task_token).await;
            let mut running = task_inner.lock_running();
            if running
                .get(&task_uid)
                .is_some_and(|r| r.generation == generation)
            {
                running.remove(&task_uid);
            }
            drop(running);
            task_inner.notify();
        });
        running.insert(
            uid,
            Running {
                generation,
                token,
                handle: Some(handle),
            },
        );
    }

    /// Opens a ready cart for download as `name` (default: the cart's
    /// [`default_download_name`](Cart::default_download_name)). [`Error::NotFound`] for an
    /// unknown or deleted cart, [`Error::NotReady`] before `ready`. Records the use for LRU.
    pub async fn download(
        &self,
        uid: &CartUid,
        name: Option<crate::DownloadName>,
    ) -> Result<Download> {
        download::open(&self.inner, uid, name).await
    }

    /// Evicts least-recently-used carts until `bytes` are free (see [`EngineConfig::lru_buffer`]).
    /// [`Error::NoSpace`] when not enough can be evicted.
    pub async fn make_room(&self, bytes: u64) -> Result<()> {
        space::reserve(&self.inner, bytes, None).await.map(drop)
    }
}

pub(crate) fn mark_deleted(cart: &mut Cart, now: crate::Timestamp) {
    cart.status = CartStatus::Deleted;
    cart.message.clear();
    cart.updated = now;
    cart.lease = None;
}
