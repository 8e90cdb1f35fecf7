//! Importing a Haystack file and the time series its `hisURI` tags name into a [`Db`].
//!
//! The source is read only when it must be: an S3 source whose ETag (by HEAD) is the one the
//! last import recorded is not read at all, and when the target is S3 in the same region the
//! entity file is published bucket to bucket (CopyObject, conditional on the ETag that was
//! validated) instead of being uploaded again. Each series is read once, however many points
//! name it, and only when its ETag changed (it must be read to be merged).

use std::collections::HashSet;
use std::sync::Arc;

use bytes::Bytes;
use haystack_core::{Grid, Value};

use super::db::{Db, DbError, Manifest, SourceStamp, diff_counts, merge_series, parse};
use super::formats::Format;
use super::s3source::{self, COPY_PART_SIZE, MAX_SINGLE_COPY};
use crate::store::VersionedStore;

/// What an import changed, and what it had to read.
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
    /// Whether the entity file was downloaded (to validate and diff it).
    pub source_read: bool,
    /// Whether the entity file was published by a server-side copy (no upload).
    pub copied: bool,
    /// Series sources downloaded.
    pub series_read: usize,
    /// Series not read because their ETag had not changed.
    pub series_skipped: usize,
}

impl ImportReport {
    /// One line on how the source was handled, for the importer's summary.
    pub fn source_summary(&self) -> String {
        let entities = match (self.source_read, self.copied) {
            (false, _) => "source unchanged by its ETag, not read",
            (true, true) => "source read to validate and diff, then copied bucket to bucket",
            (true, false) => "source read",
        };
        format!(
            "{entities}; {} series read, {} skipped by ETag",
            self.series_read, self.series_skipped
        )
    }
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
    if url.starts_with("s3://") {
        let loc = s3source::parse_s3(url).ok_or_else(|| err("no key".into()))?;
        return s3source::get(&loc).await;
    }
    let path = url.strip_prefix("file://").unwrap_or(url);
    tokio::fs::read(path)
        .await
        .map(Bytes::from)
        .map_err(|e| err(e.to_string()))
}

/// `relative` resolved against the location of `base` (a path or URL), as a browser would;
/// absolute URIs (`scheme://...`, `/abs/path`) are taken as they are.
pub fn resolve_url(base: &str, relative: &str) -> String {
    if relative.contains("://") || relative.starts_with('/') {
        return relative.to_owned();
    }
    match base.rsplit_once('/') {
        Some((dir, _)) => format!("{dir}/{}", relative.trim_start_matches("./")),
        None => relative.to_owned(),
    }
}

/// The hisURIs of `grid`, each once, in order of first appearance.
fn his_uris(grid: &Grid) -> Vec<String> {
    let mut seen = HashSet::new();
    grid.rows()
        .filter_map(|r| match r.get("hisURI") {
            Some(Value::Uri(u)) | Some(Value::Str(u)) => Some(u.to_string()),
            _ => None,
        })
        .filter(|u| seen.insert(u.clone()))
        .collect()
}

impl Db {
    /// Imports the Haystack file at `source` (format by extension) and the series its entities'
    /// `hisURI` tags name (relative to `source`, or absolute). Writes a new snapshot only when
    /// the entities or a series changed; on any failure deletes what it wrote, so the store is
    /// left unchanged.
    pub async fn import(
        &self,
        source: &str,
        progress: &(dyn Fn(ImportStep) + Send + Sync),
    ) -> Result<ImportReport, DbError> {
        let format = Format::from_path(source)
            .filter(|f| *f != Format::Csv)
            .ok_or_else(|| {
                DbError::Invalid(format!(
                    "unknown format of {source:?} (use .zinc, .json or .trio)"
                ))
            })?;
        // Build on the newest manifest, not a cached listing.
        self.forget_cached_manifest();
        let current = self.manifest_at(None).await?;
        let old = self.snapshot(None).await?;
        let mut manifest: Manifest = current.as_ref().map(|c| c.2.clone()).unwrap_or_default();
        let mut report = ImportReport::default();

        // The HEAD/ETag check: an S3 source recorded with the same ETag is not read again.
        let s3_src = s3source::parse_s3(source);
        let src_head = match &s3_src {
            Some(loc) => Some(s3source::head(loc).await?),
            None => None,
        };
        let unchanged_by_etag = match (&src_head, &manifest.source, &old) {
            (Some(h), Some(stamp), Some(_)) => stamp.url == source && stamp.etag == h.etag,
            _ => false,
        };
        let (grid, source_bytes) = match (&old, unchanged_by_etag) {
            (Some(snapshot), true) => (snapshot.grid.clone(), None),
            _ => {
                let bytes = read_source(source).await?;
                report.source_read = true;
                (parse(source, format, &bytes)?, Some(bytes))
            }
        };
        let uris = his_uris(&grid);
        progress(ImportStep::Read {
            entities: grid.len(),
            series: uris.len(),
        });

        let data_before = (manifest.entities.clone(), manifest.series.clone());
        let mut written: Vec<(Arc<dyn VersionedStore>, String, String)> = Vec::new();
        let result = async {
            for his_uri in &uris {
                self.import_series(
                    source,
                    his_uri,
                    old.as_deref(),
                    &mut manifest,
                    &mut report,
                    &mut written,
                )
                .await?;
                progress(ImportStep::Series(his_uri.clone()));
            }
            let same_entities = match &old {
                Some(s) => {
                    unchanged_by_etag
                        || haystack_zinc::to_string(&s.grid) == haystack_zinc::to_string(&grid)
                }
                None => false,
            };
            diff_counts(old.as_ref().map(|s| &s.grid), &grid, &mut report);
            if !same_entities {
                let v = self
                    .publish_entities(
                        source,
                        format,
                        &grid,
                        source_bytes,
                        s3_src.as_ref(),
                        src_head.as_ref(),
                        &mut report,
                    )
                    .await?;
                written.push((self.store().clone(), self.name().to_owned(), v.clone()));
                manifest.entities = Some(v);
            }
            if (manifest.entities.clone(), manifest.series.clone()) != data_before {
                if let Some(h) = &src_head {
                    manifest.source = Some(SourceStamp {
                        url: source.to_owned(),
                        etag: h.etag.clone(),
                    });
                }
                let body =
                    serde_json::to_vec(&manifest).map_err(|e| DbError::Invalid(e.to_string()))?;
                self.store()
                    .put(&self.manifest_key(), Bytes::from(body))
                    .await?;
                report.changed = true;
                self.forget_cached_manifest();
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

    /// Reads (when its ETag changed), merges and writes one series.
    async fn import_series(
        &self,
        source: &str,
        his_uri: &str,
        old: Option<&super::db::Snapshot>,
        manifest: &mut Manifest,
        report: &mut ImportReport,
        written: &mut Vec<(Arc<dyn VersionedStore>, String, String)>,
    ) -> Result<(), DbError> {
        let key = self.series_key(his_uri)?;
        let url = resolve_url(source, his_uri);
        let head = match s3source::parse_s3(&url) {
            Some(loc) => Some(s3source::head(&loc).await?),
            None => None,
        };
        let stored_version = manifest.series.get(his_uri).cloned();
        if let (Some(h), Some(_)) = (&head, &stored_version)
            && manifest.series_etags.get(his_uri) == Some(&h.etag)
        {
            report.series_skipped += 1;
            report.series_unchanged += 1;
            return Ok(());
        }
        let series_format = Format::from_path(his_uri).unwrap_or(Format::Zinc);
        let new = parse(&url, series_format, &read_source(&url).await?)?;
        report.series_read += 1;
        let stored = match (old, stored_version) {
            (Some(snapshot), Some(_)) => self.series(snapshot, his_uri).await?,
            _ => None,
        };
        let merged = merge_series(stored.as_deref(), &new)?;
        if stored.as_deref() == Some(&merged) {
            report.series_unchanged += 1;
        } else {
            let v = self
                .ts_store()
                .put(&key, Bytes::from(haystack_zinc::to_string(&merged)))
                .await?;
            written.push((self.ts_store().clone(), key, v.version_id.clone()));
            manifest.series.insert(his_uri.to_owned(), v.version_id);
            report.series_updated.push(his_uri.to_owned());
        }
        if let Some(h) = head {
            manifest.series_etags.insert(his_uri.to_owned(), h.etag);
        }
        Ok(())
    }

    /// Writes the entity grid as a new version and returns its id: a server-side copy when the
    /// source is in S3 in the target's region and already in the dataset's format, else the
    /// source bytes (or the grid rewritten in the dataset's format) uploaded.
    #[allow(clippy::too_many_arguments)]
    async fn publish_entities(
        &self,
        source: &str,
        format: Format,
        grid: &Grid,
        source_bytes: Option<Bytes>,
        s3_src: Option<&s3source::S3Location>,
        src_head: Option<&s3source::Head>,
        report: &mut ImportReport,
    ) -> Result<String, DbError> {
        if let (Some(target), Some(src), Some(head)) = (self.store().as_s3(), s3_src, src_head)
            && format == self.format()
            && s3source::same_region(target.client(), &src.bucket, target.bucket()).await?
        {
            let key = target.object_key(self.name())?;
            let v = s3source::copy(
                target.client(),
                src,
                head,
                target.bucket(),
                &key,
                MAX_SINGLE_COPY,
                COPY_PART_SIZE,
            )
            .await?;
            report.copied = true;
            return Ok(v);
        }
        let body = match source_bytes {
            Some(bytes) if format == self.format() => bytes,
            _ => Bytes::from(
                self.format()
                    .write_grid(grid)
                    .map_err(|e| DbError::Format {
                        what: format!("{source} as {}", self.name()),
                        source: e,
                    })?,
            ),
        };
        Ok(self.store().put(self.name(), body).await?.version_id)
    }
}
