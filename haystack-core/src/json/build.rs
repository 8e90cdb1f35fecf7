//! Building values from the fields of Hayson objects (`{"_kind": "ref", "val": ...}`) and grids
//! from their `meta`, `cols` and `rows`.

use hashbrown::HashMap;
use std::sync::Arc;

use super::de::Field;
use crate::error::{Error, Position, Result};
use crate::value::{Coord, Number, Value, XStr, is_ref_id};
use crate::zinc::{Interner, Scanner};
use crate::{Col, Dict, Grid};

/// Per-document helpers shared by all decoding: an interner for tag names, units, timezone
/// names and ref display names, and a scratch buffer for Zinc text.
#[derive(Debug, Default)]
pub(super) struct Shared {
    interner: Interner,
    scratch: String,
}

impl Shared {
    /// The shared copy of `s`.
    pub(super) fn intern(&mut self, s: &str) -> Arc<str> {
        self.interner.intern(s)
    }

    /// Reads all of `text` as one Zinc scalar with the crate's one scalar reader.
    pub(super) fn zinc(&mut self, text: &str) -> Result<Value> {
        let start = Position {
            line: 1,
            column: 1,
            offset: 0,
        };
        let mut s = Scanner::with_base(text, start, std::mem::take(&mut self.interner));
        let v = s.read_scalar();
        let end = s.is_eof();
        let pos = s.pos();
        self.interner = s.into_interner();
        let v = v?;
        if !end {
            return Err(Error::parse(
                Position {
                    line: 1,
                    column: pos + 1,
                    offset: pos,
                },
                format!("expected end of {text:?}"),
            ));
        }
        Ok(v)
    }

    /// Reads `a` + `sep` + `b` as one Zinc scalar, without allocating.
    pub(super) fn zinc_joined(&mut self, a: &str, sep: char, b: &str) -> Result<Value> {
        let mut text = std::mem::take(&mut self.scratch);
        text.clear();
        text.push_str(a);
        text.push(sep);
        text.push_str(b);
        let v = self.zinc(&text);
        self.scratch = text;
        v
    }
}

/// The error for a unit the Zinc reader could not read back after a number.
pub(super) fn bad_unit(unit: &str) -> Error {
    bad(
        "number",
        format!("unit {unit:?} is not a unit symbol (letters, '%', '_', '/', '$', non-ASCII)"),
    )
}

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

/// Checks that a Zinc reading gave the expected kind.
fn zinc_of(
    read: Result<Value>,
    text: &str,
    kind: &str,
    ok: impl Fn(&Value) -> bool,
) -> Result<Value> {
    match read {
        Ok(v) if ok(&v) => Ok(v),
        Ok(_) => Err(bad(kind, format!("{text:?}"))),
        Err(e) => Err(bad(kind, format!("{text:?}: {e}"))),
    }
}

/// Builds a scalar of Hayson kind `kind` from its fields.
pub(super) fn scalar(kind: &str, f: Fields<'_>, sh: &mut Shared) -> Result<Value> {
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
                Some("") | None => Value::Number(Number::new(v)),
                Some(u) if !crate::value::is_unit_symbol(u) => return Err(bad_unit(u)),
                Some(u) => Value::Number(Number::with_shared_unit(v, Some(sh.intern(u)))),
            }
        }
        "ref" => {
            let id = req_str(&f.val, "ref", "val")?;
            if !is_ref_id(id) {
                return Err(bad("ref", format!("invalid id {id:?}")));
            }
            let dis = opt_str(&f.dis, "ref", "dis")?;
            Value::Ref(sh.interner.intern_ref(id, dis))
        }
        "symbol" => {
            let s = req_str(&f.val, "symbol", "val")?;
            if !is_ref_id(s) {
                return Err(bad("symbol", format!("invalid name {s:?}")));
            }
            Value::Symbol(s.into())
        }
        "uri" => Value::Uri(req_str(&f.val, "uri", "val")?.into()),
        "str" => Value::Str(req_str(&f.val, "str", "val")?.into()),
        "bool" => match &f.val {
            Some(Field::Val(Value::Bool(b))) => Value::Bool(*b),
            _ => return Err(bad("bool", "'val' must be true or false")),
        },
        "date" => {
            let text = req_str(&f.val, "date", "val")?;
            zinc_of(sh.zinc(text), text, "date", |v| matches!(v, Value::Date(_)))?
        }
        "time" => {
            let text = req_str(&f.val, "time", "val")?;
            zinc_of(sh.zinc(text), text, "time", |v| matches!(v, Value::Time(_)))?
        }
        "dateTime" => {
            let val = req_str(&f.val, "dateTime", "val")?;
            let tz = opt_str(&f.tz, "dateTime", "tz")?.unwrap_or("GMT");
            let read = sh.zinc_joined(val, ' ', tz);
            zinc_of(read, val, "dateTime", |v| matches!(v, Value::DateTime(_)))?
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
pub(super) fn from_dict(
    kind: &str,
    mut d: Dict,
    sh: &mut Shared,
    style: ColStyle,
) -> Result<Value> {
    match kind {
        "dict" => Ok(Value::Dict(d)),
        "grid" => GridParts {
            meta: d.remove("meta"),
            cols: d.remove("cols"),
            rows: d.remove("rows"),
            style,
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
            scalar(kind, f, sh)
        }
    }
}

/// Whether a v3 object is a grid: it has a `cols` list and a `rows` list.
pub(super) fn looks_like_v3_grid(d: &Dict) -> bool {
    matches!(d.get("cols"), Some(Value::List(_))) && matches!(d.get("rows"), Some(Value::List(_)))
}

/// Converts a grid read as a dict (v3, or shaystack's grids without `_kind`) into a grid.
pub(super) fn v3_grid(mut d: Dict, style: ColStyle) -> Result<Value> {
    GridParts {
        meta: d.remove("meta"),
        cols: d.remove("cols"),
        rows: d.remove("rows"),
        style,
    }
    .build()
    .map(|g| Value::Grid(Box::new(g)))
}

/// The grid meta from its decoded value.
pub(super) fn meta_of(v: Option<Value>) -> Result<Dict> {
    match v {
        None | Some(Value::Null) => Ok(Dict::new()),
        Some(Value::Dict(mut d)) => {
            // The format's version, as in Zinc's `ver:` line: not part of the grid meta.
            d.remove("ver");
            Ok(d)
        }
        Some(_) => Err(bad("grid", "'meta' must be an object")),
    }
}

/// Where a column object keeps its meta.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) enum ColStyle {
    /// Hayson: `{"name": .., "meta": {..}}`; other keys are ignored.
    #[default]
    V4,
    /// JSON v3: every key but `name` is column meta.
    V3,
    /// Lenient Hayson: the tags of `meta` (when it is an object) and every other key but
    /// `name` (as shaystack writes them).
    Lenient,
}

/// The grid columns from their decoded value.
pub(super) fn cols_of(v: Option<Value>, style: ColStyle) -> Result<Vec<Col>> {
    let cols_in = match v {
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
        let col_meta = match style {
            ColStyle::V3 => c,
            ColStyle::V4 => match c.remove("meta") {
                None | Some(Value::Null) => Dict::new(),
                Some(Value::Dict(m)) => m,
                Some(_) => return Err(bad("grid", "column 'meta' must be an object")),
            },
            ColStyle::Lenient => match c.remove("meta") {
                None | Some(Value::Null) => c,
                Some(Value::Dict(mut m)) => {
                    for (k, v) in c.iter_shared() {
                        m.insert_valid(k.clone(), v.clone());
                    }
                    m
                }
                Some(other) => {
                    c.insert_valid(Arc::from("meta"), other);
                    c
                }
            },
        };
        cols.push(Col::with_meta(name, col_meta)?);
    }
    Ok(cols)
}

/// Fills a grid row by row from tag names and values: finds each tag's column (looking just
/// after the previous tag first, since rows usually list tags in column order), adds a column
/// for a tag that has none, and skips names that are not tag names.
#[derive(Debug)]
pub(super) struct RowSink {
    grid: Grid,
    names: Vec<Arc<str>>,
    index: HashMap<Arc<str>, usize>,
    /// The current row's tags as (column, value), usually in column order.
    row: Vec<(usize, Value)>,
    hint: usize,
    /// Input bytes the rows may span (0: unknown), and the approximate JSON size of the rows
    /// seen so far, to reserve the cells once after [`SAMPLE_ROWS`] rows.
    input_len: usize,
    sampled: usize,
}

/// How many columns after the previous tag's are compared before a hash lookup.
const LOOKAHEAD: usize = 8;

/// Rows decoded before the grid's cells are reserved from the estimated row count.
const SAMPLE_ROWS: usize = 32;

/// Roughly how many bytes of Hayson a value takes (for sizing, not exact).
fn approx_json_len(v: &Value) -> usize {
    match v {
        Value::Null | Value::Bool(_) => 5,
        Value::Marker | Value::Na | Value::Remove => 18,
        Value::Number(n) => n.unit().map_or(8, |u| 40 + u.len()),
        Value::Str(s) => s.len() + 2,
        Value::Uri(s) | Value::Symbol(s) => s.len() + 28,
        Value::Ref(r) => 26 + r.id().len() + r.dis().map_or(0, |d| d.len() + 8),
        Value::Date(_) | Value::Time(_) => 36,
        Value::DateTime(d) => 62 + d.tz().len(),
        Value::Coord(_) => 50,
        Value::XStr(x) => 40 + x.kind().len() + x.value().len(),
        Value::List(_) | Value::Dict(_) | Value::Grid(_) => 64,
    }
}

impl RowSink {
    pub(super) fn new(grid: Grid) -> Self {
        let names: Vec<Arc<str>> = grid
            .cols()
            .iter()
            .map(|c| c.shared_name().clone())
            .collect();
        let index = names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.clone(), i))
            .collect();
        RowSink {
            grid,
            names,
            index,
            row: Vec::new(),
            hint: 0,
            input_len: 0,
            sampled: 0,
        }
    }

    /// Sizes the grid's cells for rows spanning about `input_len` bytes, once some rows have
    /// shown their size: reserving close to the real need avoids both copies on growth and
    /// oversized allocations.
    pub(super) fn size_from(&mut self, input_len: usize) {
        self.input_len = input_len;
    }

    /// Sets tag `name` of the current row (ignored if `name` is not a tag name).
    pub(super) fn set(&mut self, name: &str, v: Value) -> Result<()> {
        if self.input_len > 0 {
            self.sampled += name.len() + 4 + approx_json_len(&v);
        }
        let end = (self.hint + LOOKAHEAD).min(self.names.len());
        let near = self
            .names
            .get(self.hint..end)
            .and_then(|w| w.iter().position(|n| &**n == name))
            .map(|p| self.hint + p);
        let i = match near.or_else(|| self.index.get(name).copied()) {
            Some(i) => i,
            None => {
                if !crate::is_tag_name(name) {
                    return Ok(());
                }
                // A tag without a column: add the column rather than lose the value.
                let shared: Arc<str> = Arc::from(name);
                self.grid.add_col(shared.clone(), Dict::new())?;
                let i = self.names.len();
                self.names.push(shared.clone());
                self.index.insert(shared, i);
                i
            }
        };
        self.row.push((i, v));
        self.hint = i + 1;
        Ok(())
    }

    /// Ends the current row.
    pub(super) fn end_row(&mut self) -> Result<()> {
        self.grid.push_tags(self.row.drain(..))?;
        if self.input_len > 0 && self.grid.len() == SAMPLE_ROWS {
            let per_row = (self.sampled / SAMPLE_ROWS).max(2);
            // A little extra so that a slightly low guess does not double the buffer.
            let rows = (self.input_len / per_row + self.input_len / per_row / 8)
                .saturating_sub(SAMPLE_ROWS);
            // Each tag took at least a few bytes of the sample, so this stays within a small
            // multiple of the input size.
            let tags_per_row = self.grid.tag_count().div_ceil(SAMPLE_ROWS);
            self.grid.reserve_rows(rows);
            self.grid.reserve_tags(rows.saturating_mul(tags_per_row));
            self.input_len = 0;
        }
        self.hint = 0;
        Ok(())
    }

    pub(super) fn into_grid(self) -> Grid {
        self.grid
    }
}

/// The three parts of a grid object, decoded as values.
#[derive(Debug, Default)]
pub(super) struct GridParts {
    pub(super) meta: Option<Value>,
    pub(super) cols: Option<Value>,
    pub(super) rows: Option<Value>,
    pub(super) style: ColStyle,
}

impl GridParts {
    /// The grid; errors on a missing or malformed part, a bad or duplicate column name.
    pub(super) fn build(self) -> Result<Grid> {
        let meta = meta_of(self.meta)?;
        let cols = cols_of(self.cols, self.style)?;
        let rows_in = match self.rows {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::List(l)) => l,
            Some(_) => return Err(bad("grid", "'rows' must be an array")),
        };
        let mut sink = RowSink::new(Grid::with_cols(meta, cols)?);
        for r in rows_in {
            let Value::Dict(r) = r else {
                return Err(bad("grid", "each row must be an object"));
            };
            for (name, v) in r {
                sink.set(&name, v)?;
            }
            sink.end_row()?;
        }
        Ok(sink.into_grid())
    }
}
