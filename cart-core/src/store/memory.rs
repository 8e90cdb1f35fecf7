//! The in-memory cart store.

use super::{CartStore, Version};
use crate::{Cart, CartStatus, CartUid, Error, Result};
use std::collections::HashMap;
use std::sync::Mutex;

/// Carts in a map; lost when the process ends. Always built.
#[derive(Debug, Default)]
pub struct MemoryStore {
    carts: Mutex<HashMap<CartUid, (Cart, u64)>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, HashMap<CartUid, (Cart, u64)>>> {
        self.carts
            .lock()
            .map_err(|_| Error::store("memory store lock poisoned"))
    }
}

#[async_trait::async_trait]
impl CartStore for MemoryStore {
    async fn insert(&self, cart: &Cart) -> Result<Version> {
        let mut map = self.lock()?;
        let next = match map.get(&cart.uid) {
            Some((old, _)) if old.status != CartStatus::Deleted => {
                return Err(Error::AlreadyExists(cart.uid.to_string()));
            }
            Some((_, v)) => v + 1,
            None => 1,
        };
        map.insert(cart.uid.clone(), (cart.clone(), next));
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
        *entry = (cart.clone(), expected.0 + 1);
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
        *entry = (cart.clone(), expected.0 + 1);
        Ok(Version(expected.0 + 1))
    }

    async fn list(&self) -> Result<Vec<Cart>> {
        Ok(self.lock()?.values().map(|(c, _)| c.clone()).collect())
    }

    async fn remove(&self, uid: &CartUid) -> Result<bool> {
        Ok(self.lock()?.remove(uid).is_some())
    }
}
