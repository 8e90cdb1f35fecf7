//! Writes: `hisWrite` (merged into the stored series as a new version of it) and `pointWrite`
//! (the 16-level priority array plus level 17, the default).
//!
//! Priority arrays are kept in the dataset's store as a versioned JSON object beside the
//! manifest, `.haystack/NAME/writes.json`, rewritten on every write (so they survive restarts,
//! and the store's history records them). The read path sees them as an overlay on the latest
//! snapshot: each written point's `curVal`, `writeVal` and `writeLevel` follow the highest
//! active level (1 first). A read with a `version` parameter shows the data as imported then,
//! without the overlay.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use haystack_core::timezone::Tz;
use haystack_core::{Dict, Grid, GridBuilder, Number, Value, zinc};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::db::{Db, META_DIR, Snapshot, merge_series};
use super::request::OpError;

/// Levels of a priority array: 1..=16, and 17 for the default.
pub const LEVELS: u8 = 17;
/// Most rows one `hisWrite` may add.
pub const MAX_HIS_WRITE_ROWS: usize = 100_000;

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
struct WriteState {
    /// Format of this object.
    format: u32,
    /// Point id -> its written levels.
    points: BTreeMap<String, Vec<LevelEntry>>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
struct LevelEntry {
    level: u8,
    /// The value, as a Zinc scalar.
    val: String,
    who: String,
    /// When the write expires (a `duration` was given), RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expires: Option<String>,
}

impl LevelEntry {
    fn active(&self, now: OffsetDateTime) -> bool {
        match &self.expires {
            None => true,
            Some(t) => OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
                .is_ok_and(|t| t > now),
        }
    }
}

/// The effective written value of each point: id -> (level, value).
type Effective = BTreeMap<String, (u8, Value)>;

/// The last overlay: its base (held, so that no other snapshot can take its address), the
/// effective values it applied, and the result.
type Overlay = (Arc<Snapshot>, Effective, Arc<Snapshot>);

/// The written state of one dataset.
#[derive(Debug)]
pub struct Writes {
    db: Arc<Db>,
    state: tokio::sync::OnceCell<tokio::sync::Mutex<WriteState>>,
    overlay: Mutex<Option<Overlay>>,
}

/// The name of a level (BACnet's, which the Haystack priority array follows).
pub fn level_dis(level: u8) -> String {
    match level {
        1 => "Manual Life Safety".into(),
        2 => "Automatic Life Safety".into(),
        5 => "Critical Equipment Control".into(),
        6 => "Minimum On/Off".into(),
        8 => "Manual Operator".into(),
        17 => "Default".into(),
        n => format!("Level {n}"),
    }
}

fn internal(e: impl std::fmt::Display) -> OpError {
    OpError::internal(e.to_string())
}

/// Seconds of a Number with a duration unit.
pub fn duration_secs(n: &Number) -> Result<f64, OpError> {
    let scale = match n.unit() {
        Some("ms") => 0.001,
        Some("s") | Some("sec") => 1.0,
        Some("min") => 60.0,
        Some("h") | Some("hr") => 3600.0,
        Some("day") | Some("d") => 86_400.0,
        Some("wk") | Some("week") => 604_800.0,
        other => {
            return Err(OpError::op(format!(
                "a duration needs a time unit (s, min, h, day), not {other:?}"
            )));
        }
    };
    let secs = n.value() * scale;
    if !secs.is_finite() || secs <= 0.0 || secs > 10.0 * 365.0 * 86_400.0 {
        return Err(OpError::op(
            "a duration must be positive and at most 10 years",
        ));
    }
    Ok(secs)
}

/// Checks `val` against the point's `kind` and `unit`; a unitless Number takes the point's unit.
fn check_kind(point: &Dict, id: &str, val: &Value) -> Result<Value, OpError> {
    let kind = point.get("kind").and_then(Value::as_str);
    let unit = point.get("unit").and_then(Value::as_str);
    match (kind, val) {
        (Some("Number"), Value::Number(n)) => match (n.unit(), unit) {
            (None, Some(u)) => Ok(Value::Number(Number::with_unit(n.value(), u))),
            (None, None) => Ok(val.clone()),
            (Some(a), Some(b)) if a == b => Ok(val.clone()),
            (Some(a), b) => Err(OpError::op(format!(
                "@{id}: unit {a} does not match the point's unit {} (no conversion is done)",
                b.unwrap_or("(none)")
            ))),
        },
        (Some("Bool"), Value::Bool(_)) | (Some("Str"), Value::Str(_)) => Ok(val.clone()),
        (None, v) if !matches!(v, Value::Null) => Ok(val.clone()),
        (k, v) => Err(OpError::op(format!(
            "@{id}: a {} value does not match the point's kind {}",
            v.kind(),
            k.unwrap_or("(none)")
        ))),
    }
}

impl Writes {
    /// The writes of `db` (loaded from its store on first use).
    pub fn new(db: Arc<Db>) -> Self {
        Self {
            db,
            state: tokio::sync::OnceCell::new(),
            overlay: Mutex::new(None),
        }
    }

    fn key(&self) -> String {
        format!("{META_DIR}/{}/writes.json", self.db.name())
    }

    async fn state(&self) -> Result<&tokio::sync::Mutex<WriteState>, OpError> {
        self.state
            .get_or_try_init(|| async {
                let state = match self.db.store().get_at(&self.key(), None).await {
                    Ok(Some(bytes)) => serde_json::from_slice(&bytes)
                        .map_err(|e| internal(format!("bad {}: {e}", self.key())))?,
                    Ok(None) => WriteState::default(),
                    Err(e) => return Err(internal(e)),
                };
                Ok(tokio::sync::Mutex::new(state))
            })
            .await
    }

    fn effective(state: &WriteState, now: OffsetDateTime) -> Effective {
        let mut out = Effective::new();
        for (id, entries) in &state.points {
            let best = entries
                .iter()
                .filter(|e| e.active(now))
                .min_by_key(|e| e.level);
            if let Some(e) = best
                && let Ok(v) = zinc::read_scalar(&e.val)
            {
                out.insert(id.clone(), (e.level, v));
            }
        }
        out
    }

    /// `base` with every written point's `curVal`, `writeVal` and `writeLevel` set from its
    /// highest active level (cached while nothing changes).
    pub async fn overlay(
        &self,
        base: Arc<Snapshot>,
        now: OffsetDateTime,
    ) -> Result<Arc<Snapshot>, OpError> {
        let eff = {
            let state = self.state().await?.lock().await;
            if state.points.is_empty() {
                return Ok(base);
            }
            Self::effective(&state, now)
        };
        {
            let cache = self.overlay.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((b, e, snap)) = cache.as_ref()
                && Arc::ptr_eq(b, &base)
                && *e == eff
            {
                return Ok(snap.clone());
            }
        }
        let mut grid = Grid::with_cols(base.grid.meta().clone(), base.grid.cols().to_vec())
            .map_err(internal)?;
        for row in base.grid.rows() {
            let written = row.id().and_then(|id| eff.get(id.id()));
            match written {
                Some((level, val)) => {
                    let mut d = row.to_dict();
                    let _ = d.insert("curVal", val.clone());
                    let _ = d.insert("writeVal", val.clone());
                    let _ = d.insert("writeLevel", Number::from(f64::from(*level)));
                    grid.push_dict(&d)
                }
                None => grid.push_row_from(row),
            }
            .map_err(internal)?;
        }
        let snap = Arc::new(Snapshot::new(grid, base.manifest.clone(), base.written));
        *self.overlay.lock().unwrap_or_else(|p| p.into_inner()) = Some((base, eff, snap.clone()));
        Ok(snap)
    }

    /// `pointWrite`: with a `level`, writes (or with a null `val`, releases) that level and
    /// answers an empty grid; without, answers the priority array (levels 1..=17 with
    /// `levelDis`, `val`, `who`).
    pub async fn point_write(
        &self,
        base: &Snapshot,
        row: &Dict,
        user: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<Grid, OpError> {
        let id = match row.get("id") {
            Some(Value::Ref(r)) => r.id().to_owned(),
            _ => return Err(OpError::op("pointWrite needs an `id` Ref")),
        };
        let point = base
            .entity(&id)
            .map(|r| r.to_dict())
            .ok_or_else(|| OpError::op(format!("unknown id @{id}")))?;
        if !point.has("writable") {
            return Err(OpError::op(format!("@{id} is not a writable point")));
        }
        let lock = self.state().await?;
        let Some(level) = row.get("level") else {
            let state = lock.lock().await;
            return Ok(Self::array(&state, &id, &point, now));
        };
        let level = match level {
            Value::Number(n)
                if n.value().fract() == 0.0 && (1.0..=f64::from(LEVELS)).contains(&n.value()) =>
            {
                n.value() as u8
            }
            _ => return Err(OpError::op("level must be a Number from 1 to 17")),
        };
        let val = match row.get("val") {
            None | Some(Value::Null) => None,
            Some(v) => Some(check_kind(&point, &id, v)?),
        };
        let expires = match row.get("duration") {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) => {
                let secs = duration_secs(n)?;
                let t = now + time::Duration::seconds_f64(secs);
                Some(
                    t.format(&time::format_description::well_known::Rfc3339)
                        .map_err(internal)?,
                )
            }
            Some(_) => return Err(OpError::op("duration must be a Number with a time unit")),
        };
        let who = match row.get("who") {
            Some(Value::Str(s)) => s.to_string(),
            _ => user.unwrap_or("anonymous").to_owned(),
        };
        let mut state = lock.lock().await;
        let mut next = state.clone();
        next.format = 1;
        let entries = next.points.entry(id.clone()).or_default();
        entries.retain(|e| e.level != level && e.active(now));
        if let Some(v) = val {
            entries.push(LevelEntry {
                level,
                val: zinc::to_zinc_string(&v),
                who,
                expires,
            });
            entries.sort_by_key(|e| e.level);
        }
        if entries.is_empty() {
            next.points.remove(&id);
        }
        let body = serde_json::to_vec_pretty(&next).map_err(internal)?;
        self.db
            .store()
            .put(&self.key(), Bytes::from(body))
            .await
            .map_err(internal)?;
        *state = next;
        Ok(GridBuilder::new().col("empty").build().unwrap_or_default())
    }

    fn array(state: &WriteState, id: &str, point: &Dict, now: OffsetDateTime) -> Grid {
        let entries = state.points.get(id).map(Vec::as_slice).unwrap_or(&[]);
        let mut rows = Vec::with_capacity(usize::from(LEVELS));
        for level in 1..=LEVELS {
            let e = entries.iter().find(|e| e.level == level && e.active(now));
            let mut val = e
                .and_then(|e| zinc::read_scalar(&e.val).ok())
                .unwrap_or(Value::Null);
            if level == LEVELS && val.is_null() {
                val = point.get("writeDef").cloned().unwrap_or(Value::Null);
            }
            rows.push(vec![
                Value::Number(Number::from(f64::from(level))),
                Value::from(level_dis(level).as_str()),
                val,
                e.map_or(Value::Null, |e| Value::from(e.who.as_str())),
            ]);
        }
        GridBuilder::new()
            .col("level")
            .col("levelDis")
            .col("val")
            .col("who")
            .rows(rows)
            .build()
            .unwrap_or_default()
    }
}

/// One point's new samples for `hisWrite`.
#[derive(Debug)]
pub struct HisSamples {
    /// The point id.
    pub id: String,
    /// `(ts, val)` pairs.
    pub samples: Vec<(Value, Value)>,
}

/// The samples of a `hisWrite` request: single (meta `id`, columns `ts` and `val`) or batch
/// (`ts` and `v0..vN` columns whose meta hold the `id`).
pub fn his_write_samples(
    meta: &Dict,
    cols: &[haystack_core::Col],
    rows: &[Dict],
) -> Result<Vec<HisSamples>, OpError> {
    if rows.len() > MAX_HIS_WRITE_ROWS {
        return Err(OpError::op(format!(
            "hisWrite takes at most {MAX_HIS_WRITE_ROWS} rows"
        )));
    }
    let ts = |d: &Dict| d.get("ts").cloned().unwrap_or(Value::Null);
    let columns: Vec<(String, String)> = match meta.get("id") {
        Some(Value::Ref(r)) => vec![(r.id().to_owned(), "val".to_owned())],
        Some(_) => return Err(OpError::op("hisWrite meta `id` must be a Ref")),
        None => cols
            .iter()
            .filter(|c| c.name() != "ts")
            .map(|c| match c.meta().get("id") {
                Some(Value::Ref(r)) => Ok((r.id().to_owned(), c.name().to_owned())),
                _ => Err(OpError::op(format!(
                    "hisWrite column {} needs an `id` Ref in its meta (or give `id` in the grid meta)",
                    c.name()
                ))),
            })
            .collect::<Result<_, _>>()?,
    };
    if columns.is_empty() {
        return Err(OpError::op("hisWrite needs an `id`"));
    }
    Ok(columns
        .into_iter()
        .map(|(id, col)| HisSamples {
            id,
            samples: rows
                .iter()
                .filter_map(|r| match r.get(&col) {
                    None | Some(Value::Null) => None,
                    Some(v) => Some((ts(r), v.clone())),
                })
                .collect(),
        })
        .collect())
}

/// `hisWrite` of one point: checks every sample (a dateTime in the point's timezone, a value
/// of its kind, its unit or none), merges them into the stored series, and commits the new
/// series version with a new manifest.
pub async fn his_write(db: &Db, base: &Snapshot, write: &HisSamples) -> Result<(), OpError> {
    let id = &write.id;
    let point = base
        .entity(id)
        .map(|r| r.to_dict())
        .ok_or_else(|| OpError::op(format!("unknown id @{id}")))?;
    let his_uri = match point.get("hisURI") {
        Some(Value::Uri(u)) | Some(Value::Str(u)) => u.to_string(),
        _ => return Err(OpError::op(format!("@{id} has no hisURI (not historized)"))),
    };
    let tz_name = point.get("tz").and_then(Value::as_str).unwrap_or("UTC");
    let tz = Tz::from_name(tz_name).map_err(|e| OpError::op(format!("@{id}: {e}")))?;
    let mut rows = Vec::with_capacity(write.samples.len());
    for (ts, val) in &write.samples {
        let Value::DateTime(dt) = ts else {
            return Err(OpError::op(format!(
                "@{id}: every sample needs a `ts` dateTime"
            )));
        };
        if Tz::from_name(dt.tz()).map(Tz::haystack_name).ok() != Some(tz.haystack_name()) {
            return Err(OpError::op(format!(
                "@{id}: ts {} is not in the point's timezone {tz_name} (no conversion is done)",
                zinc::to_zinc_string(ts)
            )));
        }
        rows.push(vec![ts.clone(), check_kind(&point, id, val)?]);
    }
    let new = GridBuilder::new()
        .col("ts")
        .col("val")
        .rows(rows)
        .build()
        .map_err(|e| OpError::op(e.to_string()))?;
    let (_, _, mut manifest) = db
        .manifest_at(None)
        .await
        .map_err(internal)?
        .ok_or_else(|| OpError::op("nothing imported yet"))?;
    let stored = db.series(base, &his_uri).await.map_err(internal)?;
    let mut merged = merge_series(stored.as_deref(), &new).map_err(internal)?;
    if let Some(s) = &stored {
        *merged.meta_mut() = s.meta().clone();
    }
    let key = db.series_key(&his_uri).map_err(internal)?;
    let v = db
        .ts_store()
        .put(&key, Bytes::from(haystack_zinc::to_string(&merged)))
        .await
        .map_err(internal)?;
    manifest.series.insert(his_uri, v.version_id);
    let body = serde_json::to_vec(&manifest).map_err(internal)?;
    db.store()
        .put(&db.manifest_key(), Bytes::from(body))
        .await
        .map_err(internal)?;
    db.forget_cached_manifest();
    Ok(())
}
