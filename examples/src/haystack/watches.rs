//! Watches: `watchSub`, `watchUnsub`, `watchPoll` over the snapshot the read path serves.
//!
//! A watch holds its ids in order and, per id, a digest of the entity as last sent; a poll
//! answers the entities whose digest changed (all of them with `refresh`). Each watch has a
//! lease (the request's `lease`, clamped to [`MIN_LEASE`]..=[`MAX_LEASE`], default
//! [`DEFAULT_LEASE`]) that every sub and poll renews; an expired watch is gone, and its id then
//! gets an error grid. Watches and ids per watch are bounded ([`MAX_WATCHES`],
//! [`MAX_WATCH_IDS`]).

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Mutex;
use std::time::Duration;

use haystack_core::{Dict, Grid, GridBuilder, Number, Value, zinc};
use tokio::time::Instant;

use super::db::Snapshot;
use super::request::OpError;
use super::writes::duration_secs;

/// Lease of a watch whose request names none.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(60);
/// Shortest lease granted.
pub const MIN_LEASE: Duration = Duration::from_secs(1);
/// Longest lease granted.
pub const MAX_LEASE: Duration = Duration::from_secs(3600);
/// Most open watches.
pub const MAX_WATCHES: usize = 1000;
/// Most ids in one watch.
pub const MAX_WATCH_IDS: usize = 10_000;

#[derive(Debug)]
struct Watch {
    ids: Vec<String>,
    sent: HashMap<String, u64>,
    lease: Duration,
    expires: Instant,
}

/// The open watches of a server.
#[derive(Debug, Default)]
pub struct Watches {
    watches: Mutex<HashMap<String, Watch>>,
}

fn digest(snap: &Snapshot, id: &str) -> Option<u64> {
    let row = snap.entity(id)?;
    let mut h = std::collections::hash_map::DefaultHasher::new();
    zinc::to_zinc_string(&Value::Dict(row.to_dict())).hash(&mut h);
    Some(h.finish())
}

/// Rows for `ids` from `snap` like a read by id: one row per id, all null when unknown.
fn rows_for(snap: &Snapshot, ids: &[String], meta: Dict) -> Result<Grid, OpError> {
    let mut out = Grid::with_cols(meta, snap.grid.cols().to_vec())
        .map_err(|e| OpError::internal(e.to_string()))?;
    if !out.has_col("id") {
        out.add_col("id", Dict::new())
            .map_err(|e| OpError::internal(e.to_string()))?;
    }
    for id in ids {
        match snap.entity(id) {
            Some(row) => out.push_row_from(row),
            None => out.push_tags([]),
        }
        .map_err(|e| OpError::internal(e.to_string()))?;
    }
    out.prune_cols();
    if !out.has_col("id") {
        out.add_col("id", Dict::new())
            .map_err(|e| OpError::internal(e.to_string()))?;
    }
    Ok(out)
}

fn watch_id(meta: &Dict) -> Option<String> {
    match meta.get("watchId") {
        Some(Value::Str(s)) => Some(s.to_string()),
        Some(Value::Ref(r)) => Some(r.id().to_owned()),
        _ => None,
    }
}

fn ids_of(rows: &[Dict]) -> Vec<String> {
    rows.iter()
        .filter_map(|d| match d.get("id") {
            Some(Value::Ref(r)) => Some(r.id().to_owned()),
            _ => None,
        })
        .collect()
}

fn meta_of(id: &str, lease: Option<Duration>) -> Dict {
    let mut meta = Dict::new();
    let _ = meta.insert("watchId", id);
    if let Some(l) = lease {
        let _ = meta.insert("lease", Number::with_unit(l.as_secs_f64(), "s"));
    }
    meta
}

fn gone(id: &str) -> OpError {
    OpError::op(format!(
        "unknown or expired watch {id:?}: open a new one with watchSub"
    ))
}

impl Watches {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Watch>> {
        self.watches.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `watchSub`: opens a watch (meta `watchDis`) or adds to one (meta `watchId`); answers the
    /// entities like a read by id, with `watchId` and `lease` in the meta.
    pub fn sub(&self, snap: &Snapshot, meta: &Dict, rows: &[Dict]) -> Result<Grid, OpError> {
        let now = Instant::now();
        let ids = ids_of(rows);
        let lease = match meta.get("lease") {
            Some(Value::Number(n)) => Some(Duration::from_secs_f64(duration_secs(n)?)),
            _ => None,
        };
        let mut watches = self.lock();
        watches.retain(|_, w| w.expires > now);
        let id = match watch_id(meta) {
            Some(id) => {
                if !watches.contains_key(&id) {
                    return Err(gone(&id));
                }
                id
            }
            None => {
                if !meta.has("watchDis") {
                    return Err(OpError::op("watchSub needs `watchDis` (new) or `watchId`"));
                }
                if watches.len() >= MAX_WATCHES {
                    return Err(OpError::op(format!(
                        "at most {MAX_WATCHES} watches are open; close one first"
                    )));
                }
                let id = format!("w-{}", haystack_core::auth::random_hex(12));
                watches.insert(
                    id.clone(),
                    Watch {
                        ids: Vec::new(),
                        sent: HashMap::new(),
                        lease: DEFAULT_LEASE,
                        expires: now,
                    },
                );
                id
            }
        };
        let w = watches.get_mut(&id).ok_or_else(|| gone(&id))?;
        if let Some(l) = lease {
            w.lease = l.clamp(MIN_LEASE, MAX_LEASE);
        }
        w.expires = now + w.lease;
        for i in &ids {
            if !w.ids.contains(i) {
                if w.ids.len() >= MAX_WATCH_IDS {
                    return Err(OpError::op(format!(
                        "a watch holds at most {MAX_WATCH_IDS} ids"
                    )));
                }
                w.ids.push(i.clone());
            }
            if let Some(d) = digest(snap, i) {
                w.sent.insert(i.clone(), d);
            }
        }
        let lease = w.lease;
        drop(watches);
        rows_for(snap, &ids, meta_of(&id, Some(lease)))
    }

    /// `watchUnsub`: removes ids from a watch, or closes it (meta `close`).
    pub fn unsub(&self, meta: &Dict, rows: &[Dict]) -> Result<Grid, OpError> {
        let id = watch_id(meta).ok_or_else(|| OpError::op("watchUnsub needs `watchId`"))?;
        let mut watches = self.lock();
        if meta.has("close") {
            watches.remove(&id);
        } else if let Some(w) = watches.get_mut(&id) {
            let drop_ids = ids_of(rows);
            w.ids.retain(|i| !drop_ids.contains(i));
            w.sent.retain(|i, _| !drop_ids.contains(i));
        }
        Ok(GridBuilder::new().col("empty").build().unwrap_or_default())
    }

    /// `watchPoll`: the watched entities that changed since they were last sent (all with
    /// `refresh`; unknown ids are left out); renews the lease.
    pub fn poll(&self, snap: &Snapshot, meta: &Dict) -> Result<Grid, OpError> {
        let now = Instant::now();
        let id = watch_id(meta).ok_or_else(|| OpError::op("watchPoll needs `watchId`"))?;
        let refresh = meta.has("refresh");
        let mut watches = self.lock();
        watches.retain(|_, w| w.expires > now);
        let w = watches.get_mut(&id).ok_or_else(|| gone(&id))?;
        w.expires = now + w.lease;
        let mut changed = Vec::new();
        for i in &w.ids {
            let Some(d) = digest(snap, i) else { continue };
            if refresh || w.sent.get(i) != Some(&d) {
                changed.push(i.clone());
                w.sent.insert(i.clone(), d);
            }
        }
        drop(watches);
        let mut grid = rows_for(snap, &changed, meta_of(&id, None))?;
        if changed.is_empty() {
            grid = GridBuilder::new()
                .meta(meta_of(&id, None))
                .col("empty")
                .build()
                .unwrap_or_default();
        }
        Ok(grid)
    }

    /// Open watches.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether none is open.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::haystack::db::Manifest;
    use haystack_core::Ref;

    fn snap(cur: f64) -> Snapshot {
        let mut d = Dict::new();
        let _ = d.insert("id", Ref::new("p").unwrap());
        let _ = d.insert("curVal", Number::from(cur));
        Snapshot::new(
            Grid::from_dicts([&d]),
            Manifest::default(),
            time::OffsetDateTime::UNIX_EPOCH,
        )
    }

    fn meta(pairs: &[(&str, Value)]) -> Dict {
        let mut m = Dict::new();
        for (k, v) in pairs {
            let _ = m.insert(*k, v.clone());
        }
        m
    }

    #[tokio::test(start_paused = true)]
    async fn leases_expire_unless_polled() {
        let w = Watches::default();
        let mut row = Dict::new();
        let _ = row.insert("id", Ref::new("p").unwrap());
        let g = w
            .sub(
                &snap(1.0),
                &meta(&[
                    ("watchDis", Value::from("t")),
                    ("lease", Value::Number(Number::with_unit(1.0, "min"))),
                ]),
                &[row],
            )
            .unwrap();
        let id = g.meta().get("watchId").cloned().unwrap();
        assert_eq!(
            g.meta().get("lease"),
            Some(&Value::Number(Number::with_unit(60.0, "s")))
        );
        let poll = meta(&[("watchId", id)]);
        // Polled within the lease, it stays; each poll renews it.
        for _ in 0..3 {
            tokio::time::advance(Duration::from_secs(50)).await;
            assert!(w.poll(&snap(1.0), &poll).unwrap().is_empty());
        }
        assert_eq!(w.poll(&snap(2.0), &poll).unwrap().len(), 1);
        tokio::time::advance(Duration::from_secs(61)).await;
        assert!(w.poll(&snap(2.0), &poll).is_err());
        assert!(w.is_empty());
        // A lease above the bound is clamped.
        let g = w
            .sub(
                &snap(1.0),
                &meta(&[
                    ("watchDis", Value::from("t")),
                    ("lease", Value::Number(Number::with_unit(2.0, "day"))),
                ]),
                &[],
            )
            .unwrap();
        assert_eq!(
            g.meta().get("lease"),
            Some(&Value::Number(Number::with_unit(3600.0, "s")))
        );
        assert!(w.sub(&snap(1.0), &Dict::new(), &[]).is_err());
    }
}
