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
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use haystack_core::{Grid, Value};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

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
    /// Version id of `entities.zinc`.
    pub entities: Option<String>,
    /// hisURI -> version id of its series.
    pub series: BTreeMap<String, String>,
}

/// One snapshot of the database, parsed and indexed by id.
#[derive(Debug)]
pub struct Snapshot {
    /// The entity grid.
    pub grid: Grid,
    /// Row of each id.
    pub index: HashMap<String, usize>,
    /// The manifest it came from.
    pub manifest: Manifest,
    /// When the manifest was written.
    pub written: OffsetDateTime,
}

impl haystack_core::filter::Resolver for Snapshot {
    /// Follows `->` paths through the snapshot's id index, built once per snapshot (not per
    /// request).
    fn tag(&self, id: &haystack_core::Ref, name: &str) -> Option<&Value> {
        let row = *self.index.get(id.id())?;
        match self.grid.row(row)?.get(name)? {
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

fn parse(what: &str, format: Format, bytes: &[u8]) -> Result<Grid, DbError> {
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

    async fn manifest_at(
        &self,
        at: Option<OffsetDateTime>,
    ) -> Result<Option<(String, OffsetDateTime, Manifest)>, DbError> {
        let key = self.manifest_key();
        let Some(v) = self.store.version_at(&key, at).await? else {
            return Ok(None);
        };
        let bytes = self.store.get_version(&key, &v.version_id).await?;
        let manifest = serde_json::from_slice(&bytes)
            .map_err(|e| DbError::Invalid(format!("bad manifest {}: {e}", v.version_id)))?;
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
        let index = index_ids(&grid);
        let snapshot = Arc::new(Snapshot {
            grid,
            index,
            manifest,
            written,
        });
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

    /// The series `his_uri` as of `snapshot` (an empty his grid when it has none).
    pub async fn series(
        &self,
        snapshot: &Snapshot,
        his_uri: &str,
    ) -> Result<Option<Grid>, DbError> {
        let Some(version) = snapshot.manifest.series.get(his_uri) else {
            return Ok(None);
        };
        let key = self.series_key(his_uri)?;
        let bytes = self.ts_store.get_version(&key, version).await?;
        parse(&key, Format::Zinc, &bytes).map(Some)
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

/// What an import changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// Whether a new snapshot was written.
    pub changed: bool,
    /// Entities now present that were not.
    pub added: usize,
    /// Entities no longer present.
    pub removed: usize,
    /// Entities whose tags changed.
    pub modified: usize,
    /// Series that got new points, by hisURI.
    pub series_updated: Vec<String>,
    /// Series unchanged.
    pub series_unchanged: usize,
}

/// A step of an import, for progress reporting.
#[derive(Debug, Clone)]
pub enum ImportStep {
    /// The entity file was read (with its row count and number of series).
    Read {
        /// Entities read.
        entities: usize,
        /// Series named by `hisURI`.
        series: usize,
    },
    /// One series was processed.
    Series(String),
}

/// Reads the bytes at `url`: a local path, `file://`, `http(s)://` or `s3://bucket/key`.
pub async fn read_source(url: &str) -> Result<Bytes, DbError> {
    let err = |message: String| DbError::Source {
        url: url.to_owned(),
        message,
    };
    if url.starts_with("http://") || url.starts_with("https://") {
        let resp = reqwest::get(url).await.map_err(|e| err(e.to_string()))?;
        let resp = resp.error_for_status().map_err(|e| err(e.to_string()))?;
        return resp.bytes().await.map_err(|e| err(e.to_string()));
    }
    if let Some(rest) = url.strip_prefix("s3://") {
        let (bucket, key) = rest.split_once('/').ok_or_else(|| err("no key".into()))?;
        let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        let conf = aws_sdk_s3::config::Builder::from(&config)
            .force_path_style(true)
            .build();
        let out = aws_sdk_s3::Client::from_conf(conf)
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| err(format!("{e:?}")))?;
        let body = out.body.collect().await.map_err(|e| err(e.to_string()))?;
        return Ok(body.into_bytes());
    }
    let path = url.strip_prefix("file://").unwrap_or(url);
    tokio::fs::read(path)
        .await
        .map(Bytes::from)
        .map_err(|e| err(e.to_string()))
}

/// `relative` resolved against the location of `base` (a path or URL), as a browser would.
pub fn resolve_url(base: &str, relative: &str) -> String {
    if relative.contains("://") || relative.starts_with('/') {
        return relative.to_owned();
    }
    match base.rfind('/') {
        Some(i) => format!("{}/{}", &base[..i], relative.trim_start_matches("./")),
        None => relative.to_owned(),
    }
}

impl Db {
    /// Imports the Haystack file at `source` (format by extension) and the series its entities'
    /// `hisURI` tags name (relative to `source`). Writes a new snapshot only when the entities or
    /// a series changed; on any failure deletes what it wrote, so the store is left unchanged.
    pub async fn import(
        &self,
        source: &str,
        progress: &(dyn Fn(ImportStep) + Send + Sync),
    ) -> Result<ImportReport, DbError> {
        let format = Format::from_path(source).ok_or_else(|| {
            DbError::Invalid(format!(
                "unknown format of {source:?} (use .zinc, .json or .trio)"
            ))
        })?;
        let source_bytes = read_source(source).await?;
        let grid = parse(source, format, &source_bytes)?;
        // A series named by several points is fetched and written once.
        let mut seen = std::collections::HashSet::new();
        let his_uris: Vec<String> = grid
            .rows()
            .filter_map(|r| match r.get("hisURI") {
                Some(Value::Uri(u)) | Some(Value::Str(u)) => Some(u.to_string()),
                _ => None,
            })
            .filter(|u| seen.insert(u.clone()))
            .collect();
        progress(ImportStep::Read {
            entities: grid.len(),
            series: his_uris.len(),
        });

        let current = self.manifest_at(None).await?;
        let old = self.snapshot(None).await?;
        let mut manifest = current.as_ref().map(|c| c.2.clone()).unwrap_or_default();
        let mut report = ImportReport::default();
        let mut written: Vec<(Arc<dyn VersionedStore>, String, String)> = Vec::new();

        let result = async {
            for his_uri in &his_uris {
                let key = self.series_key(his_uri)?;
                let url = resolve_url(source, his_uri);
                let series_format = Format::from_path(his_uri).unwrap_or(Format::Zinc);
                let new = parse(&url, series_format, &read_source(&url).await?)?;
                let stored = match (&old, manifest.series.get(his_uri)) {
                    (Some(snapshot), Some(_)) => self.series(snapshot, his_uri).await?,
                    _ => None,
                };
                let merged = merge_series(stored.as_ref(), &new)?;
                if stored.as_ref() == Some(&merged) {
                    report.series_unchanged += 1;
                } else {
                    let v = self
                        .ts_store
                        .put(&key, Bytes::from(haystack_zinc::to_string(&merged)))
                        .await?;
                    written.push((self.ts_store.clone(), key, v.version_id.clone()));
                    manifest.series.insert(his_uri.clone(), v.version_id);
                    report.series_updated.push(his_uri.clone());
                }
                progress(ImportStep::Series(his_uri.clone()));
            }
            let canonical = haystack_zinc::to_string(&grid);
            let same_entities = match &old {
                Some(s) => haystack_zinc::to_string(&s.grid) == canonical,
                None => false,
            };
            diff_counts(old.as_ref().map(|s| &s.grid), &grid, &mut report);
            if !same_entities {
                let body = if format == self.format() {
                    source_bytes.clone()
                } else {
                    Bytes::from(self.format().write_grid(&grid).map_err(|source| {
                        DbError::Format {
                            what: self.name.clone(),
                            source,
                        }
                    })?)
                };
                let v = self.store.put(&self.name, body).await?;
                written.push((self.store.clone(), self.name.clone(), v.version_id.clone()));
                manifest.entities = Some(v.version_id);
            }
            if current.as_ref().map(|c| &c.2) != Some(&manifest) {
                let body =
                    serde_json::to_vec(&manifest).map_err(|e| DbError::Invalid(e.to_string()))?;
                self.store
                    .put(&self.manifest_key(), Bytes::from(body))
                    .await?;
                report.changed = true;
            }
            Ok::<(), DbError>(())
        }
        .await;

        if let Err(e) = result {
            let mut rollback_errors = Vec::new();
            for (store, key, version) in written.into_iter().rev() {
                if let Err(re) = store.delete_version(&key, &version).await {
                    rollback_errors.push(format!("{key}@{version}: {re}"));
                }
            }
            if rollback_errors.is_empty() {
                return Err(e);
            }
            return Err(DbError::Invalid(format!(
                "{e}; and removing the unreferenced versions it wrote failed: {}",
                rollback_errors.join(", ")
            )));
        }
        Ok(report)
    }
}

fn diff_counts(old: Option<&Grid>, new: &Grid, report: &mut ImportReport) {
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
