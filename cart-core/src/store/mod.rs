//! Where carts are recorded: the [`CartStore`] trait and its backends.
//!
//! Stores are deliberately small: insert, load with a version, conditional save, list, remove.
//! Everything else (status steps, file updates, leases, last use) is a read-modify-write through
//! [`modify`], which retries when a concurrent writer won the conditional save. With a shared
//! store (DynamoDB) this is what keeps several servers from stepping on each other.

use crate::{Cart, CartUid, Error, Lease, Result, Timestamp};
use std::sync::Arc;

#[cfg(feature = "dynamodb")]
mod dynamodb;
mod memory;
mod sqlite;

#[cfg(feature = "dynamodb")]
pub use dynamodb::DynamoDbStore;
pub use memory::MemoryStore;
pub use sqlite::SqliteStore;

/// An opaque version of a stored cart, for conditional saves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Version(pub u64);

/// Records carts. Implementations must make `insert` and `save` atomic conditional writes.
#[async_trait::async_trait]
pub trait CartStore: Send + Sync + std::fmt::Debug + 'static {
    /// Records a new cart. Replaces a `deleted` cart of the same uid; otherwise
    /// [`Error::AlreadyExists`] when the uid is taken.
    async fn insert(&self, cart: &Cart) -> Result<Version>;
    /// The cart and its version, or `None`.
    async fn load(&self, uid: &CartUid) -> Result<Option<(Cart, Version)>>;
    /// Replaces the cart if its stored version is still `expected`: [`Error::Conflict`] when it
    /// changed, [`Error::NotFound`] when the cart is gone. Returns the new version.
    async fn save(&self, cart: &Cart, expected: Version) -> Result<Version>;
    /// Every stored cart (deleted ones included), in no particular order.
    async fn list(&self) -> Result<Vec<Cart>>;
    /// Forgets a cart entirely; whether it existed.
    async fn remove(&self, uid: &CartUid) -> Result<bool>;
}

#[async_trait::async_trait]
impl<T: CartStore + ?Sized> CartStore for Arc<T> {
    async fn insert(&self, cart: &Cart) -> Result<Version> {
        (**self).insert(cart).await
    }
    async fn load(&self, uid: &CartUid) -> Result<Option<(Cart, Version)>> {
        (**self).load(uid).await
    }
    async fn save(&self, cart: &Cart, expected: Version) -> Result<Version> {
        (**self).save(cart, expected).await
    }
    async fn list(&self) -> Result<Vec<Cart>> {
        (**self).list().await
    }
    async fn remove(&self, uid: &CartUid) -> Result<bool> {
        (**self).remove(uid).await
    }
}

#[async_trait::async_trait]
impl<T: CartStore + ?Sized> CartStore for Box<T> {
    async fn insert(&self, cart: &Cart) -> Result<Version> {
        (**self).insert(cart).await
    }
    async fn load(&self, uid: &CartUid) -> Result<Option<(Cart, Version)>> {
        (**self).load(uid).await
    }
    async fn save(&self, cart: &Cart, expected: Version) -> Result<Version> {
        (**self).save(cart, expected).await
    }
    async fn list(&self) -> Result<Vec<Cart>> {
        (**self).list().await
    }
    async fn remove(&self, uid: &CartUid) -> Result<bool> {
        (**self).remove(uid).await
    }
}

/// How many times [`modify`] retries after losing a conditional save.
pub const MODIFY_ATTEMPTS: usize = 32;

/// Loads a cart, applies `f`, and saves it conditionally, retrying (up to [`MODIFY_ATTEMPTS`])
/// when another writer got there first. `f` may run several times; its error aborts without
/// saving. [`Error::NotFound`] when the cart does not exist.
pub async fn modify<F>(store: &dyn CartStore, uid: &CartUid, mut f: F) -> Result<Cart>
where
    F: FnMut(&mut Cart) -> Result<()> + Send,
{
    for _ in 0..MODIFY_ATTEMPTS {
        let Some((mut cart, version)) = store.load(uid).await? else {
            return Err(Error::NotFound(format!("cart {uid}")));
        };
        f(&mut cart)?;
        match store.save(&cart, version).await {
            Ok(_) => return Ok(cart),
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

/// Takes (or renews) the work lease on a cart for `owner` until `now + ttl`. Succeeds when there
/// is no lease, it has expired, or `owner` already holds it; otherwise [`Error::Conflict`].
pub async fn claim(
    store: &dyn CartStore,
    uid: &CartUid,
    owner: &str,
    now: Timestamp,
    ttl: std::time::Duration,
) -> Result<Cart> {
    modify(store, uid, |cart| {
        if let Some(l) = &cart.lease
            && l.owner != owner
            && l.expires > now
        {
            return Err(Error::Conflict(format!(
                "cart {} is leased to {} until {:?}",
                cart.uid, l.owner, l.expires
            )));
        }
        cart.lease = Some(Lease {
            owner: owner.to_owned(),
            expires: now.plus(ttl),
        });
        Ok(())
    })
    .await
}

/// Drops `owner`'s lease on a cart, if it still holds it. A missing cart is not an error.
pub async fn release(store: &dyn CartStore, uid: &CartUid, owner: &str) -> Result<()> {
    match modify(store, uid, |cart| {
        if cart.lease.as_ref().is_some_and(|l| l.owner == owner) {
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
