//! The history store: Haystack his grids (Zinc), one object per identifier and UTC day, in a
//! local directory or an S3 bucket, written by a `datasource-sdk` [`Sink`].
//!
//! Keys: `history/{identifier}/{yyyy-mm-dd}.zinc`, plus `history/{identifier}/latest` holding
//! the newest historical timestamp (epoch seconds), so reads know where history ends.
//!
//! Every write is a read-merge-conditional-write: a day object is created only if absent and
//! replaced only if it still has the tag it was read with, else it is read again, merged again
//! and written again (through the data-source SDK's retry policy). The marker only moves
//! forward, the same way. So any number of workers, in any number of processes, can write the
//! same identifier's days without losing a point.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use datasource_sdk::{Batch, RetryPolicy, Sink};
use haystack_core::{DateTime, Grid, GridBuilder, Number, Value};
use time::OffsetDateTime;

pub use super::objects::{Condition, LocalObjects, Objects, S3Objects, Versioned};
use super::{CacheError, Point, validate_identifier};

fn day_key(id: &str, time: i64) -> Option<String> {
    let date = OffsetDateTime::from_unix_timestamp(time).ok()?.date();
    Some(format!("history/{id}/{date}.zinc"))
}

fn parse_latest(id: &str, body: &[u8]) -> Result<i64, CacheError> {
    std::str::from_utf8(body)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .ok_or_else(|| CacheError::Storage(format!("bad latest marker of {id}")))
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
    conflicts: RetryPolicy,
}

/// The retry policy of a conflicting write by default: up to 50 attempts in 60 s, from 10 ms to
/// 1 s apart (with jitter, so racing writers spread out).
pub fn conflict_policy() -> RetryPolicy {
    RetryPolicy {
        max_attempts: std::num::NonZeroU32::new(50).unwrap_or(std::num::NonZeroU32::MIN),
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_secs(1),
        max_elapsed: Duration::from_secs(60),
        attempt_timeout: Duration::from_secs(30),
    }
}

impl<O: Objects> History<O> {
    /// History kept in `objects`.
    pub fn new(objects: O) -> Self {
        Self {
            objects,
            conflicts: conflict_policy(),
        }
    }

    /// Retries conflicting (and unavailable) writes with `policy` instead of
    /// [`conflict_policy`].
    pub fn with_retry(mut self, policy: RetryPolicy) -> Self {
        self.conflicts = policy;
        self
    }

    fn decode_day(key: &str, bytes: &[u8]) -> Result<BTreeMap<i64, f64>, CacheError> {
        let text =
            std::str::from_utf8(bytes).map_err(|e| CacheError::Storage(format!("{key}: {e}")))?;
        let grid = haystack_zinc::from_str(text)
            .map_err(|e| CacheError::Storage(format!("{key}: {e}")))?;
        Ok(from_his_grid(&grid))
    }

    async fn day(&self, key: &str) -> Result<BTreeMap<i64, f64>, CacheError> {
        match self.objects.get(key).await? {
            None => Ok(BTreeMap::new()),
            Some(v) => Self::decode_day(key, &v.body),
        }
    }

    /// One attempt at merging `points` into a day object: read, merge, conditional write.
    async fn merge_day_once(
        &self,
        id: &str,
        key: &str,
        points: &[Point],
    ) -> Result<(), CacheError> {
        let current = self.objects.get(key).await?;
        let (mut day, condition) = match &current {
            None => (BTreeMap::new(), Condition::IfAbsent),
            Some(v) => (
                Self::decode_day(key, &v.body)?,
                Condition::IfMatch(v.etag.clone()),
            ),
        };
        let before = day.clone();
        day.extend(points.iter().map(|p| (p.time, p.value)));
        if day == before {
            return Ok(());
        }
        let text = haystack_zinc::to_string(&to_his_grid(id, &day));
        self.objects.put(key, Bytes::from(text), condition).await?;
        Ok(())
    }

    /// One attempt at moving the marker forward to `newest`.
    async fn advance_latest_once(&self, id: &str, newest: i64) -> Result<(), CacheError> {
        let key = latest_key(id);
        let current = self.objects.get(&key).await?;
        let condition = match &current {
            None => Condition::IfAbsent,
            Some(v) => {
                if parse_latest(id, &v.body)? >= newest {
                    return Ok(());
                }
                Condition::IfMatch(v.etag.clone())
            }
        };
        self.objects
            .put(&key, Bytes::from(newest.to_string()), condition)
            .await?;
        Ok(())
    }

    /// Merges points into the identifier's day objects (same timestamp: the new value wins), and
    /// moves the `latest` marker forward, each write conditional and redone on conflict.
    /// Idempotent, so a redelivered batch changes nothing.
    pub async fn merge(&self, id: &str, points: &[Point]) -> Result<(), CacheError> {
        validate_identifier(id)?;
        let mut by_day: BTreeMap<String, Vec<Point>> = BTreeMap::new();
        for p in points {
            let key = day_key(id, p.time)
                .ok_or_else(|| CacheError::Storage(format!("time {} out of range", p.time)))?;
            by_day.entry(key).or_default().push(*p);
        }
        for (key, pts) in by_day {
            super::retry::retry(
                &self.conflicts,
                || self.merge_day_once(id, &key, &pts),
                |e, d| tracing::debug!("{key}: {e}; merging again in {d:?}"),
            )
            .await?;
        }
        if let Some(newest) = points.iter().map(|p| p.time).max() {
            super::retry::retry(
                &self.conflicts,
                || self.advance_latest_once(id, newest),
                |e, d| tracing::debug!("{id} latest: {e}; again in {d:?}"),
            )
            .await?;
        }
        Ok(())
    }

    /// The newest historical timestamp of an identifier.
    pub async fn latest(&self, id: &str) -> Result<Option<i64>, CacheError> {
        validate_identifier(id)?;
        match self.objects.get(&latest_key(id)).await? {
            None => Ok(None),
            Some(v) => parse_latest(id, &v.body).map(Some),
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
