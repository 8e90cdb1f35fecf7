//! Serializing values as Haystack JSON: v4 ("Hayson", the `Serialize` impl of [`Value`]) and
//! v3 (through the [`V3`] wrapper).

use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

use super::scalar_text;
use crate::value::{Number, Value};
use crate::{Dict, Grid};

/// Largest magnitude below which an integral f64 is written as a JSON integer (2^53).
const MAX_SAFE_INT: f64 = 9_007_199_254_740_992.0;

/// Writes a finite number as a JSON number: integral values without a fraction.
fn serialize_f64<S: Serializer>(v: f64, s: S) -> Result<S::Ok, S::Error> {
    if v.fract() == 0.0 && v.abs() < MAX_SAFE_INT {
        // Exact: |v| < 2^53 and integral, so the cast loses nothing.
        s.serialize_i64(v as i64)
    } else {
        s.serialize_f64(v)
    }
}

struct F64(f64);

impl Serialize for F64 {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serialize_f64(self.0, s)
    }
}

/// The Hayson `val` of a number: a JSON number, or `"INF"`, `"-INF"`, `"NaN"`.
struct NumVal(f64);

impl Serialize for NumVal {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let v = self.0;
        if v.is_nan() {
            s.serialize_str("NaN")
        } else if v == f64::INFINITY {
            s.serialize_str("INF")
        } else if v == f64::NEG_INFINITY {
            s.serialize_str("-INF")
        } else {
            serialize_f64(v, s)
        }
    }
}

fn kind_only<S: Serializer>(s: S, kind: &str) -> Result<S::Ok, S::Error> {
    let mut m = s.serialize_map(Some(1))?;
    m.serialize_entry("_kind", kind)?;
    m.end()
}

fn kind_val<S: Serializer, T: Serialize + ?Sized>(
    s: S,
    kind: &str,
    val: &T,
) -> Result<S::Ok, S::Error> {
    let mut m = s.serialize_map(Some(2))?;
    m.serialize_entry("_kind", kind)?;
    m.serialize_entry("val", val)?;
    m.end()
}

fn serialize_number<S: Serializer>(n: &Number, s: S) -> Result<S::Ok, S::Error> {
    let v = n.value();
    match n.unit() {
        None if v.is_finite() => serialize_f64(v, s),
        unit => {
            let mut m = s.serialize_map(Some(if unit.is_some() { 3 } else { 2 }))?;
            m.serialize_entry("_kind", "number")?;
            m.serialize_entry("val", &NumVal(v))?;
            if let Some(u) = unit {
                m.serialize_entry("unit", u)?;
            }
            m.end()
        }
    }
}

/// Serializes as Hayson (Haystack JSON v4).
impl Serialize for Value {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Null => s.serialize_unit(),
            Value::Marker => kind_only(s, "marker"),
            Value::Na => kind_only(s, "na"),
            Value::Remove => kind_only(s, "remove"),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Number(n) => serialize_number(n, s),
            Value::Str(v) => s.serialize_str(v),
            Value::Uri(v) => kind_val(s, "uri", v.as_str()),
            Value::Symbol(v) => kind_val(s, "symbol", v.as_str()),
            Value::Ref(r) => {
                let mut m = s.serialize_map(Some(if r.dis().is_some() { 3 } else { 2 }))?;
                m.serialize_entry("_kind", "ref")?;
                m.serialize_entry("val", r.id())?;
                if let Some(dis) = r.dis() {
                    m.serialize_entry("dis", dis)?;
                }
                m.end()
            }
            Value::Date(_) | Value::Time(_) => {
                let text = scalar_text(self);
                kind_val(s, self.kind().name(), text.as_str())
            }
            Value::DateTime(dt) => {
                let text = scalar_text(self);
                let iso = text.split_once(' ').map_or(text.as_str(), |(iso, _)| iso);
                let mut m = s.serialize_map(Some(3))?;
                m.serialize_entry("_kind", "dateTime")?;
                m.serialize_entry("val", iso)?;
                m.serialize_entry("tz", dt.tz())?;
                m.end()
            }
            Value::Coord(c) => {
                let mut m = s.serialize_map(Some(3))?;
                m.serialize_entry("_kind", "coord")?;
                m.serialize_entry("lat", &F64(c.lat()))?;
                m.serialize_entry("lng", &F64(c.lng()))?;
                m.end()
            }
            Value::XStr(x) => {
                let mut m = s.serialize_map(Some(3))?;
                m.serialize_entry("_kind", "xstr")?;
                m.serialize_entry("type", x.kind())?;
                m.serialize_entry("val", x.value())?;
                m.end()
            }
            Value::List(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for v in items {
                    seq.serialize_element(v)?;
                }
                seq.end()
            }
            Value::Dict(d) => d.serialize(s),
            Value::Grid(g) => g.serialize(s),
        }
    }
}

/// Serializes as a Hayson (v4) object of tags; null tags are left out.
impl Serialize for Dict {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.len()))?;
        for (name, v) in self.iter() {
            if !v.is_null() {
                m.serialize_entry(name, v)?;
            }
        }
        m.end()
    }
}

/// The `ver` tag written in grid meta when the grid has none.
pub(super) const GRID_VERSION: &str = "3.0";

struct GridMeta<'a, const OLD: bool>(&'a Dict);

impl<const OLD: bool> Serialize for GridMeta<'_, OLD> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        if self.0.get("ver").is_none() {
            m.serialize_entry("ver", GRID_VERSION)?;
        }
        for (name, v) in self.0.iter() {
            if !v.is_null() {
                if OLD {
                    m.serialize_entry(name, &V3(v))?;
                } else {
                    m.serialize_entry(name, v)?;
                }
            }
        }
        m.end()
    }
}

struct Cols<'a, const OLD: bool>(&'a Grid);

impl<const OLD: bool> Serialize for Cols<'_, OLD> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let cols = self.0.cols();
        let mut seq = s.serialize_seq(Some(cols.len()))?;
        for c in cols {
            seq.serialize_element(&ColJson::<OLD>(c.name(), c.meta()))?;
        }
        seq.end()
    }
}

struct ColJson<'a, const OLD: bool>(&'a str, &'a Dict);

impl<const OLD: bool> Serialize for ColJson<'_, OLD> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("name", self.0)?;
        if OLD {
            for (name, v) in self.1.iter() {
                if name != "name" && !v.is_null() {
                    m.serialize_entry(name, &V3(v))?;
                }
            }
        } else if !self.1.is_empty() {
            m.serialize_entry("meta", self.1)?;
        }
        m.end()
    }
}

struct Rows<'a, const OLD: bool>(&'a Grid);

impl<const OLD: bool> Serialize for Rows<'_, OLD> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let grid = self.0;
        let mut seq = s.serialize_seq(Some(grid.len()))?;
        for row in 0..grid.len() {
            seq.serialize_element(&RowJson::<OLD>(grid, row))?;
        }
        seq.end()
    }
}

struct RowJson<'a, const OLD: bool>(&'a Grid, usize);

impl<const OLD: bool> Serialize for RowJson<'_, OLD> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        if let Some(row) = self.0.row(self.1) {
            for (name, v) in row.iter() {
                if OLD {
                    m.serialize_entry(name, &V3(v))?;
                } else {
                    m.serialize_entry(name, v)?;
                }
            }
        }
        m.end()
    }
}

/// Serializes as a Hayson (v4) grid object, with a `ver` in its meta.
impl Serialize for Grid {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(4))?;
        m.serialize_entry("_kind", "grid")?;
        m.serialize_entry("meta", &GridMeta::<false>(self.meta()))?;
        m.serialize_entry("cols", &Cols::<false>(self))?;
        m.serialize_entry("rows", &Rows::<false>(self))?;
        m.end()
    }
}

/// A value to serialize as Haystack JSON v3 (`"m:"`, `"n:73.2 °F"`, `"r:id dis"` ...).
///
/// ```
/// use haystack_core::json::V3;
/// use haystack_core::{Number, Value};
/// let v = Value::Number(Number::with_unit(73.2, "°F"));
/// assert_eq!(serde_json::to_string(&V3(&v)).unwrap(), r#""n:73.2 °F""#);
/// ```
#[derive(Debug, Clone, Copy)]
pub struct V3<'a>(pub &'a Value);

impl Serialize for V3<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Value::Null => s.serialize_unit(),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::List(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for v in items {
                    seq.serialize_element(&V3(v))?;
                }
                seq.end()
            }
            Value::Dict(d) => {
                let mut m = s.serialize_map(Some(d.len()))?;
                for (name, v) in d.iter() {
                    if !v.is_null() {
                        m.serialize_entry(name, &V3(v))?;
                    }
                }
                m.end()
            }
            Value::Grid(g) => {
                let mut m = s.serialize_map(Some(3))?;
                m.serialize_entry("meta", &GridMeta::<true>(g.meta()))?;
                m.serialize_entry("cols", &Cols::<true>(g))?;
                m.serialize_entry("rows", &Rows::<true>(g))?;
                m.end()
            }
            Value::Str(v) if !v.contains(':') => s.serialize_str(v),
            scalar => s.serialize_str(&super::v3::encode_scalar(scalar)),
        }
    }
}
