//! Decoding Haystack JSON (v4 and v3) straight into [`Value`]s with serde visitors: no
//! intermediate `serde_json::Value`, borrowed keys and strings where the input allows, tag
//! names interned once per document. This is `Value`'s `Deserialize` and
//! [`super::from_reader`]'s path; text and bytes go through the byte-level reader in
//! [`super::read`], which follows the same rules (and is tested against this one).

use std::borrow::Cow;
use std::fmt;

use serde::de::{
    DeserializeSeed, Deserializer, Error as _, IgnoredAny, MapAccess, SeqAccess, Visitor,
};

use super::build::{self, RowSink, Shared};
use crate::value::Value;
use crate::{Dict, Grid, is_tag_name};

/// Per-document decoding state.
pub(super) struct Ctx {
    pub(super) v3: bool,
    /// Whether the draft Hayson kind names (`"Ref"`, `"Num"`, ...) are read too.
    pub(super) lenient: bool,
    pub(super) sh: Shared,
    /// The input length in bytes when known, to reserve room for the first grid's cells.
    input_len: usize,
}

impl Ctx {
    /// Also reads the draft Hayson kind names that shaystack writes.
    pub(super) fn lenient(mut self) -> Self {
        self.lenient = true;
        self
    }

    /// The Hayson kind name for `kind`: itself, or in lenient mode the kind a draft name means.
    pub(super) fn kind<'k>(&self, kind: &'k str) -> &'k str {
        if self.lenient {
            draft_kind(kind).unwrap_or(kind)
        } else {
            kind
        }
    }

    /// How column objects carry their meta in this context's v4 grids.
    pub(super) fn col_style(&self) -> build::ColStyle {
        if self.lenient {
            build::ColStyle::Lenient
        } else {
            build::ColStyle::V4
        }
    }

    pub(super) fn new(v3: bool, input_len: usize) -> Self {
        Ctx {
            v3,
            lenient: false,
            sh: Shared::default(),
            input_len,
        }
    }

    /// The input length for sizing the first grid's cells; 0 afterwards, so nested grids
    /// grow as needed.
    pub(super) fn take_input_len(&mut self) -> usize {
        std::mem::take(&mut self.input_len)
    }
}

/// Decodes one value with the context's version rules.
pub(super) struct ValueSeed<'c>(pub(super) &'c mut Ctx);

impl<'de> DeserializeSeed<'de> for ValueSeed<'_> {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(ValueVisitor(self.0))
    }
}

struct ValueVisitor<'c>(&'c mut Ctx);

fn num(v: f64) -> Value {
    Value::Number(crate::value::Number::new(v))
}

impl<'de> Visitor<'de> for ValueVisitor<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a Haystack JSON value")
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E: serde::de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(num(v as f64))
    }
    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(num(v as f64))
    }
    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(num(v))
    }
    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Value, E> {
        if self.0.v3 {
            super::v3::decode_str(v, &mut self.0.sh).map_err(E::custom)
        } else {
            Ok(Value::Str(v.into()))
        }
    }
    fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Value, E> {
        if self.0.v3 {
            super::v3::decode_str(&v, &mut self.0.sh).map_err(E::custom)
        } else {
            Ok(Value::Str(v.into()))
        }
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
        while let Some(v) = seq.next_element_seed(ValueSeed(&mut *self.0))? {
            items.push(v);
        }
        Ok(Value::List(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let ctx = self.0;
        let Some(first) = map.next_key_seed(KeySeed)? else {
            return Ok(Value::Dict(Dict::new()));
        };
        if !ctx.v3 && first == "_kind" {
            let kind = map.next_value_seed(FieldSeed(&mut *ctx))?;
            let kind = kind
                .as_str()
                .ok_or_else(|| A::Error::custom("_kind must be a string"))?;
            let kind = ctx.kind(kind);
            return kinded(ctx, kind, map);
        }
        // A dict, or (v4) an object whose `_kind` comes later, or (v3) a grid.
        let mut dict = Dict::new();
        let mut kind: Option<crate::SmolStr> = None;
        let mut key = Some(first);
        while let Some(k) = match key.take() {
            Some(k) => Some(k),
            None => map.next_key_seed(KeySeed)?,
        } {
            if !ctx.v3 && k == "_kind" {
                match map.next_value_seed(ValueSeed(&mut *ctx))? {
                    Value::Str(s) => kind = Some(s),
                    _ => return Err(A::Error::custom("_kind must be a string")),
                }
                continue;
            }
            let v = map.next_value_seed(ValueSeed(&mut *ctx))?;
            if is_tag_name(&k) {
                let name = ctx.sh.intern(&k);
                dict.insert_valid(name, v);
            }
        }
        if let Some(kind) = kind {
            let kind = ctx.kind(&kind);
            let style = ctx.col_style();
            return build::from_dict(kind, dict, &mut ctx.sh, style).map_err(A::Error::custom);
        }
        if ctx.v3 && build::looks_like_v3_grid(&dict) {
            return build::v3_grid(dict, build::ColStyle::V3).map_err(A::Error::custom);
        }
        if ctx.lenient && dict.contains_key("meta") && build::looks_like_v3_grid(&dict) {
            // shaystack writes grids without `_kind`, column meta beside `name`.
            return build::v3_grid(dict, build::ColStyle::Lenient).map_err(A::Error::custom);
        }
        Ok(Value::Dict(dict))
    }
}

/// The Hayson kind meant by a draft kind name (as in shaystack's `.hayson.json` samples).
fn draft_kind(kind: &str) -> Option<&'static str> {
    Some(match kind {
        "Marker" => "marker",
        "NA" | "Na" => "na",
        "Remove" => "remove",
        "Num" | "Number" => "number",
        "Ref" => "ref",
        "Str" => "str",
        "Bool" => "bool",
        "Uri" => "uri",
        "Symbol" => "symbol",
        "Date" => "date",
        "Time" => "time",
        "DateTime" => "dateTime",
        "Coord" => "coord",
        "XStr" => "xstr",
        "Dict" => "dict",
        "Grid" => "grid",
        _ => return None,
    })
}

/// An object whose first key is `_kind`: read the rest by field name.
fn kinded<'de, A: MapAccess<'de>>(
    ctx: &mut Ctx,
    kind: &str,
    mut map: A,
) -> Result<Value, A::Error> {
    match kind {
        "marker" | "na" | "remove" => {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            Ok(match kind {
                "marker" => Value::Marker,
                "na" => Value::Na,
                _ => Value::Remove,
            })
        }
        "dict" => {
            let mut dict = Dict::new();
            while let Some(k) = map.next_key_seed(KeySeed)? {
                let v = map.next_value_seed(ValueSeed(&mut *ctx))?;
                if is_tag_name(&k) {
                    let name = ctx.sh.intern(&k);
                    dict.insert_valid(name, v);
                }
            }
            Ok(Value::Dict(dict))
        }
        "grid" => {
            // Rows after cols (the usual order) are decoded straight into the grid's cells.
            let mut parts = build::GridParts::default();
            let mut sink: Option<RowSink> = None;
            while let Some(k) = map.next_key_seed(KeySeed)? {
                match &*k {
                    "meta" => parts.meta = Some(map.next_value_seed(ValueSeed(&mut *ctx))?),
                    "cols" => parts.cols = Some(map.next_value_seed(ValueSeed(&mut *ctx))?),
                    "rows" if sink.is_none() && parts.cols.is_some() => {
                        let meta = build::meta_of(parts.meta.take()).map_err(A::Error::custom)?;
                        let cols = build::cols_of(parts.cols.take(), ctx.col_style())
                            .map_err(A::Error::custom)?;
                        let grid = Grid::with_cols(meta, cols).map_err(A::Error::custom)?;
                        let mut s = RowSink::new(grid);
                        s.size_from(ctx.take_input_len());
                        map.next_value_seed(RowsSeed {
                            ctx: &mut *ctx,
                            sink: &mut s,
                        })?;
                        sink = Some(s);
                    }
                    "rows" => parts.rows = Some(map.next_value_seed(ValueSeed(&mut *ctx))?),
                    _ => {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
            }
            let grid = match sink {
                Some(s) => {
                    let mut g = s.into_grid();
                    if parts.cols.is_some() || parts.rows.is_some() {
                        return Err(A::Error::custom("grid has more than one 'cols' or 'rows'"));
                    }
                    if let Some(meta) = parts.meta {
                        *g.meta_mut() = build::meta_of(Some(meta)).map_err(A::Error::custom)?;
                    }
                    g
                }
                None => {
                    parts.style = ctx.col_style();
                    parts.build().map_err(A::Error::custom)?
                }
            };
            Ok(Value::Grid(Box::new(grid)))
        }
        _ => {
            let mut f = build::Fields::default();
            while let Some(k) = map.next_key_seed(KeySeed)? {
                let slot = match &*k {
                    "val" => &mut f.val,
                    "unit" => &mut f.unit,
                    "dis" => &mut f.dis,
                    "tz" => &mut f.tz,
                    "lat" => &mut f.lat,
                    "lng" => &mut f.lng,
                    "type" => &mut f.typ,
                    _ => {
                        map.next_value::<IgnoredAny>()?;
                        continue;
                    }
                };
                *slot = Some(map.next_value_seed(FieldSeed(&mut *ctx))?);
            }
            build::scalar(kind, f, &mut ctx.sh).map_err(A::Error::custom)
        }
    }
}

/// An object key, borrowed from the input when it has no escapes.
pub(super) struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Cow<'de, str>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(KeyVisitor)
    }
}

struct KeyVisitor;

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = Cow<'de, str>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string key")
    }
    fn visit_borrowed_str<E: serde::de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }
    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_owned()))
    }
    fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v))
    }
}

/// A field of a kinded object: strings and numbers kept raw (no allocation when borrowed).
#[derive(Debug)]
pub(super) enum Field<'de> {
    /// A JSON string.
    Str(Cow<'de, str>),
    /// A JSON number.
    Num(f64),
    /// Anything else, decoded as a value.
    Val(Value),
}

impl Field<'_> {
    /// The string, if the field is one.
    pub(super) fn as_str(&self) -> Option<&str> {
        match self {
            Field::Str(s) => Some(s),
            Field::Val(Value::Str(s)) => Some(s),
            _ => None,
        }
    }

    /// The number, if the field is a plain JSON number.
    pub(super) fn as_f64(&self) -> Option<f64> {
        match self {
            Field::Num(n) => Some(*n),
            Field::Val(Value::Number(n)) if n.unit().is_none() => Some(n.value()),
            _ => None,
        }
    }
}

struct FieldSeed<'c>(&'c mut Ctx);

impl<'de> DeserializeSeed<'de> for FieldSeed<'_> {
    type Value = Field<'de>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(FieldVisitor(self.0))
    }
}

struct FieldVisitor<'c>(&'c mut Ctx);

impl<'de> Visitor<'de> for FieldVisitor<'_> {
    type Value = Field<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a Haystack JSON field")
    }
    fn visit_borrowed_str<E: serde::de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Field::Str(Cow::Borrowed(v)))
    }
    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Field::Str(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Field::Str(Cow::Owned(v)))
    }
    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Field::Num(v as f64))
    }
    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Field::Num(v as f64))
    }
    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Field::Num(v))
    }
    fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        Ok(Field::Val(Value::Null))
    }
    fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Field::Val(Value::Bool(v)))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        ValueVisitor(self.0).visit_seq(seq).map(Field::Val)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        ValueVisitor(self.0).visit_map(map).map(Field::Val)
    }
}

/// Deserializes Hayson (Haystack JSON v4).
impl<'de> serde::Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        ValueSeed(&mut Ctx::new(false, 0)).deserialize(d)
    }
}

/// The `rows` array of a grid whose columns are known: each row goes straight into the cells.
struct RowsSeed<'c, 's> {
    ctx: &'c mut Ctx,
    sink: &'s mut RowSink,
}

impl<'de> DeserializeSeed<'de> for RowsSeed<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for RowsSeed<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of grid rows")
    }
    fn visit_unit<E: serde::de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq
            .next_element_seed(RowSeed {
                ctx: &mut *self.ctx,
                sink: &mut *self.sink,
            })?
            .is_some()
        {}
        Ok(())
    }
}

/// One grid row object.
struct RowSeed<'c, 's> {
    ctx: &'c mut Ctx,
    sink: &'s mut RowSink,
}

impl<'de> DeserializeSeed<'de> for RowSeed<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for RowSeed<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a grid row object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(k) = map.next_key_seed(KeySeed)? {
            let v = map.next_value_seed(ValueSeed(&mut *self.ctx))?;
            self.sink.set(&k, v).map_err(A::Error::custom)?;
        }
        self.sink.end_row().map_err(A::Error::custom)
    }
}
