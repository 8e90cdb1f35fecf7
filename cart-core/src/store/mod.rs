//! Where carts are recorded: the [`CartStore`] trait and its backends.
//!
//! Stores are deliberately small: insert, load with a version, conditional save, list, remove.
//! Everything else (status steps, file updates, leases, last use) is a read-modify-write through
//! [`modify`], which retries when a concurrent writer won the conditional save. With a shared
//! store (DynamoDB) this is what keeps several servers from stepping on each other.
//!
//! Workers write through [`modify_fenced`]: the store itself checks, in the same conditional
//! write, that the cart's lease still carries the worker's fencing token
//! ([`CartStore::save_fenced`]: a DynamoDB condition expression on the `lease_token`
//! attribute, a SQLite `UPDATE ... WHERE lease_token = ?`, a check under the memory store's
//! lock), so a server whose lease was taken over cannot change the cart any more.

use crate::{Cart, CartFile, CartStatus, CartSummary, CartUid, Error, Lease, Result, Timestamp};
use std::sync::Arc;

mod records;
pub use records::SCHEMA_VERSION;

#[cfg(feature = "dynamodb")]
mod dynamodb;
mod memory;
mod sqlite;

#[cfg(feature = "dynamodb")]
pub use dynamodb::{DynamoDbStore, STATUS_INDEX};
pub use memory::MemoryStore;
pub use sqlite::SqliteStore;

/// An opaque version of a stored cart, for conditional saves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Version(pub u64);

/// Records carts: a header record per cart (everything but the files, with the
/// [`SCHEMA_VERSION`]) and one record per file, so a cart of [`MAX_FILES`](crate::MAX_FILES)
/// files fits every backend and a file step writes one small record. Implementations must
/// make `insert` and `save` atomic conditional writes of the header.
#[async_trait::async_trait]
pub trait CartStore: Send + Sync + std::fmt::Debug + 'static {
    /// Records a new cart, header and files. Replaces a `deleted` cart of the same uid;
    /// otherwise [`Error::AlreadyExists`] when the uid is taken.
    async fn insert(&self, cart: &Cart) -> Result<Version>;
    /// The cart (header and files, [`Cart::files_key`] set) and its version, or `None`.
    async fn load(&self, uid: &CartUid) -> Result<Option<(Cart, Version)>>;
    /// The cart's header alone (its `files` empty), or `None`: one small read whatever the
    /// number of files, for status checks (`HEAD`). The default loads the whole cart.
    async fn load_header(&self, uid: &CartUid) -> Result<Option<Cart>> {
        Ok(self.load(uid).await?.map(|(c, _)| c.clone_header()))
    }
    /// Replaces the cart's header if its stored version is still `expected`:
    /// [`Error::Conflict`] when it changed, [`Error::NotFound`] when the cart is gone. Returns
    /// the new version. The files are not written (see [`save_files`](Self::save_files)).
    async fn save(&self, cart: &Cart, expected: Version) -> Result<Version>;
    /// Writes file records of the cart `uid` whose file records are named `files_key` (from
    /// [`load`](Self::load)): each `(index, file)` replaces the file at `index`. With `fence`,
    /// only while the header's lease carries that token ([`Error::LeaseLost`] otherwise,
    /// checked by the store in the same write). Does not change the header's version.
    async fn save_files(
        &self,
        uid: &CartUid,
        files_key: &str,
        files: &[(usize, CartFile)],
        fence: Option<u64>,
    ) -> Result<()>;
    /// Like [`save`](Self::save), and only while the stored cart's lease carries the fencing
    /// token `token`: [`Error::LeaseLost`] when it does not (taken over, released, deleted),
    /// checked by the store in the same conditional write.
    async fn save_fenced(&self, cart: &Cart, expected: Version, token: u64) -> Result<Version>;
    /// Every stored cart's header (deleted ones included), in no particular order.
    async fn list(&self) -> Result<Vec<CartSummary>>;
    /// The headers of the carts in one of `statuses`, found through an index where the
    /// backend has one (SQLite: on `status`; DynamoDB: a global secondary index, eventually
    /// consistent, so callers re-check each candidate with a conditional write). The default
    /// filters [`list`](Self::list).
    async fn list_by_status(&self, statuses: &[CartStatus]) -> Result<Vec<CartSummary>> {
        Ok(self
            .list()
            .await?
            .into_iter()
            .filter(|c| statuses.contains(&c.status))
            .collect())
    }
    /// Forgets a cart entirely (header and files); whether it existed.
    async fn remove(&self, uid: &CartUid) -> Result<bool>;
    /// Forgets a `deleted` cart (header and files) whose last change is older than `before`,
    /// in one conditional step; whether it did. A cart that is not deleted or changed since
    /// (a new cart of the same uid) is left alone.
    async fn purge(&self, uid: &CartUid, before: Timestamp) -> Result<bool>;
}

#[async_trait::async_trait]
impl<T: CartStore + ?Sized> CartStore for Arc<T> {
    async fn insert(&self, cart: &Cart) -> Result<Version> {
        (**self).insert(cart).await
    }
    async fn load_header(&self, uid: &CartUid) -> Result<Option<Cart>> {
        (**self).load_header(uid).await
    }
    async fn load(&self, uid: &CartUid) -> Result<Option<(Cart, Version)>> {
        (**self).load(uid).await
    }
    async fn save(&self, cart: &Cart, expected: Version) -> Result<Version> {
        (**self).save(cart, expected).await
    }
    async fn save_fenced(&self, cart: &Cart, expected: Version, token: u64) -> Result<Version> {
        (**self).save_fenced(cart, expected, token).await
    }
    async fn save_files(
        &self,
        uid: &CartUid,
        files_key: &str,
        files: &[(usize, CartFile)],
        fence: Option<u64>,
    ) -> Result<()> {
        (**self).save_files(uid, files_key, files, fence).await
    }
    async fn list(&self) -> Result<Vec<CartSummary>> {
        (**self).list().await
    }
    async fn list_by_status(&self, statuses: &[CartStatus]) -> Result<Vec<CartSummary>> {
        (**self).list_by_status(statuses).await
    }
    async fn remove(&self, uid: &CartUid) -> Result<bool> {
        (**self).remove(uid).await
    }
    async fn purge(&self, uid: &CartUid, before: Timestamp) -> Result<bool> {
        (**self).purge(uid, before).await
    }
}

#[async_trait::async_trait]
impl<T: CartStore + ?Sized> CartStore for Box<T> {
    async fn insert(&self, cart: &Cart) -> Result<Version> {
        (**self).insert(cart).await
    }
    async fn load_header(&self, uid: &CartUid) -> Result<Option<Cart>> {
        (**self).load_header(uid).await
    }
    async fn load(&self, uid: &CartUid) -> Result<Option<(Cart, Version)>> {
        (**self).load(uid).await
    }
    async fn save(&self, cart: &Cart, expected: Version) -> Result<Version> {
        (**self).save(cart, expected).await
    }
    async fn save_fenced(&self, cart: &Cart, expected: Version, token: u64) -> Result<Version> {
        (**self).save_fenced(cart, expected, token).await
    }
    async fn save_files(
        &self,
        uid: &CartUid,
        files_key: &str,
        files: &[(usize, CartFile)],
        fence: Option<u64>,
    ) -> Result<()> {
        (**self).save_files(uid, files_key, files, fence).await
    }
    async fn list(&self) -> Result<Vec<CartSummary>> {
        (**self).list().await
    }
    async fn list_by_status(&self, statuses: &[CartStatus]) -> Result<Vec<CartSummary>> {
        (**self).list_by_status(statuses).await
    }
    async fn remove(&self, uid: &CartUid) -> Result<bool> {
        (**self).remove(uid).await
    }
    async fn purge(&self, uid: &CartUid, before: Timestamp) -> Result<bool> {
        (**self).purge(uid, before).await
    }
}

/// Most file records [`modify`] hands to one [`CartStore::save_files`] call.
pub const FILES_PER_WRITE: usize = 1000;

/// How many times [`modify`] retries after losing a conditional save.
pub const MODIFY_ATTEMPTS: usize = 32;

/// Loads a cart, applies `f`, and saves it conditionally, retrying (up to [`MODIFY_ATTEMPTS`])
/// when another writer got there first. `f` may run several times; its error aborts without
/// saving. [`Error::NotFound`] when the cart does not exist. The header is saved
/// conditionally; files that `f` changed are written after it, fenced on the lease the header
/// was saved with (if any), so a crash in between leaves the header's step done and those
/// files as they were, and a claim by another server in between makes them fail with
/// [`Error::LeaseLost`] instead of overwriting that server's file records.
pub async fn modify<F>(store: &dyn CartStore, uid: &CartUid, f: F) -> Result<Cart>
where
    F: FnMut(&mut Cart) -> Result<()> + Send,
{
    modify_with(store, uid, None, f).await
}

/// [`modify`] for a worker holding the lease with fencing token `token`: fails with
/// [`Error::LeaseLost`] (without calling `f` again or writing) as soon as the stored lease no
/// longer carries the token, and the save itself is conditional on it
/// ([`CartStore::save_fenced`]).
pub async fn modify_fenced<F>(
    store: &dyn CartStore,
    uid: &CartUid,
    token: u64,
    f: F,
) -> Result<Cart>
where
    F: FnMut(&mut Cart) -> Result<()> + Send,
{
    modify_with(store, uid, Some(token), f).await
}

/// The last fencing token issued for a cart (a new cart of the same uid continues from it).
pub(crate) fn last_token(cart: &Cart) -> u64 {
    cart.fence.max(cart.lease.as_ref().map_or(0, |l| l.token))
}

/// Whether the cart's lease carries `token`.
pub fn holds(cart: &Cart, token: u64) -> bool {
    cart.lease.as_ref().is_some_and(|l| l.token == token)
}

async fn modify_with<F>(
    store: &dyn CartStore,
    uid: &CartUid,
    fence: Option<u64>,
    mut f: F,
) -> Result<Cart>
where
    F: FnMut(&mut Cart) -> Result<()> + Send,
{
    for _ in 0..MODIFY_ATTEMPTS {
        let Some((mut cart, version)) = store.load(uid).await? else {
            return Err(Error::NotFound(format!("cart {uid}")));
        };
        if let Some(token) = fence
            && !holds(&cart, token)
        {
            return Err(lease_lost(uid, token));
        }
        let before = cart.files.clone();
        f(&mut cart)?;
        if cart.files.len() != before.len() {
            return Err(Error::invalid(
                "cart change",
                "the number of files of a stored cart cannot change",
            ));
        }
        let changed: Vec<(usize, CartFile)> = cart
            .files
            .iter()
            .zip(&before)
            .enumerate()
            .filter(|(_, (now, was))| now != was)
            .map(|(i, (now, _))| (i, now.clone()))
            .collect();
        let saved = match fence {
            Some(token) => store.save_fenced(&cart, version, token).await,
            None => store.save(&cart, version).await,
        };
        match saved {
            Ok(_) => {
                let files_fence = fence.or_else(|| cart.lease.as_ref().map(|l| l.token));
                for chunk in changed.chunks(FILES_PER_WRITE) {
                    store
                        .save_files(uid, &cart.files_key, chunk, files_fence)
                        .await?;
                }
                return Ok(cart);
            }
            Err(Error::Conflict(_)) => {
                tokio::task::yield_now().await;
            }
            Err(e) => return Err(e),
        }
    }
    Err(Error::Conflict(format!(
        "cart {uid}: gave up after {MODIFY_ATTEMPTS} conflicting writes"
    )))
}

pub(crate) fn lease_lost(uid: &CartUid, token: u64) -> Error {
    Error::LeaseLost(format!("cart {uid} is no longer leased with token {token}"))
}

/// Takes the work lease on a cart for `owner` with a new fencing token (one more than any
/// before), valid for `ttl` from the holder's point of view. Succeeds when there is no lease,
/// when `owner` holds it (a restarted server taking its own carts back), or when the lease is
/// exactly `stale`: the one the caller judged expired (see [`crate::engine`] for the rule).
/// Otherwise [`Error::Conflict`]. Because the save is conditional on the cart's version, a
/// lease renewed meanwhile is never taken.
pub async fn claim(
    store: &dyn CartStore,
    uid: &CartUid,
    owner: &str,
    now: Timestamp,
    ttl: std::time::Duration,
    stale: Option<&Lease>,
) -> Result<Lease> {
    let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX);
    let cart = modify(store, uid, |cart| {
        if let Some(l) = &cart.lease
            && l.owner != owner
            && stale != Some(l)
        {
            return Err(Error::Conflict(format!(
                "cart {} is leased to {} (token {})",
                cart.uid, l.owner, l.token
            )));
        }
        let token = last_token(cart) + 1;
        cart.fence = token;
        cart.lease = Some(Lease {
            owner: owner.to_owned(),
            expires: now.plus(ttl),
            token,
            renewals: 0,
            ttl_ms,
        });
        Ok(())
    })
    .await?;
    cart.lease
        .ok_or_else(|| Error::Conflict(format!("cart {uid}: lease vanished")))
}

/// Renews a lease its holder still has (fenced on its token): the renewal count grows, which
/// is what tells other servers the holder is alive. [`Error::LeaseLost`] when it was taken.
pub async fn renew(
    store: &dyn CartStore,
    uid: &CartUid,
    lease: &Lease,
    now: Timestamp,
) -> Result<Lease> {
    let ttl = std::time::Duration::from_millis(lease.ttl_ms);
    let cart = modify_fenced(store, uid, lease.token, |cart| {
        if let Some(l) = cart.lease.as_mut() {
            l.renewals = l.renewals.saturating_add(1);
            l.expires = now.plus(ttl);
        }
        Ok(())
    })
    .await?;
    cart.lease.ok_or_else(|| lease_lost(uid, lease.token))
}

/// Drops the lease with fencing token `token`, if the cart still has it. A missing cart is not
/// an error.
pub async fn release(store: &dyn CartStore, uid: &CartUid, token: u64) -> Result<()> {
    match modify(store, uid, |cart| {
        if holds(cart, token) {
            cart.lease = None;
        }
        Ok(())
    })
    .await
    {
        Ok(_) | Err(Error::NotFound(_)) => Ok(()),
        Err(e) => Err(e),
    }
}
