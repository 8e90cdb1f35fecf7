//! The in-memory backend, always built.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;

use crate::clock::{Clock, SystemClock};
use crate::database::Database;
use crate::error::{Error, Missing, Result};
use crate::model::{
    self, CredentialsInfo, NewCredentials, NewSpec, SpecInfo, User, latest_updated_at_id,
    validate_credentials_id, validate_public_key, validate_spec_key, validate_sub,
};

/// A [`Database`] held in process memory, with the same rows and semantics as the DynamoDB
/// tables (two versions stored within one second share a row; lists are ordered like the
/// tables' sort keys). For tests, examples and single-process services.
///
/// Clones share the same data.
#[derive(Debug, Clone)]
pub struct MemoryDatabase {
    state: Arc<Mutex<State>>,
    clock: Arc<dyn Clock>,
}

#[derive(Debug, Default)]
struct State {
    /// Spec rows by (sub, updated_at_id), like the specs table.
    specs: BTreeMap<(String, String), SpecInfo>,
    /// Credentials by (sub, id), like the credentials table.
    credentials: BTreeMap<(String, String), NewCredentials>,
}

impl Default for MemoryDatabase {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryDatabase {
    /// An empty database on the system clock.
    pub fn new() -> Self {
        Self::with_clock(Arc::new(SystemClock))
    }

    /// An empty database whose `updated_at` comes from `clock`.
    pub fn with_clock(clock: Arc<dyn Clock>) -> Self {
        MemoryDatabase {
            state: Arc::default(),
            clock,
        }
    }

    /// Removes every spec and credentials of every user.
    pub fn clear(&self) {
        let mut state = self.lock();
        state.specs.clear();
        state.credentials.clear();
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave a half-written row (every mutation is a
        // single map operation), so a poisoned lock is still consistent.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn latest(&self, sub: &str, name: &str) -> Result<SpecInfo> {
        let id = validate_spec_key(sub, name)?;
        self.lock()
            .specs
            .get(&(sub.to_owned(), latest_updated_at_id(&id)))
            .cloned()
            .ok_or_else(|| {
                Error::NotFound(Missing::Spec {
                    sub: sub.to_owned(),
                    name: name.to_owned(),
                })
            })
    }
}

fn user_range<'a, V>(
    map: &'a BTreeMap<(String, String), V>,
    sub: &'a str,
) -> impl Iterator<Item = (&'a (String, String), &'a V)> {
    map.range((sub.to_owned(), String::new())..)
        .take_while(move |((s, _), _)| s == sub)
}

fn info(credentials: &NewCredentials) -> CredentialsInfo {
    CredentialsInfo {
        id: credentials.id.clone(),
        public_key: credentials.public_key.clone(),
        salt: credentials.salt.clone(),
    }
}

#[async_trait]
impl Database for MemoryDatabase {
    async fn count_customer_models(&self, sub: &str) -> Result<u64> {
        validate_sub(sub)?;
        let state = self.lock();
        Ok(user_range(&state.specs, sub)
            .filter(|((_, key), _)| key.starts_with("latest#"))
            .fold(0u64, |sum, (_, spec)| sum.saturating_add(spec.model_count)))
    }

    async fn create_update_spec(&self, spec: &NewSpec) -> Result<()> {
        let id = spec.validate()?;
        let updated_at = self.clock.now_seconds();
        let row = SpecInfo::from_new(spec, id.clone(), updated_at);
        let mut state = self.lock();
        state.specs.insert(
            (spec.sub.clone(), model::updated_at_id(updated_at, &id)),
            row.clone(),
        );
        state
            .specs
            .insert((spec.sub.clone(), latest_updated_at_id(&id)), row);
        Ok(())
    }

    async fn get_latest_spec_version(&self, sub: &str, name: &str) -> Result<String> {
        Ok(self.latest(sub, name)?.version)
    }

    async fn list_specs(&self, sub: &str) -> Result<Vec<SpecInfo>> {
        validate_sub(sub)?;
        let state = self.lock();
        Ok(user_range(&state.specs, sub)
            .filter(|((_, key), _)| key.starts_with("latest#"))
            .map(|(_, spec)| spec.clone())
            .collect())
    }

    async fn get_spec(&self, sub: &str, name: &str) -> Result<SpecInfo> {
        self.latest(sub, name)
    }

    async fn delete_spec(&self, sub: &str, name: &str) -> Result<()> {
        let id = validate_spec_key(sub, name)?;
        self.lock()
            .specs
            .retain(|(s, _), spec| !(s == sub && spec.id == id));
        Ok(())
    }

    async fn list_spec_versions(&self, sub: &str, name: &str) -> Result<Vec<SpecInfo>> {
        let id = validate_spec_key(sub, name)?;
        let state = self.lock();
        // Versioned keys of one id sort by their zero-padded time, as the index does.
        let versions: Vec<SpecInfo> = user_range(&state.specs, sub)
            .filter(|((_, key), spec)| spec.id == id && !key.starts_with("latest#"))
            .map(|(_, spec)| spec.clone())
            .collect();
        if versions.is_empty() {
            return Err(Error::NotFound(Missing::Spec {
                sub: sub.to_owned(),
                name: name.to_owned(),
            }));
        }
        Ok(versions)
    }

    async fn delete_all_specs(&self, sub: &str) -> Result<()> {
        validate_sub(sub)?;
        self.lock().specs.retain(|(s, _), _| s != sub);
        Ok(())
    }

    async fn list_credentials(&self, sub: &str) -> Result<Vec<CredentialsInfo>> {
        validate_sub(sub)?;
        let state = self.lock();
        Ok(user_range(&state.credentials, sub)
            .map(|(_, c)| info(c))
            .collect())
    }

    async fn create_update_credentials(&self, credentials: &NewCredentials) -> Result<()> {
        credentials.validate()?;
        self.lock().credentials.insert(
            (credentials.sub.clone(), credentials.id.clone()),
            credentials.clone(),
        );
        Ok(())
    }

    async fn get_credentials(&self, sub: &str, id: &str) -> Result<Option<CredentialsInfo>> {
        validate_sub(sub)?;
        validate_credentials_id(id)?;
        Ok(self
            .lock()
            .credentials
            .get(&(sub.to_owned(), id.to_owned()))
            .map(info))
    }

    async fn get_user(&self, public_key: &str) -> Result<Option<User>> {
        validate_public_key(public_key)?;
        Ok(self
            .lock()
            .credentials
            .values()
            .find(|c| c.public_key == public_key)
            .map(|c| User {
                sub: c.sub.clone(),
                salt: c.salt.clone(),
                secret_key_hash: c.secret_key_hash.clone(),
            }))
    }

    async fn delete_credentials(&self, sub: &str, id: &str) -> Result<()> {
        validate_sub(sub)?;
        validate_credentials_id(id)?;
        self.lock()
            .credentials
            .remove(&(sub.to_owned(), id.to_owned()));
        Ok(())
    }

    async fn delete_all_credentials(&self, sub: &str) -> Result<()> {
        validate_sub(sub)?;
        self.lock().credentials.retain(|(s, _), _| s != sub);
        Ok(())
    }
}
