//! `hisRead`, single (`id` and `range` in the row) and batch (`range` in the grid meta, one
//! row per id), over the snapshot the read path serves.

use std::sync::Arc;

use haystack_core::timezone::Tz;
use haystack_core::{Dict, Grid, GridBuilder, Ref, Value, zinc};
use time::OffsetDateTime;

use super::range;
use super::request::OpError;
use super::server::{AppState, snapshot};

pub(crate) async fn his_read(
    state: &AppState,
    version: Option<OffsetDateTime>,
    row: Option<&Dict>,
) -> Result<Grid, OpError> {
    let row = row.ok_or_else(|| OpError::op("hisRead needs `id` and `range`"))?;
    let id = match row.get("id") {
        Some(Value::Ref(r)) => r.clone(),
        _ => return Err(OpError::op("hisRead needs an `id` Ref")),
    };
    let range_text = match row.get("range") {
        Some(Value::Str(s)) => s.to_string(),
        Some(Value::Date(d)) => zinc::to_zinc_string(&Value::Date(*d)),
        Some(Value::DateTime(dt)) => zinc::to_zinc_string(&Value::DateTime(dt.clone())),
        _ => return Err(OpError::op("hisRead needs a `range`")),
    };
    let snap = snapshot(state, version)
        .await?
        .ok_or_else(|| OpError::op(format!("unknown id @{}", id.id())))?;
    let point = snap
        .entity(id.id())
        .ok_or_else(|| OpError::op(format!("unknown id @{}", id.id())))?;
    let tz_name = point.get("tz").and_then(Value::as_str).unwrap_or("UTC");
    let tz = Tz::from_name(tz_name).map_err(|e| OpError::op(format!("point @{}: {e}", id.id())))?;
    let now = (state.now)();
    let span = range::resolve(&range_text, tz, now).map_err(OpError::op)?;
    let his_uri = match point.get("hisURI") {
        Some(Value::Uri(u)) | Some(Value::Str(u)) => u.to_string(),
        _ => return Err(OpError::op(format!("point @{} has no hisURI", id.id()))),
    };
    let series = state
        .db
        .series(&snap, &his_uri)
        .await
        .map_err(|e| OpError::internal(e.to_string()))?;
    state
        .cpu(move || his_grid(&id, tz, span, now, series.as_deref()))
        .await?
}

/// The hisRead answer: the points of `series` in `span`, in the point's timezone, with `id`,
/// `hisStart` and `hisEnd` (both dateTimes; an open range ends at the later of `now` and just
/// after its last point) in the meta.
fn his_grid(
    id: &Ref,
    tz: Tz,
    span: range::Span,
    now: OffsetDateTime,
    series: Option<&Grid>,
) -> Result<Grid, OpError> {
    let to_dt = |t: OffsetDateTime| tz.datetime(t).map(Value::DateTime).unwrap_or(Value::Null);
    let mut rows = Vec::new();
    let mut last = None;
    for r in series.iter().flat_map(|s| s.rows()) {
        let Some(Value::DateTime(ts)) = r.get("ts") else {
            continue;
        };
        let instant = ts.offset_date_time();
        if span.contains(instant) {
            let val = r.get("val").cloned().unwrap_or(Value::Null);
            rows.push(vec![to_dt(instant), val]);
            last = Some(instant);
        }
    }
    let end = span
        .end
        .unwrap_or_else(|| last.map_or(now, |l| now.max(l + time::Duration::nanoseconds(1))));
    GridBuilder::new()
        .meta_tag("id", Value::Ref(id.clone()))
        .meta_tag("hisStart", to_dt(span.start))
        .meta_tag("hisEnd", to_dt(end))
        .col("ts")
        .col("val")
        .rows(rows)
        .build()
        .map_err(|e| OpError::op(e.to_string()))
}

/// Most points of one batch `hisRead`.
pub const MAX_BATCH_HIS_READ: usize = 1000;

/// Batch `hisRead`: `range` (and optionally `tz`) in the grid meta, one row per id; answers a
/// `ts` column and one `vN` column per id (its meta holding the `id`), joined on `ts`, in the
/// shared timezone of the points (or the meta's `tz`).
pub(crate) async fn his_read_batch(
    state: &AppState,
    version: Option<OffsetDateTime>,
    meta: &Dict,
    rows: &[Dict],
) -> Result<Grid, OpError> {
    let range_text = match meta.get("range") {
        Some(Value::Str(s)) => s.to_string(),
        Some(v @ (Value::Date(_) | Value::DateTime(_))) => zinc::to_zinc_string(v),
        _ => {
            return Err(OpError::op(
                "batch hisRead needs a `range` Str in the grid meta",
            ));
        }
    };
    let ids: Vec<Ref> = rows
        .iter()
        .filter_map(|d| d.get("id").and_then(Value::as_ref).cloned())
        .collect();
    if ids.is_empty() {
        return Err(OpError::op("hisRead needs at least one `id`"));
    }
    if ids.len() > MAX_BATCH_HIS_READ {
        return Err(OpError::op(format!(
            "a batch hisRead takes at most {MAX_BATCH_HIS_READ} ids"
        )));
    }
    let snap = snapshot(state, version)
        .await?
        .ok_or_else(|| OpError::op("nothing imported yet"))?;
    let mut tz_name: Option<String> = match meta.get("tz") {
        Some(Value::Str(s)) => Some(s.to_string()),
        _ => None,
    };
    let explicit_tz = tz_name.is_some();
    let mut uris = Vec::with_capacity(ids.len());
    for id in &ids {
        let point = snap
            .entity(id.id())
            .ok_or_else(|| OpError::op(format!("unknown id @{}", id.id())))?;
        let ptz = point.get("tz").and_then(Value::as_str).unwrap_or("UTC");
        match &tz_name {
            None => tz_name = Some(ptz.to_owned()),
            Some(t) if !explicit_tz && t != ptz => {
                return Err(OpError::op(format!(
                    "batch hisRead needs points of one timezone (@{} is in {ptz}, not {t}); \
                     give `tz` in the grid meta",
                    id.id()
                )));
            }
            Some(_) => {}
        }
        match point.get("hisURI") {
            Some(Value::Uri(u)) | Some(Value::Str(u)) => uris.push(u.to_string()),
            _ => return Err(OpError::op(format!("point @{} has no hisURI", id.id()))),
        }
    }
    let tz_name = tz_name.unwrap_or_else(|| "UTC".into());
    let tz = Tz::from_name(&tz_name).map_err(|e| OpError::op(format!("tz {tz_name}: {e}")))?;
    let now = (state.now)();
    let span = range::resolve(&range_text, tz, now).map_err(OpError::op)?;
    let mut series = Vec::with_capacity(uris.len());
    for uri in &uris {
        series.push(
            state
                .db
                .series(&snap, uri)
                .await
                .map_err(|e| OpError::internal(e.to_string()))?,
        );
    }
    state
        .cpu(move || his_batch_grid(&ids, tz, span, now, &series))
        .await?
}

fn his_batch_grid(
    ids: &[Ref],
    tz: Tz,
    span: range::Span,
    now: OffsetDateTime,
    series: &[Option<Arc<Grid>>],
) -> Result<Grid, OpError> {
    let to_dt = |t: OffsetDateTime| tz.datetime(t).map(Value::DateTime).unwrap_or(Value::Null);
    let mut joined: std::collections::BTreeMap<i128, (OffsetDateTime, Vec<Value>)> =
        std::collections::BTreeMap::new();
    let mut last = None;
    for (k, s) in series.iter().enumerate() {
        for r in s.iter().flat_map(|g| g.rows()) {
            let Some(Value::DateTime(ts)) = r.get("ts") else {
                continue;
            };
            let instant = ts.offset_date_time();
            if !span.contains(instant) {
                continue;
            }
            last = last.max(Some(instant));
            let entry = joined
                .entry(ts.unix_nanos())
                .or_insert_with(|| (instant, vec![Value::Null; ids.len()]));
            if let Some(cell) = entry.1.get_mut(k) {
                *cell = r.get("val").cloned().unwrap_or(Value::Null);
            }
        }
    }
    let end = span
        .end
        .unwrap_or_else(|| last.map_or(now, |l| now.max(l + time::Duration::nanoseconds(1))));
    let mut b = GridBuilder::new()
        .meta_tag("hisStart", to_dt(span.start))
        .meta_tag("hisEnd", to_dt(end))
        .col("ts");
    for (k, id) in ids.iter().enumerate() {
        let mut m = Dict::new();
        let _ = m.insert("id", Value::Ref(id.clone()));
        b = b.col_with_meta(format!("v{k}"), m);
    }
    b.rows(joined.into_values().map(|(t, mut vals)| {
        vals.insert(0, to_dt(t));
        vals
    }))
    .build()
    .map_err(|e| OpError::op(e.to_string()))
}
