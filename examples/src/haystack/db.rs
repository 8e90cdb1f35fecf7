//! The Haystack database over a [`VersionedStore`]: an import that writes a new consistent
//! snapshot only when something changed, and reads of the snapshot visible at any past time.
//!
//! A store holds any number of datasets side by side, each named by its file name (the seed's
//! `carytown.zinc`). Layout of the dataset `NAME` in the store:
//! - `NAME`: the entity grid, in the format its extension names (`.zinc`, `.json`, `.trio`), so
//!   that `s3://bucket/carytown.zinc` is the file itself;
//! - `.haystack/NAME/series/<key>`: one Zinc his grid (`ts`, `val`) per time series (in the
//!   time-series store, which may be the same store); see [`series_key`];
//! - `.haystack/NAME/manifest.json`: the version ids of the entity grid and of every series that
//!   make up one snapshot. It is written last, so it is the commit point of an import: a failed
//!   import never becomes visible, and the versions it wrote are deleted again.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, OnceLock};

use haystack_core::index::{Index, Indexed};
use haystack_core::{Grid, Row, Value};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::cache::Caches;
use super::formats::{Format, FormatError};
use crate::store::{StoreError, VersionedStore, validate_key};

/// The folder of the database's own objects (manifests, series) in a store.
pub const META_DIR: &str = ".haystack";
/// The dataset [`Db::new`] uses.
pub const DEFAULT_DATASET: &str = "site.zinc";

/// Errors of the Haystack database.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DbError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A file did not parse.
    #[error("{what}: {source}")]
    Format {
        /// Which file.
        what: String,
        /// Why.
        source: FormatError,
    },
    /// A source could not be read.
    #[error("reading {url}: {message}")]
    Source {
        /// The source URL.
        url: String,
        /// Why.
        message: String,
    },
    /// The data is not usable (bad manifest, bad hisURI, missing column).
    #[error("{0}")]
    Invalid(String),
    /// The store URL names no dataset (a server must not start on nothing).
    #[error("{0}")]
    NotFound(String),
}

/// The version ids that make up one snapshot.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Version id of the entity grid.
    pub entities: Option<String>,
    /// hisURI -> version id of its series.
    pub series: BTreeMap<String, String>,
    /// The S3 source the entity grid was last imported from, with its ETag then (so that the
    /// next import can tell by a HEAD whether it changed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<SourceStamp>,
    /// hisURI -> ETag of its S3 source when it was last read.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub series_etags: BTreeMap<String, String>,
}

/// An S3 source and its ETag when it was imported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceStamp {
    /// The source URL.
    pub url: String,
    /// Its ETag.
    pub etag: String,
}

/// One snapshot of the database: its entity grid, parsed, and the grid's indexes
/// ([`haystack_core::index::Index`]: tags, ids, reverse refs, numbers), built once on first use
/// (the database builds them when it loads the snapshot) and shared by every request that reads
/// this version. The index is a pure function of `grid`: a changed grid is a new snapshot
/// ([`Snapshot::new`]).
#[derive(Debug)]
pub struct Snapshot {
    /// The entity grid.
    pub grid: Grid,
    /// The manifest it came from.
    pub manifest: Manifest,
    /// When the manifest was written.
    pub written: OffsetDateTime,
    index: OnceLock<Index>,
}

impl Snapshot {
    /// A snapshot of `grid` made from `manifest` written at `written` (also how the server's
    /// write overlay builds the snapshot it serves); its indexes are built on first use.
    pub fn new(grid: Grid, manifest: Manifest, written: OffsetDateTime) -> Self {
        Snapshot {
            grid,
            manifest,
            written,
            index: OnceLock::new(),
        }
    }

    /// The grid with its indexes (built now if this is their first use): indexed filters,
    /// id lookups, reverse refs.
    pub fn indexed(&self) -> Indexed<'_> {
        self.index
            .get_or_init(|| Index::new(&self.grid))
            .on(&self.grid)
    }

    /// The row of the entity with id `id`.
    pub fn row_of(&self, id: &str) -> Option<usize> {
        self.indexed().row_of(id)
    }

    /// The entity with id `id`.
    pub fn entity(&self, id: &str) -> Option<Row<'_>> {
        self.grid.row(self.row_of(id)?)
    }
}

impl haystack_core::filter::Resolver for Snapshot {
    /// Follows `->` paths through the snapshot's id index, built once per snapshot (not per
    /// request).
    fn tag(&self, id: &haystack_core::Ref, name: &str) -> Option<&Value> {
        match self.entity(id.id())?.get(name)? {
            Value::Null => None,
            v => Some(v),
        }
    }
}

/// The database: an entity store and a time-series store (often the same).
#[derive(Debug)]
pub struct Db {
    store: Arc<dyn VersionedStore>,
    ts_store: Arc<dyn VersionedStore>,
    name: String,
    cache: Mutex<HashMap<String, Arc<Snapshot>>>,
    caches: Caches,
}

/// Most snapshots kept parsed in memory.
const CACHE_SNAPSHOTS: usize = 8;

/// Checks that `name` can name a dataset: one path segment with a Haystack file extension.
pub fn validate_dataset(name: &str) -> Result<Format, DbError> {
    let format = Format::from_path(name).filter(|f| *f != Format::Csv);
    match format {
        Some(f) if validate_key(name).is_ok() && !name.contains('/') && !name.starts_with('.') => {
            Ok(f)
        }
        _ => Err(DbError::Invalid(format!(
            "bad dataset name {name:?}: use a file name ending in .zinc, .json or .trio"
        ))),
    }
}

/// The key (under the dataset's series folder) of the series a `hisURI` names. A relative URI
/// keeps its path (`his/p1.zinc`); an absolute one (`https://host/a.zinc`, `s3://bucket/a.zinc`,
/// `/abs/a.zinc`, `file:///abs/a.zinc`) goes under `@abs/<scheme>/...`, so the two never meet.
pub fn series_key(his_uri: &str) -> Result<String, DbError> {
    let bad = || DbError::Invalid(format!("unusable hisURI {his_uri:?}"));
    let key = if let Some((scheme, rest)) = his_uri.split_once("://") {
        if scheme.is_empty()
            || !scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '+')
        {
            return Err(bad());
        }
        format!(
            "@abs/{}/{}",
            scheme.to_ascii_lowercase(),
            rest.trim_start_matches('/')
        )
    } else if let Some(rest) = his_uri.strip_prefix('/') {
        format!("@abs/file/{rest}")
    } else {
        his_uri.trim_start_matches("./").to_owned()
    };
    validate_key(&key).map_err(|_| bad())?;
    Ok(key)
}

pub(crate) fn parse(what: &str, format: Format, bytes: &[u8]) -> Result<Grid, DbError> {
    let text = std::str::from_utf8(bytes).map_err(|e| DbError::Format {
        what: what.to_owned(),
        source: FormatError::Unsupported(format!("not UTF-8: {e}")),
    })?;
    format.read_grid(text).map_err(|source| DbError::Format {
        what: what.to_owned(),
        source,
    })
}

impl Db {
    /// The dataset [`DEFAULT_DATASET`] in `store`, with series in `ts_store` (pass the same
    /// store for one).
    pub fn new(store: Arc<dyn VersionedStore>, ts_store: Arc<dyn VersionedStore>) -> Self {
        Self {
            store,
            ts_store,
            name: DEFAULT_DATASET.to_owned(),
            cache: Mutex::new(HashMap::new()),
            caches: Caches::default(),
        }
    }

    /// The dataset `name` (a file name such as `carytown.zinc`) in `store`, with series in
    /// `ts_store`.
    pub fn dataset(
        store: Arc<dyn VersionedStore>,
        ts_store: Arc<dyn VersionedStore>,
        name: &str,
    ) -> Result<Self, DbError> {
        validate_dataset(name)?;
        Ok(Self {
            store,
            ts_store,
            name: name.to_owned(),
            cache: Mutex::new(HashMap::new()),
            caches: Caches::default(),
        })
    }

    /// The dataset's name, which is also the key of its entity grid.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key of the dataset's manifest.
    pub fn manifest_key(&self) -> String {
        format!("{META_DIR}/{}/manifest.json", self.name)
    }

    /// The key of the series a `hisURI` names, in the time-series store.
    pub fn series_key(&self, his_uri: &str) -> Result<String, DbError> {
        Ok(format!(
            "{META_DIR}/{}/series/{}",
            self.name,
            series_key(his_uri)?
        ))
    }

    /// The format of the dataset's entity grid (by its name's extension).
    pub fn format(&self) -> Format {
        Format::from_path(&self.name).unwrap_or(Format::Zinc)
    }

    /// Whether anything was ever imported into the dataset.
    pub async fn exists(&self) -> Result<bool, DbError> {
        Ok(!self.store.versions(&self.manifest_key()).await?.is_empty())
    }

    /// The entity store.
    pub fn store(&self) -> &Arc<dyn VersionedStore> {
        &self.store
    }

    /// The time-series store.
    pub fn ts_store(&self) -> &Arc<dyn VersionedStore> {
        &self.ts_store
    }

    /// How long the manifest's version listing is trusted (default
    /// [`super::cache::LISTING_TTL`]); a manifest written by another process becomes visible
    /// within this time.
    pub fn with_listing_ttl(mut self, ttl: std::time::Duration) -> Self {
        self.caches.ttl = ttl;
        self
    }

    /// Forgets the cached manifest listing, so that the next request lists again.
    pub fn forget_cached_manifest(&self) {
        self.caches.forget_listing();
    }

    pub(crate) async fn manifest_at(
        &self,
        at: Option<OffsetDateTime>,
    ) -> Result<Option<(String, OffsetDateTime, Manifest)>, DbError> {
        let key = self.manifest_key();
        let versions = match self.caches.listing() {
            Some(v) => v,
            None => self.caches.set_listing(self.store.versions(&key).await?),
        };
        let found = match at {
            None => versions.last(),
            Some(at) => versions.iter().rev().find(|v| v.modified <= at),
        };
        let Some(v) = found.cloned() else {
            return Ok(None);
        };
        if let Some(m) = self.caches.manifest(&v.version_id) {
            return Ok(Some((v.version_id, v.modified, (*m).clone())));
        }
        let bytes = self.store.get_version(&key, &v.version_id).await?;
        let manifest: Manifest = serde_json::from_slice(&bytes)
            .map_err(|e| DbError::Invalid(format!("bad manifest {}: {e}", v.version_id)))?;
        self.caches
            .set_manifest(&v.version_id, Arc::new(manifest.clone()));
        Ok(Some((v.version_id, v.modified, manifest)))
    }

    /// The snapshot visible at `at` (the latest when `None`); `None` when nothing was imported
    /// by then.
    pub async fn snapshot(
        &self,
        at: Option<OffsetDateTime>,
    ) -> Result<Option<Arc<Snapshot>>, DbError> {
        let Some((id, written, manifest)) = self.manifest_at(at).await? else {
            return Ok(None);
        };
        if let Some(s) = self
            .cache
            .lock()
            .map_err(|_| DbError::Invalid("cache poisoned".into()))?
            .get(&id)
        {
            return Ok(Some(s.clone()));
        }
        let grid = match &manifest.entities {
            Some(v) => parse(
                &self.name,
                self.format(),
                &self.store.get_version(&self.name, v).await?,
            )?,
            None => Grid::new(),
        };
        let snapshot = Snapshot::new(grid, manifest, written);
        // Build the indexes once, at load, not in the first request that needs them.
        snapshot.indexed();
        let snapshot = Arc::new(snapshot);
        let mut cache = self
            .cache
            .lock()
            .map_err(|_| DbError::Invalid("cache poisoned".into()))?;
        if cache.len() >= CACHE_SNAPSHOTS {
            cache.clear();
        }
        cache.insert(id, snapshot.clone());
        Ok(Some(snapshot))
    }

    /// The series `his_uri` as of `snapshot` (`None` when it has none). Reads only that one
    /// series object, and not even that when it was parsed before.
    pub async fn series(
        &self,
        snapshot: &Snapshot,
        his_uri: &str,
    ) -> Result<Option<Arc<Grid>>, DbError> {
        let Some(version) = snapshot.manifest.series.get(his_uri) else {
            return Ok(None);
        };
        let key = self.series_key(his_uri)?;
        if let Some(g) = self.caches.series(&key, version) {
            return Ok(Some(g));
        }
        let bytes = self.ts_store.get_version(&key, version).await?;
        let grid = Arc::new(parse(&key, Format::Zinc, &bytes)?);
        self.caches.set_series(&key, version, grid.clone());
        Ok(Some(grid))
    }
}

/// Row index of each entity id.
pub fn index_ids(grid: &Grid) -> HashMap<String, usize> {
    grid.id_index()
        .into_iter()
        .map(|(id, row)| (id.to_owned(), row))
        .collect()
}

/// Merges a new series into the stored one: every stored point is kept, a new point with the
/// same timestamp replaces the stored one, and the result is sorted by `ts`. (shaystack's merge
/// dropped the newest points.)
pub fn merge_series(stored: Option<&Grid>, new: &Grid) -> Result<Grid, DbError> {
    let mut points: BTreeMap<i128, Vec<Value>> = BTreeMap::new();
    let mut cols: Vec<String> = new.cols().iter().map(|c| c.name().to_owned()).collect();
    if let Some(stored) = stored {
        for c in stored.cols() {
            if !cols.iter().any(|n| n == c.name()) {
                cols.push(c.name().to_owned());
            }
        }
    }
    if !cols.iter().any(|c| c == "ts") {
        return Err(DbError::Invalid("a series needs a `ts` column".into()));
    }
    for grid in stored.into_iter().chain(std::iter::once(new)) {
        for row in grid.rows() {
            let Some(Value::DateTime(ts)) = row.get("ts") else {
                return Err(DbError::Invalid(
                    "every series row needs a `ts` dateTime".into(),
                ));
            };
            let cells = cols
                .iter()
                .map(|c| row.get(c).cloned().unwrap_or(Value::Null))
                .collect();
            points.insert(ts.unix_nanos(), cells);
        }
    }
    let meta = new.meta().clone();
    let cols = cols
        .iter()
        .map(|c| haystack_core::Col::new(c.as_str()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| DbError::Invalid(e.to_string()))?;
    Grid::from_parts(meta, cols, points.into_values().collect())
        .map_err(|e| DbError::Invalid(e.to_string()))
}

pub use super::import::{ImportReport, ImportStep, read_source, resolve_url};

pub(crate) fn diff_counts(old: Option<&Grid>, new: &Grid, report: &mut ImportReport) {
    let new_index = index_ids(new);
    let Some(old) = old else {
        report.added = new_index.len();
        return;
    };
    let old_index = index_ids(old);
    for (id, &row) in &new_index {
        match old_index.get(id) {
            None => report.added += 1,
            Some(&old_row) => {
                let (a, b) = (
                    old.row(old_row).map(|r| r.to_dict()),
                    new.row(row).map(|r| r.to_dict()),
                );
                if a != b {
                    report.modified += 1;
                }
            }
        }
    }
    report.removed = old_index
        .keys()
        .filter(|id| !new_index.contains_key(*id))
        .count();
}
