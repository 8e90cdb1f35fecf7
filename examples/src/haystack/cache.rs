//! What a [`super::db::Db`] keeps between requests so that a `read` or a `hisRead` does not list
//! or fetch anything from the store that it fetched a moment ago: the manifest's version listing
//! (refreshed after [`Caches::ttl`], or at once when this process imports), the manifests by
//! version id and the parsed series by version id (both immutable, so never stale; bounded).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use haystack_core::Grid;
use tokio::time::Instant;

use super::db::Manifest;
use crate::store::VersionInfo;

/// How long a manifest version listing is trusted before it is listed again.
pub const LISTING_TTL: Duration = Duration::from_secs(2);
/// Most manifests and most parsed series kept (each map is emptied when full).
pub const MAX_CACHED: usize = 256;

/// The caches of one dataset.
#[derive(Debug)]
pub struct Caches {
    /// How long a listing is trusted.
    pub ttl: Duration,
    listing: Mutex<Option<(Instant, Arc<Vec<VersionInfo>>)>>,
    manifests: Mutex<HashMap<String, Arc<Manifest>>>,
    series: Mutex<HashMap<String, Arc<Grid>>>,
}

impl Default for Caches {
    fn default() -> Self {
        Self {
            ttl: LISTING_TTL,
            listing: Mutex::new(None),
            manifests: Mutex::new(HashMap::new()),
            series: Mutex::new(HashMap::new()),
        }
    }
}

fn put<V>(map: &Mutex<HashMap<String, V>>, key: String, value: V) {
    if let Ok(mut m) = map.lock() {
        if m.len() >= MAX_CACHED {
            m.clear();
        }
        m.insert(key, value);
    }
}

fn get<V: Clone>(map: &Mutex<HashMap<String, V>>, key: &str) -> Option<V> {
    map.lock().ok().and_then(|m| m.get(key).cloned())
}

impl Caches {
    /// The listing, if it is younger than the TTL.
    pub fn listing(&self) -> Option<Arc<Vec<VersionInfo>>> {
        let guard = self.listing.lock().ok()?;
        let (at, list) = guard.as_ref()?;
        (at.elapsed() < self.ttl).then(|| list.clone())
    }

    /// Keeps a fresh listing.
    pub fn set_listing(&self, list: Vec<VersionInfo>) -> Arc<Vec<VersionInfo>> {
        let list = Arc::new(list);
        if let Ok(mut l) = self.listing.lock() {
            *l = Some((Instant::now(), list.clone()));
        }
        list
    }

    /// Drops the listing (after this process wrote a manifest).
    pub fn forget_listing(&self) {
        if let Ok(mut l) = self.listing.lock() {
            *l = None;
        }
    }

    /// A manifest by version id.
    pub fn manifest(&self, version: &str) -> Option<Arc<Manifest>> {
        get(&self.manifests, version)
    }

    /// Keeps a manifest.
    pub fn set_manifest(&self, version: &str, m: Arc<Manifest>) {
        put(&self.manifests, version.to_owned(), m);
    }

    /// A parsed series by key and version id.
    pub fn series(&self, key: &str, version: &str) -> Option<Arc<Grid>> {
        get(&self.series, &format!("{key}@{version}"))
    }

    /// Keeps a parsed series.
    pub fn set_series(&self, key: &str, version: &str, g: Arc<Grid>) {
        put(&self.series, format!("{key}@{version}"), g);
    }
}
