//! Fencing: a server whose lease was taken over cannot change the cart any more.

mod common;

use cart_core::testing::MemoryArchive;
use cart_core::{
    Archive, ArchiveId, ArchiveStatus, ByteStream, CartStatus, CartStore, CartUid, Engine,
    EngineConfig, FileStatus, MemoryStore, Result,
};
use common::*;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;
use tokio::sync::Semaphore;

const TTL: Duration = Duration::from_secs(30);

/// An archive whose reads wait for a permit (and are counted).
#[derive(Debug)]
struct GatedArchive {
    files: MemoryArchive,
    gate: Arc<Semaphore>,
    reads: AtomicU32,
}

impl GatedArchive {
    fn new(gate: Arc<Semaphore>) -> Self {
        let files = MemoryArchive::new();
        files.insert("f", "data");
        GatedArchive {
            files,
            gate,
            reads: AtomicU32::new(0),
        }
    }
}

#[async_trait::async_trait]
impl Archive for GatedArchive {
    async fn stage(&self, id: &ArchiveId) -> Result<()> {
        self.files.stage(id).await
    }
    async fn status(&self, id: &ArchiveId) -> Result<ArchiveStatus> {
        self.files.status(id).await
    }
    async fn read(&self, id: &ArchiveId) -> Result<ByteStream> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        let permit = self.gate.acquire().await;
        drop(permit);
        self.files.read(id).await
    }
}

fn config(node: &str) -> EngineConfig {
    EngineConfig {
        node_id: node.to_owned(),
        lease_ttl: TTL,
        read_idle_timeout: Duration::from_secs(24 * 3600),
        stage_timeout: Duration::from_secs(24 * 3600),
        ..fast_config()
    }
}

/// Polls the store (real time, bounded) until `f` holds for the cart.
async fn until(
    store: &dyn CartStore,
    uid: &CartUid,
    what: &str,
    f: impl Fn(&cart_core::Cart) -> bool,
) {
    for _ in 0..5000 {
        if let Some((c, _)) = store.load(uid).await.unwrap()
            && f(&c)
        {
            return;
        }
        tokio::task::yield_now().await;
        std::thread::sleep(Duration::from_millis(1));
    }
    let cart = store.load(uid).await.unwrap();
    panic!("never {what}: {cart:?}");
}

/// Server A is frozen (its whole runtime, timers included, like a paused process) while it
/// holds the lease; server B, on a paused clock, sees the lease unchanged for a whole lease
/// period and takes the cart over. A wakes up with the file's bytes in hand: its writes
/// (file staged, cart ready) are refused by the store and it stops; the cart stays B's.
#[tokio::test(start_paused = true)]
async fn a_server_paused_past_expiry_cannot_mark_the_cart_ready() {
    let store = Arc::new(MemoryStore::new());
    let cart_uid = uid("fenced");
    let a_gate = Arc::new(Semaphore::new(0));
    let a_archive = Arc::new(GatedArchive::new(Arc::clone(&a_gate)));

    // Server A on its own thread and runtime (real clock).
    let (freeze_tx, mut freeze_rx) = tokio::sync::mpsc::unbounded_channel::<()>();
    let (frozen_tx, frozen_rx) = std::sync::mpsc::channel::<()>();
    let (thaw_tx, thaw_rx) = std::sync::mpsc::channel::<()>();
    let (done_tx, done_rx) = std::sync::mpsc::channel::<Vec<CartUid>>();
    let a_thread = {
        let store = Arc::clone(&store);
        let archive = Arc::clone(&a_archive);
        let cart_uid = cart_uid.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let volume = tempfile::tempdir().unwrap();
                let a = Engine::builder(store, archive)
                    .volume(volume.path())
                    .config(config("server-a"))
                    .build()
                    .unwrap();
                a.submit(cart_uid, request(&[("f", "f", b"data")], false))
                    .await
                    .unwrap();
                freeze_rx.recv().await.unwrap();
                frozen_tx.send(()).unwrap();
                // A blocking wait on a current-thread runtime: nothing of A runs, no timer fires.
                thaw_rx.recv().unwrap();
                for _ in 0..5000 {
                    if a.working_on().is_empty() {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
                done_tx.send(a.working_on()).unwrap();
            });
        })
    };

    // A claims the cart and waits for the file's bytes.
    until(store.as_ref(), &cart_uid, "staging by A", |c| {
        c.lease.as_ref().is_some_and(|l| l.owner == "server-a")
            && c.files[0].status == FileStatus::Staging
    })
    .await;
    for _ in 0..5000 {
        if a_archive.reads.load(Ordering::SeqCst) == 1 {
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(a_archive.reads.load(Ordering::SeqCst), 1);
    let a_token = store
        .load(&cart_uid)
        .await
        .unwrap()
        .unwrap()
        .0
        .lease
        .unwrap()
        .token;
    freeze_tx.send(()).unwrap();
    frozen_rx.recv().unwrap();
    // The bytes arrive while A is frozen.
    a_gate.add_permits(1);

    // Server B: its reads wait, so it holds the cart while A wakes up.
    let b_gate = Arc::new(Semaphore::new(0));
    let b_archive = Arc::new(GatedArchive::new(Arc::clone(&b_gate)));
    let b_volume = tempfile::tempdir().unwrap();
    let b = Engine::builder(Arc::clone(&store), Arc::clone(&b_archive))
        .volume(b_volume.path())
        .config(config("server-b"))
        .build()
        .unwrap();
    // B's wall clock being far ahead changes nothing: B only trusts its own monotonic clock.
    assert!(b.recover().await.unwrap().resumed.is_empty(), "first sight");
    tokio::time::advance(TTL / 2).await;
    assert!(
        b.recover().await.unwrap().resumed.is_empty(),
        "half a lease period is not enough"
    );
    tokio::time::advance(TTL / 2 + Duration::from_millis(1)).await;
    assert_eq!(b.recover().await.unwrap().resumed, vec![cart_uid.clone()]);
    until(store.as_ref(), &cart_uid, "staging by B", |c| {
        c.lease.as_ref().is_some_and(|l| l.owner == "server-b")
    })
    .await;
    let b_token = store
        .load(&cart_uid)
        .await
        .unwrap()
        .unwrap()
        .0
        .lease
        .unwrap()
        .token;
    assert!(b_token > a_token);

    // A wakes up: it has the bytes, but every write it tries is fenced out, and it stops.
    thaw_tx.send(()).unwrap();
    let still_working = done_rx.recv().unwrap();
    a_thread.join().unwrap();
    assert!(
        still_working.is_empty(),
        "A kept working: {still_working:?}"
    );
    let (cart, _) = store.load(&cart_uid).await.unwrap().unwrap();
    assert_eq!(cart.status, CartStatus::Staging, "{cart:?}");
    assert_eq!(
        cart.lease.as_ref().map(|l| l.owner.as_str()),
        Some("server-b")
    );
    assert_ne!(cart.files[0].status, FileStatus::Staged, "{cart:?}");

    // B finishes the cart.
    b_gate.add_permits(1);
    let cart = b.wait_settled(&cart_uid).await.unwrap();
    assert_eq!(cart.status, CartStatus::Ready, "{}", cart.message);
    assert_eq!(b_archive.reads.load(Ordering::SeqCst), 1);
}

/// A store whose writes fail (retryable) once switched off; reads still work.
#[derive(Debug)]
struct FlakyStore {
    inner: MemoryStore,
    down: std::sync::atomic::AtomicBool,
}

impl FlakyStore {
    fn check(&self) -> Result<()> {
        if self.down.load(Ordering::SeqCst) {
            return Err(cart_core::Error::Timeout("store unreachable".into()));
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl CartStore for FlakyStore {
    async fn insert(&self, cart: &cart_core::Cart) -> Result<cart_core::Version> {
        self.check()?;
        self.inner.insert(cart).await
    }
    async fn load(&self, uid: &CartUid) -> Result<Option<(cart_core::Cart, cart_core::Version)>> {
        self.inner.load(uid).await
    }
    async fn save(
        &self,
        cart: &cart_core::Cart,
        v: cart_core::Version,
    ) -> Result<cart_core::Version> {
        self.check()?;
        self.inner.save(cart, v).await
    }
    async fn save_fenced(
        &self,
        cart: &cart_core::Cart,
        v: cart_core::Version,
        token: u64,
    ) -> Result<cart_core::Version> {
        self.check()?;
        self.inner.save_fenced(cart, v, token).await
    }
    async fn save_files(
        &self,
        uid: &CartUid,
        files_key: &str,
        files: &[(usize, cart_core::CartFile)],
        fence: Option<u64>,
    ) -> Result<()> {
        self.check()?;
        self.inner.save_files(uid, files_key, files, fence).await
    }
    async fn list(&self) -> Result<Vec<cart_core::CartSummary>> {
        self.inner.list().await
    }
    async fn remove(&self, uid: &CartUid) -> Result<bool> {
        self.check()?;
        self.inner.remove(uid).await
    }
    async fn purge(&self, uid: &CartUid, before: cart_core::Timestamp) -> Result<bool> {
        self.inner.purge(uid, before).await
    }
}

/// Renewals that keep failing stop the work within one lease period, before anyone may take
/// the cart over.
#[tokio::test(start_paused = true)]
async fn failing_renewals_stop_the_work_within_a_lease_period() {
    let store = Arc::new(FlakyStore {
        inner: MemoryStore::new(),
        down: false.into(),
    });
    let gate = Arc::new(Semaphore::new(0));
    let archive = Arc::new(GatedArchive::new(Arc::clone(&gate)));
    let volume = tempfile::tempdir().unwrap();
    let a = Engine::builder(Arc::clone(&store), Arc::clone(&archive))
        .volume(volume.path())
        .config(config("server-a"))
        .build()
        .unwrap();
    let id = uid("unrenewed");
    a.submit(id.clone(), request(&[("f", "f", b"data")], false))
        .await
        .unwrap();
    // Until A waits for the file's bytes (its blocking-pool work done, on real time).
    for _ in 0..5000 {
        if archive.reads.load(Ordering::SeqCst) == 1 {
            break;
        }
        tokio::task::yield_now().await;
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(
        archive.reads.load(Ordering::SeqCst),
        1,
        "A never read the file"
    );
    let (cart, _) = store.load(&id).await.unwrap().unwrap();
    assert_eq!(cart.files[0].status, FileStatus::Staging);
    store.down.store(true, Ordering::SeqCst);
    tokio::time::sleep(TTL - Duration::from_secs(1)).await;
    assert_eq!(
        a.working_on(),
        vec![id.clone()],
        "still within the lease period"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(a.working_on().is_empty(), "kept working without a lease");
    let (cart, _) = store.load(&id).await.unwrap().unwrap();
    assert_eq!(cart.status, CartStatus::Staging);
    gate.add_permits(1);
}

/// A store that, once armed, lets another server claim the cart (and stage its file) right
/// after the next unfenced header write: the moment between recovery's header write and its
/// file record writes.
#[derive(Debug)]
struct ClaimAfterSave {
    inner: Arc<MemoryStore>,
    armed: std::sync::atomic::AtomicBool,
}

#[async_trait::async_trait]
impl CartStore for ClaimAfterSave {
    async fn insert(&self, cart: &cart_core::Cart) -> Result<cart_core::Version> {
        self.inner.insert(cart).await
    }
    async fn load(&self, uid: &CartUid) -> Result<Option<(cart_core::Cart, cart_core::Version)>> {
        self.inner.load(uid).await
    }
    async fn save(
        &self,
        cart: &cart_core::Cart,
        expected: cart_core::Version,
    ) -> Result<cart_core::Version> {
        let saved = self.inner.save(cart, expected).await?;
        if self.armed.swap(false, Ordering::SeqCst) {
            let now = cart_core::Timestamp::from_unix_millis(0);
            let lease = cart_core::store::claim(
                self.inner.as_ref(),
                &cart.uid,
                "other",
                now,
                TTL,
                cart.lease.as_ref(),
            )
            .await?;
            let (c, _) = self.inner.load(&cart.uid).await?.unwrap();
            let mut file = c.files[0].clone();
            if file.status == FileStatus::Waiting {
                file.apply(&cart_core::FileStep::Start)?;
            }
            file.apply(&cart_core::FileStep::Staged { size: 4 })?;
            self.inner
                .save_files(&cart.uid, &c.files_key, &[(0, file)], Some(lease.token))
                .await?;
        }
        Ok(saved)
    }
    async fn save_fenced(
        &self,
        cart: &cart_core::Cart,
        expected: cart_core::Version,
        token: u64,
    ) -> Result<cart_core::Version> {
        self.inner.save_fenced(cart, expected, token).await
    }
    async fn save_files(
        &self,
        uid: &CartUid,
        files_key: &str,
        files: &[(usize, cart_core::CartFile)],
        fence: Option<u64>,
    ) -> Result<()> {
        self.inner.save_files(uid, files_key, files, fence).await
    }
    async fn list(&self) -> Result<Vec<cart_core::CartSummary>> {
        self.inner.list().await
    }
    async fn remove(&self, uid: &CartUid) -> Result<bool> {
        self.inner.remove(uid).await
    }
    async fn purge(&self, uid: &CartUid, before: cart_core::Timestamp) -> Result<bool> {
        self.inner.purge(uid, before).await
    }
}

/// Recovery takes over a dead server's cart and resets its unfinished file; another server
/// claims the cart between recovery's header write and that file write: the reset is fenced
/// and refused, so the other server's staged file stays staged.
#[tokio::test(start_paused = true)]
async fn recovery_file_resets_are_fenced_against_a_claim_in_between() {
    let inner = Arc::new(MemoryStore::new());
    let id = uid("recovery-fenced");
    let cart = cart_core::Cart::new(
        id.clone(),
        request(&[("f", "f", b"data")], false),
        cart_core::Timestamp::from_unix_millis(0),
    );
    inner.insert(&cart).await.unwrap();
    // A server that died staging file 0.
    let now = cart_core::Timestamp::from_unix_millis(0);
    let dead = cart_core::store::claim(inner.as_ref(), &id, "dead", now, TTL, None)
        .await
        .unwrap();
    cart_core::store::modify_fenced(inner.as_ref(), &id, dead.token, |c| {
        c.apply(&cart_core::Step::start_staging(), now)?;
        c.files[0].apply(&cart_core::FileStep::Start)
    })
    .await
    .unwrap();

    let store = Arc::new(ClaimAfterSave {
        inner: Arc::clone(&inner),
        armed: std::sync::atomic::AtomicBool::new(false),
    });
    let archive = Arc::new(MemoryArchive::new());
    archive.insert("f", "data");
    let volume = tempfile::tempdir().unwrap();
    let b = Engine::builder(Arc::clone(&store), archive)
        .volume(volume.path())
        .config(config("server-b"))
        .build()
        .unwrap();
    assert!(b.recover().await.unwrap().resumed.is_empty(), "first sight");
    tokio::time::advance(TTL + Duration::from_millis(1)).await;
    store.armed.store(true, Ordering::SeqCst);
    let report = b.recover().await.unwrap();
    assert!(report.resumed.is_empty(), "{report:?}");
    let (c, _) = inner.load(&id).await.unwrap().unwrap();
    assert_eq!(c.lease.as_ref().map(|l| l.owner.as_str()), Some("other"));
    assert_eq!(
        c.files[0].status,
        FileStatus::Staged,
        "recovery's reset overwrote the other server's file record"
    );
}
