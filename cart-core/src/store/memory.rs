//! The in-memory cart store.

use super::{CartStore, Version};
use crate::{Cart, CartFile, CartStatus, CartSummary, CartUid, Error, Result, Timestamp};
use std::collections::HashMap;
use std::sync::Mutex;

/// Carts in a map; lost when the process ends. Always built.
#[derive(Debug, Default)]
pub struct MemoryStore {
    carts: Mutex<HashMap<CartUid, (Cart, u64)>>,
}

type Map = HashMap<CartUid, (Cart, u64)>;

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Map>> {
        self.carts
            .lock()
            .map_err(|_| Error::store("memory store lock poisoned"))
    }
}

/// Replaces the stored header fields with `cart`'s, keeping the stored files.
fn put_header(entry: &mut (Cart, u64), cart: &Cart, next: u64) {
    let mut header = cart.clone_header();
    header.files = std::mem::take(&mut entry.0.files);
    header.files_key = std::mem::take(&mut entry.0.files_key);
    *entry = (header, next);
}

#[async_trait::async_trait]
impl CartStore for MemoryStore {
    async fn insert(&self, cart: &Cart) -> Result<Version> {
        let mut map = self.lock()?;
        let mut stored = cart.clone();
        let next = match map.get(&cart.uid) {
            Some((old, _)) if old.status != CartStatus::Deleted => {
                return Err(Error::AlreadyExists(cart.uid.to_string()));
            }
            Some((old, v)) => {
                // Fencing tokens go on growing across carts of the same uid.
                stored.fence = stored.fence.max(super::last_token(old));
                v + 1
            }
            None => 1,
        };
        stored.files_key = super::records::new_files_key();
        map.insert(cart.uid.clone(), (stored, next));
        Ok(Version(next))
    }

    async fn load(&self, uid: &CartUid) -> Result<Option<(Cart, Version)>> {
        Ok(self.lock()?.get(uid).map(|(c, v)| (c.clone(), Version(*v))))
    }

    async fn save(&self, cart: &Cart, expected: Version) -> Result<Version> {
        let mut map = self.lock()?;
        let Some(entry) = map.get_mut(&cart.uid) else {
            return Err(Error::NotFound(format!("cart {}", cart.uid)));
        };
        if entry.1 != expected.0 {
            return Err(Error::Conflict(format!("cart {} changed", cart.uid)));
        }
        put_header(entry, cart, expected.0 + 1);
        Ok(Version(expected.0 + 1))
    }

    async fn save_fenced(&self, cart: &Cart, expected: Version, token: u64) -> Result<Version> {
        let mut map = self.lock()?;
        let Some(entry) = map.get_mut(&cart.uid) else {
            return Err(Error::NotFound(format!("cart {}", cart.uid)));
        };
        if !super::holds(&entry.0, token) {
            return Err(super::lease_lost(&cart.uid, token));
        }
        if entry.1 != expected.0 {
            return Err(Error::Conflict(format!("cart {} changed", cart.uid)));
        }
        put_header(entry, cart, expected.0 + 1);
        Ok(Version(expected.0 + 1))
    }

    async fn save_files(
        &self,
        uid: &CartUid,
        files_key: &str,
        files: &[(usize, CartFile)],
        fence: Option<u64>,
    ) -> Result<()> {
        let mut map = self.lock()?;
        let Some((cart, _)) = map.get_mut(uid) else {
            return Err(Error::NotFound(format!("cart {uid}")));
        };
        if let Some(token) = fence
            && !super::holds(cart, token)
        {
            return Err(super::lease_lost(uid, token));
        }
        if cart.files_key != files_key {
            // The files of an earlier cart of this uid: that cart is gone.
            return Err(Error::NotFound(format!("cart {uid} (files {files_key})")));
        }
        for (i, f) in files {
            let slot = cart
                .files
                .get_mut(*i)
                .ok_or_else(|| Error::NotFound(format!("file {i} of cart {uid}")))?;
            *slot = f.clone();
        }
        Ok(())
    }

    async fn list(&self) -> Result<Vec<CartSummary>> {
        Ok(self.lock()?.values().map(|(c, _)| c.summary()).collect())
    }

    async fn remove(&self, uid: &CartUid) -> Result<bool> {
        Ok(self.lock()?.remove(uid).is_some())
    }

    async fn purge(&self, uid: &CartUid, before: Timestamp) -> Result<bool> {
        let mut map = self.lock()?;
        let purgeable = map
            .get(uid)
            .is_some_and(|(c, _)| c.status == CartStatus::Deleted && c.updated < before);
        if purgeable {
            map.remove(uid);
        }
        Ok(purgeable)
    }
}
