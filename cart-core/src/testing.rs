//! The conformance suite every [`CartStore`] passes, and a scriptable in-memory [`Archive`].
//!
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! cart_core::testing::conformance(&cart_core::MemoryStore::new()).await;
//! # });
//! ```

pub use crate::bundles::conformance::bundle_conformance;

use crate::archive::{Archive, ArchiveStatus, ByteStream};
use crate::store::{self, CartStore, Version};
use crate::{
    ArchiveId, Cart, CartRequest, CartStatus, CartUid, Error, FileStatus, FileStep, Result, Step,
    Timestamp,
};
use bytes::Bytes;
use futures::StreamExt;
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

fn uid(prefix: &str) -> CartUid {
    static N: AtomicU64 = AtomicU64::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    CartUid::new(&format!("{prefix}-{}-{n}", std::process::id())).expect("valid test uid")
}

/// A two-file cart request.
pub fn sample_request() -> CartRequest {
    CartRequest::from_json(
        br#"{"fileids": [{"id": "foo.txt", "path": "1/2/3/foo.txt"},
                         {"id": "bar.csv", "path": "1/2/3/bar.csv", "hashtype": "sha1",
                          "hashsum": "a9993e364706816aba3e25717850c26c9cd0d89d"}]}"#,
    )
    .expect("valid sample request")
}

fn sample(prefix: &str) -> Cart {
    Cart::new(
        uid(prefix),
        sample_request(),
        Timestamp::from_unix_millis(1_000),
    )
}

/// Runs every scenario.
pub async fn conformance(store: &dyn CartStore) {
    insert_load_round_trip(store).await;
    insert_existing_is_rejected(store).await;
    deleted_uid_can_be_reused(store).await;
    save_is_conditional(store).await;
    save_missing_is_not_found(store).await;
    list_and_remove(store).await;
    steps_and_file_steps(store).await;
    leases_are_exclusive(store).await;
    writes_are_fenced_by_the_lease_token(store).await;
    file_records_are_written_alone_and_fenced(store).await;
    a_cart_larger_than_one_dynamodb_item_fits(store).await;
    tokens_keep_growing_when_a_uid_is_reused(store).await;
    deleted_carts_are_purged_after_retention(store).await;
    listing_by_status_finds_exactly_those(store).await;
    concurrent_modify_loses_nothing(store).await;
}

/// A cart reads back equal to what was inserted.
pub async fn insert_load_round_trip(store: &dyn CartStore) {
    let cart = sample("roundtrip");
    store.insert(&cart).await.expect("insert");
    let (back, _) = store.load(&cart.uid).await.expect("load").expect("present");
    assert_eq!(back, cart);
    assert!(store.load(&uid("absent")).await.expect("load").is_none());
}

/// A live uid cannot be inserted twice.
pub async fn insert_existing_is_rejected(store: &dyn CartStore) {
    let cart = sample("dup");
    store.insert(&cart).await.expect("insert");
    let err = store.insert(&cart).await.expect_err("second insert");
    assert!(matches!(err, Error::AlreadyExists(_)), "{err:?}");
}

/// A deleted cart's uid is free again.
pub async fn deleted_uid_can_be_reused(store: &dyn CartStore) {
    let mut cart = sample("reuse");
    let v = store.insert(&cart).await.expect("insert");
    cart.status = CartStatus::Deleted;
    store.save(&cart, v).await.expect("save");
    let fresh = sample("ignored");
    let fresh = Cart {
        uid: cart.uid.clone(),
        ..fresh
    };
    store.insert(&fresh).await.expect("reinsert over deleted");
    let (back, _) = store.load(&cart.uid).await.expect("load").expect("present");
    assert_eq!(back.status, CartStatus::Waiting);
}

/// `save` with a stale version fails with `Conflict`.
pub async fn save_is_conditional(store: &dyn CartStore) {
    let mut cart = sample("cas");
    let v1 = store.insert(&cart).await.expect("insert");
    cart.message = "first".into();
    let v2 = store.save(&cart, v1).await.expect("save");
    assert_ne!(v1, v2);
    cart.message = "stale".into();
    let err = store.save(&cart, v1).await.expect_err("stale save");
    assert!(matches!(err, Error::Conflict(_)), "{err:?}");
    let (back, v) = store.load(&cart.uid).await.expect("load").expect("present");
    assert_eq!(back.message, "first");
    assert_eq!(v, v2);
}

/// `save` of a cart that does not exist fails with `NotFound`.
pub async fn save_missing_is_not_found(store: &dyn CartStore) {
    let cart = sample("missing");
    let err = store.save(&cart, Version(1)).await.expect_err("save");
    assert!(matches!(err, Error::NotFound(_)), "{err:?}");
}

/// `list` shows inserted carts; `remove` forgets them.
pub async fn list_and_remove(store: &dyn CartStore) {
    let a = sample("list");
    let b = sample("list");
    store.insert(&a).await.expect("insert");
    store.insert(&b).await.expect("insert");
    let listed = store.list().await.expect("list");
    assert!(listed.iter().any(|c| c.uid == a.uid));
    assert!(listed.iter().any(|c| c.uid == b.uid));
    assert!(store.remove(&a.uid).await.expect("remove"));
    assert!(!store.remove(&a.uid).await.expect("remove again"));
    assert!(store.load(&a.uid).await.expect("load").is_none());
    let listed = store.list().await.expect("list");
    assert!(!listed.iter().any(|c| c.uid == a.uid));
}

/// Steps apply only from their `from` status, through `modify`.
pub async fn steps_and_file_steps(store: &dyn CartStore) {
    let cart = sample("steps");
    store.insert(&cart).await.expect("insert");
    let now = Timestamp::from_unix_millis(2_000);
    let c = store::modify(store, &cart.uid, |c| c.apply(&Step::start_staging(), now))
        .await
        .expect("stage");
    assert_eq!(c.status, CartStatus::Staging);
    let err = store::modify(store, &cart.uid, |c| c.apply(&Step::bundled(), now))
        .await
        .expect_err("bundled from staging");
    assert!(matches!(err, Error::Conflict(_)), "{err:?}");
    store::modify(store, &cart.uid, |c| {
        let f = c.files.get_mut(0).expect("file");
        f.apply(&FileStep::Start)?;
        f.apply(&FileStep::Staged { size: 5 })
    })
    .await
    .expect("file steps");
    let (back, _) = store.load(&cart.uid).await.expect("load").expect("present");
    assert_eq!(back.files[0].status, FileStatus::Staged);
    assert_eq!(back.files[0].size, Some(5));
    assert_eq!(back.files[1].status, FileStatus::Waiting);
    assert_eq!(back.updated, now);
}

/// Only one owner holds a lease until it is released or taken over as judged stale; tokens
/// grow with every claim and are never reused.
pub async fn leases_are_exclusive(store: &dyn CartStore) {
    let cart = sample("lease");
    store.insert(&cart).await.expect("insert");
    let t0 = Timestamp::from_unix_millis(10_000);
    let ttl = Duration::from_secs(30);
    let a1 = store::claim(store, &cart.uid, "a", t0, ttl, None)
        .await
        .expect("a claims");
    assert_eq!(a1.ttl_ms, 30_000);
    // b's wall clock is far ahead: that alone never lets b take a live lease.
    let far = t0.plus(Duration::from_secs(3600));
    let err = store::claim(store, &cart.uid, "b", far, ttl, None)
        .await
        .expect_err("b blocked");
    assert!(matches!(err, Error::Conflict(_)), "{err:?}");
    let a2 = store::renew(store, &cart.uid, &a1, t0.plus(Duration::from_secs(2)))
        .await
        .expect("a renews");
    assert_eq!(a2.token, a1.token);
    assert_eq!(a2.renewals, a1.renewals + 1);
    // b judged the lease as it was before the renewal stale: too late, it changed.
    let err = store::claim(store, &cart.uid, "b", far, ttl, Some(&a1))
        .await
        .expect_err("b took a renewed lease");
    assert!(matches!(err, Error::Conflict(_)), "{err:?}");
    let b = store::claim(store, &cart.uid, "b", far, ttl, Some(&a2))
        .await
        .expect("b takes the lease it saw unchanged");
    assert!(b.token > a2.token, "{b:?} after {a2:?}");
    let err = store::renew(store, &cart.uid, &a2, far)
        .await
        .expect_err("a renews a lease it lost");
    assert!(matches!(err, Error::LeaseLost(_)), "{err:?}");
    store::release(store, &cart.uid, a2.token)
        .await
        .expect("noop");
    let (back, _) = store.load(&cart.uid).await.expect("load").expect("present");
    assert_eq!(back.lease.as_ref().map(|l| l.owner.as_str()), Some("b"));
    store::release(store, &cart.uid, b.token)
        .await
        .expect("release");
    let a3 = store::claim(store, &cart.uid, "a", t0, ttl, None)
        .await
        .expect("a claims after release");
    assert!(
        a3.token > b.token,
        "a released token is not reused: {a3:?} after {b:?}"
    );
}

/// A worker's writes are fenced by the store on its lease token: a stale token fails with
/// `LeaseLost` even when the version it read is current.
pub async fn writes_are_fenced_by_the_lease_token(store: &dyn CartStore) {
    let cart = sample("fence");
    store.insert(&cart).await.expect("insert");
    let t0 = Timestamp::from_unix_millis(10_000);
    let ttl = Duration::from_secs(30);
    let a = store::claim(store, &cart.uid, "a", t0, ttl, None)
        .await
        .expect("a claims");
    store::modify_fenced(store, &cart.uid, a.token, |c| {
        c.message = "by a".into();
        Ok(())
    })
    .await
    .expect("a writes while it holds the lease");
    let b = store::claim(store, &cart.uid, "b", t0, ttl, Some(&a))
        .await
        .expect("b takes over");
    let err = store::modify_fenced(store, &cart.uid, a.token, |c| {
        c.message = "late write by a".into();
        Ok(())
    })
    .await
    .expect_err("a's late write");
    assert!(matches!(err, Error::LeaseLost(_)), "{err:?}");
    // The store checks the token itself: the current version with a's token is refused.
    let (mut current, version) = store.load(&cart.uid).await.expect("load").expect("present");
    current.status = CartStatus::Ready;
    let err = store
        .save_fenced(&current, version, a.token)
        .await
        .expect_err("save with a's token");
    assert!(matches!(err, Error::LeaseLost(_)), "{err:?}");
    // A cart without a lease refuses fenced writes too.
    store::release(store, &cart.uid, b.token)
        .await
        .expect("release");
    let (current, version) = store.load(&cart.uid).await.expect("load").expect("present");
    let err = store
        .save_fenced(&current, version, b.token)
        .await
        .expect_err("save after release");
    assert!(matches!(err, Error::LeaseLost(_)), "{err:?}");
    // A stale version with the right token is a plain conflict.
    let c = store::claim(store, &cart.uid, "c", t0, ttl, None)
        .await
        .expect("c claims");
    let err = store
        .save_fenced(&current, version, c.token)
        .await
        .expect_err("stale version");
    assert!(matches!(err, Error::Conflict(_)), "{err:?}");
    let (back, _) = store.load(&cart.uid).await.expect("load").expect("present");
    assert_eq!(back.message, "by a");
    assert_eq!(back.status, CartStatus::Waiting);
    let err = store
        .save_fenced(&sample("fence-missing"), Version(1), 1)
        .await
        .expect_err("missing cart");
    assert!(matches!(err, Error::NotFound(_)), "{err:?}");
}

/// `save_files` replaces single file records: the header's version does not move, other
/// files are untouched; with a fence it needs the lease, and it never writes into a newer
/// cart of the same uid.
pub async fn file_records_are_written_alone_and_fenced(store: &dyn CartStore) {
    let cart = sample("files");
    store.insert(&cart).await.expect("insert");
    let (loaded, v) = store.load(&cart.uid).await.expect("load").expect("present");
    assert!(!loaded.files_key.is_empty(), "load names the file records");
    let ttl = Duration::from_secs(30);
    let lease = store::claim(
        store,
        &cart.uid,
        "a",
        Timestamp::from_unix_millis(1),
        ttl,
        None,
    )
    .await
    .expect("claim");
    let (loaded, v_claimed) = store.load(&cart.uid).await.expect("load").expect("present");
    assert_ne!(v, v_claimed);
    let mut f = loaded.files[1].clone();
    f.apply(&FileStep::Start).expect("start");
    f.apply(&FileStep::Staged { size: 3 }).expect("staged");
    store
        .save_files(
            &cart.uid,
            &loaded.files_key,
            &[(1, f.clone())],
            Some(lease.token),
        )
        .await
        .expect("fenced file write");
    let (back, v_after) = store.load(&cart.uid).await.expect("load").expect("present");
    assert_eq!(v_after, v_claimed, "a file write leaves the header alone");
    assert_eq!(back.files[1], f);
    assert_eq!(back.files[0], cart.files[0]);
    let err = store
        .save_files(
            &cart.uid,
            &loaded.files_key,
            &[(0, f.clone())],
            Some(lease.token + 1),
        )
        .await
        .expect_err("wrong token");
    assert!(matches!(err, Error::LeaseLost(_)), "{err:?}");
    let err = store
        .save_files(&cart.uid, "not-the-files-key", &[(0, f.clone())], None)
        .await
        .expect_err("wrong files key");
    assert!(matches!(err, Error::NotFound(_)), "{err:?}");
    let err = store
        .save_files(&uid("files-absent"), &loaded.files_key, &[(0, f)], None)
        .await
        .expect_err("absent cart");
    assert!(matches!(err, Error::NotFound(_)), "{err:?}");
    let (back, _) = store.load(&cart.uid).await.expect("load").expect("present");
    assert_eq!(back.files[0], cart.files[0]);
}

/// A cart whose files together are far larger than a DynamoDB item (400 KB) round-trips.
pub async fn a_cart_larger_than_one_dynamodb_item_fits(store: &dyn CartStore) {
    let long = "d".repeat(200);
    let fileids: Vec<String> = (0..1500)
        .map(|i| format!(r#"{{"id": "{long}-{i}", "path": "{long}/{long}/f{i}"}}"#))
        .collect();
    let body = format!(r#"{{"fileids": [{}]}}"#, fileids.join(","));
    let request = CartRequest::from_json(body.as_bytes()).expect("request");
    let cart = Cart::new(uid("large"), request, Timestamp::from_unix_millis(5));
    let bytes = serde_json::to_vec(&cart).expect("json").len();
    assert!(bytes > 600_000, "{bytes}");
    store.insert(&cart).await.expect("insert a large cart");
    let (back, _) = store.load(&cart.uid).await.expect("load").expect("present");
    assert_eq!(back, cart);
    let listed = store.list().await.expect("list");
    let summary = listed.iter().find(|c| c.uid == cart.uid).expect("listed");
    assert_eq!(summary.file_count, 1500);
    assert!(store.remove(&cart.uid).await.expect("remove"));
    assert!(store.load(&cart.uid).await.expect("load").is_none());
}

/// A new cart over a deleted one of the same uid continues its fencing tokens, so a worker of
/// the old cart cannot write into the new one.
pub async fn tokens_keep_growing_when_a_uid_is_reused(store: &dyn CartStore) {
    let cart = sample("reuse-fence");
    store.insert(&cart).await.expect("insert");
    let ttl = Duration::from_secs(30);
    let t0 = Timestamp::from_unix_millis(1);
    let old = store::claim(store, &cart.uid, "a", t0, ttl, None)
        .await
        .expect("claim");
    store::modify(store, &cart.uid, |c| {
        c.status = CartStatus::Deleted;
        c.lease = None;
        Ok(())
    })
    .await
    .expect("delete");
    store.insert(&cart).await.expect("reinsert");
    let new = store::claim(store, &cart.uid, "b", t0, ttl, None)
        .await
        .expect("claim the new cart");
    assert!(new.token > old.token, "{new:?} after {old:?}");
    let err = store::modify_fenced(store, &cart.uid, old.token, |_| Ok(()))
        .await
        .expect_err("old worker");
    assert!(matches!(err, Error::LeaseLost(_)), "{err:?}");
}

/// `purge` forgets only deleted carts last changed before the cutoff.
pub async fn deleted_carts_are_purged_after_retention(store: &dyn CartStore) {
    let live = sample("purge-live");
    store.insert(&live).await.expect("insert");
    let gone = sample("purge-gone");
    store.insert(&gone).await.expect("insert");
    let at = Timestamp::from_unix_millis(50_000);
    store::modify(store, &gone.uid, |c| {
        c.status = CartStatus::Deleted;
        c.updated = at;
        Ok(())
    })
    .await
    .expect("delete");
    let later = Timestamp::from_unix_millis(60_000);
    assert!(!store.purge(&live.uid, later).await.expect("purge live"));
    assert!(!store.purge(&gone.uid, at).await.expect("purge too early"));
    assert!(store.load(&gone.uid).await.expect("load").is_some());
    assert!(store.purge(&gone.uid, later).await.expect("purge"));
    assert!(store.load(&gone.uid).await.expect("load").is_none());
    assert!(store.load(&live.uid).await.expect("load").is_some());
    assert!(!store.purge(&gone.uid, later).await.expect("purge again"));
}

/// `list_by_status` finds the carts in the given statuses and no others.
pub async fn listing_by_status_finds_exactly_those(store: &dyn CartStore) {
    let waiting = sample("by-status");
    store.insert(&waiting).await.expect("insert");
    let ready = sample("by-status");
    store.insert(&ready).await.expect("insert");
    store::modify(store, &ready.uid, |c| {
        c.status = CartStatus::Ready;
        c.last_used = Timestamp::from_unix_millis(77);
        Ok(())
    })
    .await
    .expect("ready");
    let found = store
        .list_by_status(&[CartStatus::Ready, CartStatus::Error])
        .await
        .expect("list ready");
    let hit = found
        .iter()
        .find(|c| c.uid == ready.uid)
        .expect("ready cart found");
    assert_eq!(hit.last_used, Timestamp::from_unix_millis(77));
    assert_eq!(hit.file_count, 2);
    assert!(
        found
            .iter()
            .all(|c| matches!(c.status, CartStatus::Ready | CartStatus::Error))
    );
    assert!(!found.iter().any(|c| c.uid == waiting.uid));
    let found = store
        .list_by_status(&[CartStatus::Waiting])
        .await
        .expect("list waiting");
    assert!(found.iter().any(|c| c.uid == waiting.uid));
    assert!(!found.iter().any(|c| c.uid == ready.uid));
}

/// Concurrent read-modify-writes through `modify` all land.
pub async fn concurrent_modify_loses_nothing(store: &dyn CartStore) {
    let cart = sample("concurrent");
    store.insert(&cart).await.expect("insert");
    let tasks = (0..8).map(|i| {
        let uid = cart.uid.clone();
        async move {
            store::modify(store, &uid, |c| {
                c.message.push_str(&format!("{i},"));
                Ok(())
            })
            .await
        }
    });
    for r in futures::future::join_all(tasks).await {
        r.expect("modify");
    }
    let (back, _) = store.load(&cart.uid).await.expect("load").expect("present");
    let mut parts: Vec<_> = back.message.split(',').filter(|s| !s.is_empty()).collect();
    parts.sort_unstable();
    assert_eq!(parts, ["0", "1", "2", "3", "4", "5", "6", "7"]);
}

/// How a [`MemoryArchive`] file behaves.
#[derive(Debug, Clone, Default)]
pub struct Behavior {
    /// Status polls answered "not ready" after staging; `None`: ready at once;
    /// `Some(u32::MAX)`: never.
    pub ready_after_polls: Option<u32>,
    /// Calls that fail with a retryable archive error (like a 5xx) before succeeding.
    pub failures: u32,
    /// Every call fails with a retryable error.
    pub always_fail: bool,
    /// Reported size instead of the real one.
    pub reported_size: Option<u64>,
    /// Report no size at all (as an archive that does not know it).
    pub size_unknown: bool,
    /// Serve these bytes instead of the stored ones (a corrupt copy).
    pub served: Option<Bytes>,
    /// The read stream never yields.
    pub stall: bool,
}

#[derive(Debug)]
struct Stored {
    data: Bytes,
    behavior: Behavior,
    staged: bool,
    polls: u32,
    failures: u32,
}

/// An archive in memory whose files can misbehave on purpose (see [`Behavior`]).
#[derive(Debug, Default)]
pub struct MemoryArchive {
    files: Mutex<HashMap<String, Stored>>,
}

impl MemoryArchive {
    /// An empty archive.
    pub fn new() -> Self {
        Self::default()
    }
    /// Adds a well-behaved file.
    pub fn insert(&self, id: &str, data: impl Into<Bytes>) {
        self.insert_with(id, data, Behavior::default());
    }
    /// Adds a file with a behavior.
    pub fn insert_with(&self, id: &str, data: impl Into<Bytes>, behavior: Behavior) {
        let mut files = self.files.lock().unwrap_or_else(|p| p.into_inner());
        files.insert(
            id.to_owned(),
            Stored {
                data: data.into(),
                behavior,
                staged: false,
                polls: 0,
                failures: 0,
            },
        );
    }

    fn with<T>(&self, id: &ArchiveId, f: impl FnOnce(&mut Stored) -> Result<T>) -> Result<T> {
        let mut files = self.files.lock().unwrap_or_else(|p| p.into_inner());
        let s = files
            .get_mut(id.as_str())
            .ok_or_else(|| Error::NotFound(format!("archive file {id}")))?;
        if s.behavior.always_fail || s.failures < s.behavior.failures {
            s.failures += 1;
            return Err(Error::Archive {
                message: format!("500 Internal Server Error for {id}"),
                retryable: true,
                source: None,
            });
        }
        f(s)
    }
}

#[async_trait::async_trait]
impl Archive for MemoryArchive {
    async fn stage(&self, id: &ArchiveId) -> Result<()> {
        self.with(id, |s| {
            s.staged = true;
            Ok(())
        })
    }

    async fn status(&self, id: &ArchiveId) -> Result<ArchiveStatus> {
        self.with(id, |s| {
            let ready = match s.behavior.ready_after_polls {
                None => true,
                Some(n) => {
                    if s.staged {
                        s.polls = s.polls.saturating_add(1);
                    }
                    s.staged && n != u32::MAX && s.polls > n
                }
            };
            Ok(ArchiveStatus {
                size: (!s.behavior.size_unknown)
                    .then(|| s.behavior.reported_size.unwrap_or(s.data.len() as u64)),
                ready,
                message: String::new(),
            })
        })
    }

    async fn read(&self, id: &ArchiveId) -> Result<ByteStream> {
        self.with(id, |s| {
            if s.behavior.stall {
                return Ok(futures::stream::pending().boxed());
            }
            let data = s.behavior.served.clone().unwrap_or_else(|| s.data.clone());
            let chunks: Vec<Result<Bytes>> = data
                .chunks(4096)
                .map(|c| Ok(Bytes::copy_from_slice(c)))
                .collect();
            Ok(futures::stream::iter(chunks).boxed())
        })
    }
}
