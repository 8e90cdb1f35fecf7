//! The history store: Haystack his grids (Zinc), one object per identifier and UTC day, in a
//! local directory or an S3 bucket, written by a `datasource-sdk` [`Sink`].
//!
//! Keys: `history/{identifier}/{yyyy-mm-dd}.zinc`, plus `history/{identifier}/latest` holding
//! the newest historical timestamp (epoch seconds), so reads know where history ends.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Debug;
use std::path::PathBuf;

use async_trait::async_trait;
use aws_sdk_s3::primitives::ByteStream;
use bytes::Bytes;
use datasource_sdk::{Batch, Sink};
use haystack_core::{DateTime, Grid, GridBuilder, Number, Value};
use time::OffsetDateTime;

use super::{CacheError, Point, validate_identifier};

/// Plain get/put object storage for history objects.
#[async_trait]
pub trait Objects: Send + Sync + Debug + 'static {
    /// The object's bytes, or `None` when missing.
    async fn get(&self, key: &str) -> Result<Option<Bytes>, CacheError>;
    /// Writes the object (replacing it).
    async fn put(&self, key: &str, body: Bytes) -> Result<(), CacheError>;
}

/// Objects in a local directory. Each write goes to a temporary file of its own (concurrent
/// writers never share one), which is fsynced, renamed over the object, and the directory
/// fsynced, so an object is durable, name included, once `put` returns: the worker deletes the
/// queue message right after.
#[derive(Debug, Clone)]
pub struct LocalObjects(PathBuf);

impl LocalObjects {
    /// Objects under `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self(dir.into())
    }
}

#[async_trait]
impl Objects for LocalObjects {
    async fn get(&self, key: &str) -> Result<Option<Bytes>, CacheError> {
        match tokio::fs::read(self.0.join(key)).await {
            Ok(b) => Ok(Some(Bytes::from(b))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(CacheError::Storage(format!("reading {key}: {e}"))),
        }
    }

    async fn put(&self, key: &str, body: Bytes) -> Result<(), CacheError> {
        let path = self.0.join(key);
        let root = self.0.clone();
        let written = tokio::task::spawn_blocking(move || write_durably(&root, &path, &body))
            .await
            .map_err(|e| CacheError::Storage(format!("writing {key}: {e}")))?;
        written.map_err(|e| CacheError::Storage(format!("writing {key}: {e}")))
    }
}

/// Writes `body` to `path` (under `root`) through a fresh temporary file: fsync, rename, fsync
/// of the directory (and of the parents of directories it had to create).
fn write_durably(
    root: &std::path::Path,
    path: &std::path::Path,
    body: &[u8],
) -> std::io::Result<()> {
    use std::io::Write;
    let parent = path.parent().unwrap_or(root);
    if !parent.is_dir() {
        std::fs::create_dir_all(parent)?;
        // Make the new directories' entries durable, up to the root.
        let mut dir = parent;
        while let Some(up) = dir.parent() {
            std::fs::File::open(up)?.sync_all()?;
            if up == root || !up.starts_with(root) {
                break;
            }
            dir = up;
        }
    }
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("object");
    let tmp = parent.join(format!(".{name}.{}.tmp", uuid::Uuid::new_v4().simple()));
    let result = (|| {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        file.write_all(body)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&tmp, path)?;
        std::fs::File::open(parent)?.sync_all()
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Objects in an S3 bucket.
#[derive(Debug, Clone)]
pub struct S3Objects {
    client: aws_sdk_s3::Client,
    bucket: String,
}

impl S3Objects {
    /// Objects in `bucket` (path-style addressing, so emulators work too).
    pub fn new(config: &aws_config::SdkConfig, bucket: impl Into<String>) -> Self {
        let conf = aws_sdk_s3::config::Builder::from(config)
            .force_path_style(true)
            .build();
        Self {
            client: aws_sdk_s3::Client::from_conf(conf),
            bucket: bucket.into(),
        }
    }

    /// Creates the bucket.
    pub async fn create_bucket(&self) -> Result<(), CacheError> {
        self.client
            .create_bucket()
            .bucket(&self.bucket)
            .send()
            .await
            .map_err(|e| CacheError::Storage(format!("CreateBucket: {e:?}")))?;
        Ok(())
    }
}

#[async_trait]
impl Objects for S3Objects {
    async fn get(&self, key: &str) -> Result<Option<Bytes>, CacheError> {
        match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(out) => {
                let body = out
                    .body
                    .collect()
                    .await
                    .map_err(|e| CacheError::Storage(format!("GetObject {key}: {e}")))?;
                Ok(Some(body.into_bytes()))
            }
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => Ok(None),
            Err(e) => Err(CacheError::Storage(format!("GetObject {key}: {e:?}"))),
        }
    }

    async fn put(&self, key: &str, body: Bytes) -> Result<(), CacheError> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(|e| CacheError::Storage(format!("PutObject {key}: {e:?}")))?;
        Ok(())
    }
}

fn day_key(id: &str, time: i64) -> Option<String> {
    let date = OffsetDateTime::from_unix_timestamp(time).ok()?.date();
    Some(format!("history/{id}/{date}.zinc"))
}

fn latest_key(id: &str) -> String {
    format!("history/{id}/latest")
}

/// Encodes points as a his grid (`ts` in UTC, `val`).
pub fn to_his_grid(id: &str, points: &BTreeMap<i64, f64>) -> Grid {
    let mut rows = Vec::with_capacity(points.len());
    for (&t, &v) in points {
        let ts = OffsetDateTime::from_unix_timestamp(t)
            .map(|dt| Value::DateTime(DateTime::utc(dt)))
            .unwrap_or(Value::Null);
        rows.push(vec![ts, Value::Number(Number::new(v))]);
    }
    GridBuilder::new()
        .meta_tag("id", Value::Str(id.into()))
        .col("ts")
        .col("val")
        .rows(rows)
        .build()
        .unwrap_or_default()
}

fn from_his_grid(grid: &Grid) -> BTreeMap<i64, f64> {
    grid.rows()
        .filter_map(|r| {
            let ts = r
                .get("ts")?
                .as_datetime()?
                .offset_date_time()
                .unix_timestamp();
            let v = r.get("val")?.as_number()?.value();
            Some((ts, v))
        })
        .collect()
}

/// The history store over some [`Objects`].
#[derive(Debug)]
pub struct History<O> {
    objects: O,
}

impl<O: Objects> History<O> {
    /// History kept in `objects`.
    pub fn new(objects: O) -> Self {
        Self { objects }
    }

    async fn day(&self, key: &str) -> Result<BTreeMap<i64, f64>, CacheError> {
        match self.objects.get(key).await? {
            None => Ok(BTreeMap::new()),
            Some(bytes) => {
                let text = std::str::from_utf8(&bytes)
                    .map_err(|e| CacheError::Storage(format!("{key}: {e}")))?;
                let grid = haystack_zinc::from_str(text)
                    .map_err(|e| CacheError::Storage(format!("{key}: {e}")))?;
                Ok(from_his_grid(&grid))
            }
        }
    }

    /// Merges points into the identifier's day objects (same timestamp: the new value wins), and
    /// moves the `latest` marker forward. Idempotent, so a redelivered batch changes nothing.
    pub async fn merge(&self, id: &str, points: &[Point]) -> Result<(), CacheError> {
        validate_identifier(id)?;
        let mut by_day: BTreeMap<String, Vec<Point>> = BTreeMap::new();
        for p in points {
            let key = day_key(id, p.time)
                .ok_or_else(|| CacheError::Storage(format!("time {} out of range", p.time)))?;
            by_day.entry(key).or_default().push(*p);
        }
        for (key, pts) in by_day {
            let mut day = self.day(&key).await?;
            let before = day.clone();
            day.extend(pts.iter().map(|p| (p.time, p.value)));
            if day != before {
                let text = haystack_zinc::to_string(&to_his_grid(id, &day));
                self.objects.put(&key, Bytes::from(text)).await?;
            }
        }
        if let Some(newest) = points.iter().map(|p| p.time).max()
            && self.latest(id).await?.is_none_or(|l| newest > l)
        {
            self.objects
                .put(&latest_key(id), Bytes::from(newest.to_string()))
                .await?;
        }
        Ok(())
    }

    /// The newest historical timestamp of an identifier.
    pub async fn latest(&self, id: &str) -> Result<Option<i64>, CacheError> {
        validate_identifier(id)?;
        match self.objects.get(&latest_key(id)).await? {
            None => Ok(None),
            Some(b) => std::str::from_utf8(&b)
                .ok()
                .and_then(|s| s.trim().parse().ok())
                .map(Some)
                .ok_or_else(|| CacheError::Storage(format!("bad latest marker of {id}"))),
        }
    }

    /// Points with `start <= time <= end`, in order.
    pub async fn range(&self, id: &str, start: i64, end: i64) -> Result<Vec<Point>, CacheError> {
        validate_identifier(id)?;
        let mut out = Vec::new();
        let (Some(first), Some(last)) = (
            OffsetDateTime::from_unix_timestamp(start)
                .ok()
                .map(|d| d.date()),
            OffsetDateTime::from_unix_timestamp(end)
                .ok()
                .map(|d| d.date()),
        ) else {
            return Err(CacheError::Storage("range out of bounds".into()));
        };
        let mut date = first;
        while date <= last {
            let key = format!("history/{id}/{date}.zinc");
            out.extend(
                self.day(&key)
                    .await?
                    .range(start..=end)
                    .map(|(&time, &value)| Point { time, value }),
            );
            match date.next_day() {
                Some(d) => date = d,
                None => break,
            }
        }
        Ok(out)
    }
}

/// Decodes the records of a batch (`{identifier, time, value}` objects).
pub fn decode_points(batch: &Batch) -> Result<HashMap<String, Vec<Point>>, datasource_sdk::Error> {
    #[derive(serde::Deserialize)]
    struct Rec {
        identifier: String,
        time: i64,
        value: f64,
    }
    let mut out: HashMap<String, Vec<Point>> = HashMap::new();
    for raw in batch.records() {
        let r: Rec = serde_json::from_slice(raw)
            .map_err(|e| datasource_sdk::Error::InvalidInput(format!("bad history record: {e}")))?;
        out.entry(r.identifier).or_default().push(Point {
            time: r.time,
            value: r.value,
        });
    }
    Ok(out)
}

#[async_trait]
impl<O: Objects> Sink for History<O> {
    async fn deliver(&self, batch: &Batch) -> datasource_sdk::Result<()> {
        for (id, points) in decode_points(batch)? {
            self.merge(&id, &points).await.map_err(|e| match e {
                CacheError::InvalidIdentifier(_) => {
                    datasource_sdk::Error::InvalidInput(e.to_string())
                }
                other => datasource_sdk::Error::Unavailable(other.to_string()),
            })?;
        }
        Ok(())
    }
}

#[async_trait]
impl<O: Objects + ?Sized> Objects for std::sync::Arc<O> {
    async fn get(&self, key: &str) -> Result<Option<Bytes>, CacheError> {
        (**self).get(key).await
    }
    async fn put(&self, key: &str, body: Bytes) -> Result<(), CacheError> {
        (**self).put(key, body).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_local_writes_of_one_object_never_collide() {
        let dir = tempfile::tempdir().unwrap();
        let objects = LocalObjects::new(dir.path());
        let mut tasks = Vec::new();
        for n in 0..16 {
            let objects = objects.clone();
            tasks.push(tokio::spawn(async move {
                objects
                    .put(
                        "history/x/2024-06-01.zinc",
                        Bytes::from(format!("body {n}")),
                    )
                    .await
            }));
        }
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        let body = objects
            .get("history/x/2024-06-01.zinc")
            .await
            .unwrap()
            .unwrap();
        assert!(body.starts_with(b"body "));
        let left: Vec<_> = std::fs::read_dir(dir.path().join("history/x"))
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(left.is_empty(), "no temporary file left");
    }
}
