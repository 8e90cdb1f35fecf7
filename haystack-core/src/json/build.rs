//! Building values from the fields of Hayson objects (`{"_kind": "ref", "val": ...}`) and grids
//! from their `meta`, `cols` and `rows`.

use std::collections::HashMap;
use std::sync::Arc;

use super::de::Field;
use super::read_zinc_scalar;
use crate::error::{Error, Result};
use crate::value::{Coord, Number, Ref, Value, XStr, is_ref_id};
use crate::{Col, Dict, Grid};

fn bad(kind: &str, message: impl Into<String>) -> Error {
    Error::Json(format!("invalid {kind}: {}", message.into()))
}

/// The fields a scalar kind may have.
#[derive(Debug, Default)]
pub(super) struct Fields<'de> {
    pub(super) val: Option<Field<'de>>,
    pub(super) unit: Option<Field<'de>>,
    pub(super) dis: Option<Field<'de>>,
    pub(super) tz: Option<Field<'de>>,
    pub(super) lat: Option<Field<'de>>,
    pub(super) lng: Option<Field<'de>>,
    pub(super) typ: Option<Field<'de>>,
}

fn req_str<'a>(f: &'a Option<Field<'_>>, kind: &str, name: &str) -> Result<&'a str> {
    f.as_ref()
        .and_then(Field::as_str)
        .ok_or_else(|| bad(kind, format!("'{name}' must be a string")))
}

fn opt_str<'a>(f: &'a Option<Field<'_>>, kind: &str, name: &str) -> Result<Option<&'a str>> {
    match f {
        None | Some(Field::Val(Value::Null)) => Ok(None),
        Some(x) => x
            .as_str()
            .map(Some)
            .ok_or_else(|| bad(kind, format!("'{name}' must be a string"))),
    }
}

fn req_f64(f: &Option<Field<'_>>, kind: &str, name: &str) -> Result<f64> {
    f.as_ref()
        .and_then(Field::as_f64)
        .ok_or_else(|| bad(kind, format!("'{name}' must be a number")))
}

/// Reads `text` as the Zinc scalar of the expected kind.
fn zinc_of(text: &str, kind: &str, ok: impl Fn(&Value) -> bool) -> Result<Value> {
    match read_zinc_scalar(text) {
        Ok(v) if ok(&v) => Ok(v),
        Ok(_) => Err(bad(kind, format!("{text:?}"))),
        Err(e) => Err(bad(kind, format!("{text:?}: {e}"))),
    }
}

/// Builds a scalar of Hayson kind `kind` from its fields.
pub(super) fn scalar(kind: &str, f: Fields<'_>) -> Result<Value> {
    Ok(match kind {
        "marker" => Value::Marker,
        "na" => Value::Na,
        "remove" => Value::Remove,
        "number" => {
            let v = match &f.val {
                Some(x) => match (x.as_f64(), x.as_str()) {
                    (Some(n), _) => n,
                    (None, Some("INF")) => f64::INFINITY,
                    (None, Some("-INF")) => f64::NEG_INFINITY,
                    (None, Some("NaN")) => f64::NAN,
                    _ => return Err(bad("number", "'val' must be a number, INF, -INF or NaN")),
                },
                None => return Err(bad("number", "missing 'val'")),
            };
            match opt_str(&f.unit, "number", "unit")? {
                Some(u) => Value::Number(Number::with_unit(v, u)),
                None => Value::Number(Number::new(v)),
            }
        }
        "ref" => {
            let id = req_str(&f.val, "ref", "val")?;
            if !is_ref_id(id) {
                return Err(bad("ref", format!("invalid id {id:?}")));
            }
            let dis = opt_str(&f.dis, "ref", "dis")?.map(Arc::<str>::from);
            Value::Ref(Ref::from_parts(id, dis))
        }
        "symbol" => {
            let s = req_str(&f.val, "symbol", "val")?;
            if !is_ref_id(s) {
                return Err(bad("symbol", format!("invalid name {s:?}")));
            }
            Value::Symbol(s.to_owned())
        }
        "uri" => Value::Uri(req_str(&f.val, "uri", "val")?.to_owned()),
        "str" => Value::Str(req_str(&f.val, "str", "val")?.to_owned()),
        "bool" => match &f.val {
            Some(Field::Val(Value::Bool(b))) => Value::Bool(*b),
            _ => return Err(bad("bool", "'val' must be true or false")),
        },
        "date" => zinc_of(req_str(&f.val, "date", "val")?, "date", |v| {
            matches!(v, Value::Date(_))
        })?,
        "time" => zinc_of(req_str(&f.val, "time", "val")?, "time", |v| {
            matches!(v, Value::Time(_))
        })?,
        "dateTime" => {
            let val = req_str(&f.val, "dateTime", "val")?;
            let tz = opt_str(&f.tz, "dateTime", "tz")?.unwrap_or("GMT");
            let mut text = String::with_capacity(val.len() + tz.len() + 1);
            text.push_str(val);
            text.push(' ');
            text.push_str(tz);
            zinc_of(&text, "dateTime", |v| matches!(v, Value::DateTime(_)))?
        }
        "coord" => Value::Coord(Coord::new(
            req_f64(&f.lat, "coord", "lat")?,
            req_f64(&f.lng, "coord", "lng")?,
        )?),
        "xstr" => Value::XStr(XStr::new(
            req_str(&f.typ, "xstr", "type")?,
            req_str(&f.val, "xstr", "val")?,
        )?),
        other => return Err(Error::Json(format!("unknown _kind {other:?}"))),
    })
}

/// Builds a value of kind `kind` from an object decoded as a dict (its `_kind` came after
/// other keys).
pub(super) fn from_dict(kind: &str, mut d: Dict) -> Result<Value> {
    match kind {
        "dict" => Ok(Value::Dict(d)),
        "grid" => GridParts {
            meta: d.remove("meta"),
            cols: d.remove("cols"),
            rows: d.remove("rows"),
            v3: false,
        }
        .build()
        .map(|g| Value::Grid(Box::new(g))),
        _ => {
            let mut take = |name: &str| d.remove(name).map(Field::Val);
            let f = Fields {
                val: take("val"),
                unit: take("unit"),
                dis: take("dis"),
                tz: take("tz"),
                lat: take("lat"),
                lng: take("lng"),
                typ: take("type"),
            };
            scalar(kind, f)
        }
    }
}

/// Whether a v3 object is a grid: it has a `cols` list and a `rows` list.
pub(super) fn looks_like_v3_grid(d: &Dict) -> bool {
    matches!(d.get("cols"), Some(Value::List(_))) && matches!(d.get("rows"), Some(Value::List(_)))
}

/// Converts a v3 grid dict into a grid.
pub(super) fn v3_grid(mut d: Dict) -> Result<Value> {
    GridParts {
        meta: d.remove("meta"),
        cols: d.remove("cols"),
        rows: d.remove("rows"),
        v3: true,
    }
    .build()
    .map(|g| Value::Grid(Box::new(g)))
}

/// The three parts of a grid object, decoded as values.
#[derive(Debug, Default)]
pub(super) struct GridParts {
    pub(super) meta: Option<Value>,
    pub(super) cols: Option<Value>,
    pub(super) rows: Option<Value>,
    pub(super) v3: bool,
}

impl GridParts {
    /// The grid; errors on a missing or malformed part, a bad or duplicate column name.
    pub(super) fn build(self) -> Result<Grid> {
        let meta = match self.meta {
            None | Some(Value::Null) => Dict::new(),
            Some(Value::Dict(d)) => d,
            Some(_) => return Err(bad("grid", "'meta' must be an object")),
        };
        let cols_in = match self.cols {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::List(l)) => l,
            Some(_) => return Err(bad("grid", "'cols' must be an array")),
        };
        let mut cols = Vec::with_capacity(cols_in.len());
        for c in cols_in {
            let Value::Dict(mut c) = c else {
                return Err(bad("grid", "each column must be an object"));
            };
            let name = match c.remove("name") {
                Some(Value::Str(n)) => n,
                _ => return Err(bad("grid", "each column needs a string 'name'")),
            };
            let col_meta = if self.v3 {
                c
            } else {
                match c.remove("meta") {
                    None | Some(Value::Null) => Dict::new(),
                    Some(Value::Dict(m)) => m,
                    Some(_) => return Err(bad("grid", "column 'meta' must be an object")),
                }
            };
            cols.push(Col::with_meta(name, col_meta)?);
        }
        let rows_in = match self.rows {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::List(l)) => l,
            Some(_) => return Err(bad("grid", "'rows' must be an array")),
        };
        let mut grid = Grid::with_cols(meta, cols)?;
        let mut index: HashMap<Arc<str>, usize> = grid
            .cols()
            .iter()
            .enumerate()
            .map(|(i, c)| (c.shared_name().clone(), i))
            .collect();
        let mut cells: Vec<Value> = Vec::new();
        for r in rows_in {
            let Value::Dict(r) = r else {
                return Err(bad("grid", "each row must be an object"));
            };
            cells.clear();
            cells.resize(grid.cols().len(), Value::Null);
            for (name, v) in r {
                let i = match index.get(&*name) {
                    Some(&i) => i,
                    None => {
                        // A tag without a column: add the column rather than lose the value.
                        grid.add_col(name.clone(), Dict::new())?;
                        let i = grid.cols().len() - 1;
                        index.insert(name, i);
                        cells.push(Value::Null);
                        i
                    }
                };
                if let Some(slot) = cells.get_mut(i) {
                    *slot = v;
                }
            }
            grid.push_row(std::mem::take(&mut cells))?;
        }
        Ok(grid)
    }
}
