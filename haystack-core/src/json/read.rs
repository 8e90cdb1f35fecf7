//! The Hayson (and JSON v3) reader: recursive descent over the [`Lexer`]'s tokens, building
//! [`Value`]s directly, with the same rules as the serde visitors of [`super::de`] (which
//! remain `Value`'s `Deserialize`): `_kind` first or later, grids whose `cols` come before
//! `rows` decoded straight into a [`RowSink`], tag names interned once per document.
//!
//! Recursion is bounded by the lexer's depth limit ([`super::lex::MAX_DEPTH`]); skipped
//! values are skipped without recursion.

use std::borrow::Cow;
use std::sync::Arc;

use hashbrown::HashMap;

use super::build::{self, RowSink};
use super::de::{Ctx, Field};
use super::lex::{LResult, Lexer};
use crate::error::{Error, Position, Result};
use crate::value::{Number, Value};
use crate::{Dict, Grid, SmolStr, is_tag_name};

/// What a value starting with byte `b` is, for "invalid type" messages.
fn found(b: Option<u8>) -> &'static str {
    match b {
        Some(b'"') => "string",
        Some(b'-' | b'0'..=b'9') => "number",
        Some(b't' | b'f') => "boolean",
        Some(b'n') => "null",
        Some(b'[') => "sequence",
        Some(b'{') => "map",
        _ => "no value",
    }
}

/// Whether an object key is `_kind` (byte patterns: no call to compare memory).
#[inline]
fn is_kind_key(k: &str) -> bool {
    matches!(*k.as_bytes(), [b'_', b'k', b'i', b'n', b'd'])
}

/// The error of a whole document: serde_json's `message at line L column C` form, which the
/// crate's JSON errors have always had.
fn doc_error(text: &[u8], fail: &super::lex::Fail) -> Error {
    let p = Lexer::position(
        text,
        fail.at,
        Position {
            line: 1,
            column: 1,
            offset: 0,
        },
    );
    Error::Json(format!(
        "{} at line {} column {}",
        fail.msg, p.line, p.column
    ))
}

/// Reads all of `text` as one document with the rules of `ctx`.
pub(super) fn document(text: &str, mut ctx: Ctx) -> Result<Value> {
    let mut r = Reader::new(text, &mut ctx);
    r.value()
        .and_then(|v| r.lx.end().map(|()| v))
        .map_err(|f| doc_error(text.as_bytes(), &f))
}

/// Reads all of `input` as one document with the rules of `ctx`. Strings that are decoded
/// must be UTF-8 (skipped ones are only checked for their syntax, as serde_json does).
pub(super) fn document_bytes(input: &[u8], mut ctx: Ctx) -> Result<Value> {
    let mut r = Reader::from_bytes(input, &mut ctx);
    r.value()
        .and_then(|v| r.lx.end().map(|()| v))
        .map_err(|f| doc_error(input, &f))
}

/// Decodes Hayson values from one text with one context.
pub(super) struct Reader<'a, 'c> {
    /// The lexer, for callers that read the framing themselves.
    pub(super) lx: Lexer<'a>,
    ctx: &'c mut Ctx,
}

impl<'a, 'c> Reader<'a, 'c> {
    /// A reader at the start of `text`.
    pub(super) fn new(text: &'a str, ctx: &'c mut Ctx) -> Self {
        Reader {
            lx: Lexer::new(text),
            ctx,
        }
    }

    /// A reader at the start of `bytes` (see [`Lexer::from_bytes`]).
    pub(super) fn from_bytes(bytes: &'a [u8], ctx: &'c mut Ctx) -> Self {
        Reader {
            lx: Lexer::from_bytes(bytes),
            ctx,
        }
    }

    /// The error for a decoding error found at the end of what was just read.
    #[cold]
    fn bad<T>(&self, e: Error) -> LResult<T> {
        self.lx.fail_last(e.to_string())
    }

    /// The error for a decoding error found inside an object that is still open: placed at
    /// its closing brace when that is next (as serde_json, which reads up to it first), else
    /// at the last byte read.
    #[cold]
    fn bad_open<T>(&mut self, msg: impl Into<String>) -> LResult<T> {
        if self.lx.peek() == Some(b'}') {
            self.lx.fail(msg)
        } else {
            self.lx.fail_last(msg)
        }
    }

    /// One value.
    pub(super) fn value(&mut self) -> LResult<Value> {
        match self.lx.peek() {
            Some(b'"') => {
                let s = self.lx.str_ref()?;
                if self.ctx.v3 {
                    match super::v3::decode_str(s, &mut self.ctx.sh) {
                        Ok(v) => Ok(v),
                        Err(e) => self.bad(e),
                    }
                } else {
                    Ok(Value::Str(SmolStr::from(s)))
                }
            }
            Some(b'-' | b'0'..=b'9') => Ok(Value::Number(Number::new(self.lx.number()?))),
            Some(b't') => self.lx.literal(b"true").map(|()| Value::Bool(true)),
            Some(b'f') => self.lx.literal(b"false").map(|()| Value::Bool(false)),
            Some(b'n') => self.lx.literal(b"null").map(|()| Value::Null),
            Some(b'[') => {
                self.lx.enter()?;
                let v = self.list();
                self.lx.leave();
                v
            }
            Some(b'{') => {
                self.lx.enter()?;
                let v = self.object();
                self.lx.leave();
                v
            }
            Some(_) => self.lx.fail("expected value"),
            None => self.lx.fail("EOF while parsing a value"),
        }
    }

    /// The elements of an array whose bracket was consumed.
    fn list(&mut self) -> LResult<Value> {
        let mut items = Vec::new();
        let mut first = true;
        while self.lx.next_elem(&mut first)? {
            items.push(self.value()?);
        }
        Ok(Value::List(items))
    }

    /// A field of a kinded object: strings and numbers kept raw.
    fn field(&mut self) -> LResult<Field<'a>> {
        match self.lx.peek() {
            Some(b'"') => Ok(Field::Str(self.lx.string()?)),
            Some(b'-' | b'0'..=b'9') => Ok(Field::Num(self.lx.number()?)),
            _ => self.value().map(Field::Val),
        }
    }

    /// The members of an object whose brace was consumed: a dict, a kinded value, or (v3,
    /// lenient) a grid.
    fn object(&mut self) -> LResult<Value> {
        let mut first = true;
        let Some(k0) = self.lx.next_key(&mut first)? else {
            return Ok(Value::Dict(Dict::new()));
        };
        if !self.ctx.v3 && is_kind_key(&k0) {
            let kind = self.field()?;
            let Some(kind) = kind.as_str() else {
                return self.bad_open("_kind must be a string");
            };
            let kind = self.ctx.kind(kind);
            return self.kinded(kind, first);
        }
        // A dict, or (v4) an object whose `_kind` comes later, or (v3) a grid.
        let mut dict = Dict::new();
        let mut kind: Option<SmolStr> = None;
        let mut key = Some(k0);
        loop {
            let k = match key.take() {
                Some(k) => k,
                None => match self.lx.next_key(&mut first)? {
                    Some(k) => k,
                    None => break,
                },
            };
            if !self.ctx.v3 && is_kind_key(&k) {
                match self.value()? {
                    Value::Str(s) => kind = Some(s),
                    _ => return self.bad_open("_kind must be a string"),
                }
                continue;
            }
            let v = self.value()?;
            if is_tag_name(&k) {
                let name = self.ctx.sh.intern(&k);
                dict.insert_valid(name, v);
            }
        }
        let built = if let Some(kind) = kind {
            let kind = self.ctx.kind(&kind);
            let style = self.ctx.col_style();
            build::from_dict(kind, dict, &mut self.ctx.sh, style)
        } else if self.ctx.v3 && build::looks_like_v3_grid(&dict) {
            build::v3_grid(dict, build::ColStyle::V3)
        } else if self.ctx.lenient && dict.contains_key("meta") && build::looks_like_v3_grid(&dict)
        {
            // shaystack writes grids without `_kind`, column meta beside `name`.
            build::v3_grid(dict, build::ColStyle::Lenient)
        } else {
            return Ok(Value::Dict(dict));
        };
        built.or_else(|e| self.bad(e))
    }

    /// The rest of an object whose first key was `_kind`: read by field name.
    fn kinded(&mut self, kind: &str, mut first: bool) -> LResult<Value> {
        match kind {
            "marker" | "na" | "remove" => {
                while self.lx.next_key(&mut first)?.is_some() {
                    self.lx.skip_value()?;
                }
                Ok(match kind {
                    "marker" => Value::Marker,
                    "na" => Value::Na,
                    _ => Value::Remove,
                })
            }
            "dict" => {
                let mut dict = Dict::new();
                while let Some(k) = self.lx.next_key(&mut first)? {
                    let v = self.value()?;
                    if is_tag_name(&k) {
                        let name = self.ctx.sh.intern(&k);
                        dict.insert_valid(name, v);
                    }
                }
                Ok(Value::Dict(dict))
            }
            "grid" => self.grid(first),
            _ => {
                let mut f = build::Fields::default();
                while let Some(k) = self.lx.next_key(&mut first)? {
                    // Byte patterns rather than string patterns: no call to compare memory.
                    let slot = match *k.as_bytes() {
                        [b'v', b'a', b'l'] => &mut f.val,
                        [b'u', b'n', b'i', b't'] => &mut f.unit,
                        [b'd', b'i', b's'] => &mut f.dis,
                        [b't', b'z'] => &mut f.tz,
                        [b'l', b'a', b't'] => &mut f.lat,
                        [b'l', b'n', b'g'] => &mut f.lng,
                        [b't', b'y', b'p', b'e'] => &mut f.typ,
                        _ => {
                            self.lx.skip_value()?;
                            continue;
                        }
                    };
                    *slot = Some(self.field()?);
                }
                build::scalar(kind, f, &mut self.ctx.sh).or_else(|e| self.bad(e))
            }
        }
    }

    /// The rest of a kinded grid. Rows after cols (the usual order) are decoded straight into
    /// the grid's cells.
    fn grid(&mut self, mut first: bool) -> LResult<Value> {
        let mut parts = build::GridParts::default();
        let mut sink: Option<RowSink> = None;
        while let Some(k) = self.lx.next_key(&mut first)? {
            match &*k {
                "meta" => parts.meta = Some(self.value()?),
                "cols" => parts.cols = Some(self.value()?),
                "rows" if sink.is_none() && parts.cols.is_some() => {
                    let style = self.ctx.col_style();
                    let grid = build::meta_of(parts.meta.take()).and_then(|meta| {
                        let cols = build::cols_of(parts.cols.take(), style)?;
                        Grid::with_cols(meta, cols)
                    });
                    let grid = match grid {
                        Ok(g) => g,
                        Err(e) => return self.bad_open(e.to_string()),
                    };
                    let mut s = RowSink::new(grid);
                    s.size_from(self.ctx.take_input_len());
                    self.rows(&mut s)?;
                    sink = Some(s);
                }
                "rows" => parts.rows = Some(self.value()?),
                _ => self.lx.skip_value()?,
            }
        }
        let grid = match sink {
            Some(s) => {
                let mut g = s.into_grid();
                if parts.cols.is_some() || parts.rows.is_some() {
                    return self.lx.fail_last("grid has more than one 'cols' or 'rows'");
                }
                if let Some(meta) = parts.meta {
                    match build::meta_of(Some(meta)) {
                        Ok(m) => *g.meta_mut() = m,
                        Err(e) => return self.bad(e),
                    }
                }
                g
            }
            None => {
                parts.style = self.ctx.col_style();
                match parts.build() {
                    Ok(g) => g,
                    Err(e) => return self.bad(e),
                }
            }
        };
        Ok(Value::Grid(Box::new(grid)))
    }

    /// The `rows` array of a grid whose columns are known: each row goes into the sink.
    fn rows(&mut self, sink: &mut RowSink) -> LResult<()> {
        let b = self.lx.peek();
        if b != Some(b'[') {
            return self.invalid(b, "an array of grid rows");
        }
        self.lx.enter()?;
        let res = self.rows_in(sink);
        self.lx.leave();
        res
    }

    fn rows_in(&mut self, sink: &mut RowSink) -> LResult<()> {
        let mut first = true;
        while self.lx.next_elem(&mut first)? {
            let b = self.lx.peek();
            if b != Some(b'{') {
                return self.invalid(b, "a grid row object");
            }
            self.lx.enter()?;
            let res = self.row_in(sink);
            self.lx.leave();
            res?;
        }
        Ok(())
    }

    fn row_in(&mut self, sink: &mut RowSink) -> LResult<()> {
        let mut first = true;
        while let Some(k) = self.lx.next_key(&mut first)? {
            let v = self.value()?;
            if let Err(e) = sink.set(&k, v) {
                return self.bad_open(e.to_string());
            }
        }
        sink.end_row().or_else(|e| self.bad(e))
    }

    /// The error for a value of the wrong type where `expected` was due (the value is
    /// checked first, so a syntax error in it is reported as such).
    #[cold]
    fn invalid<T>(&mut self, b: Option<u8>, expected: &str) -> LResult<T> {
        let at = self.lx.at();
        self.lx.skip_value()?;
        self.lx.fail_at(
            at,
            format!("invalid type: {}, expected {expected}", found(b)),
        )
    }

    /// A string (a key, or `_kind`'s value), or an "invalid type" error.
    pub(super) fn string(&mut self) -> LResult<Cow<'a, str>> {
        match self.lx.peek() {
            Some(b'"') => self.lx.string(),
            b => self.invalid(b, "a string"),
        }
    }

    /// One grid row object decoded into `cells` (one per column of `names`, which `index`
    /// indexes). A tag without a column is an error; a key that is not a tag name is skipped.
    pub(super) fn cells(
        &mut self,
        names: &[Arc<str>],
        index: &HashMap<Arc<str>, usize>,
        cells: &mut [Value],
    ) -> LResult<()> {
        let b = self.lx.peek();
        if b != Some(b'{') {
            return self.invalid(b, "a grid row object");
        }
        self.lx.enter()?;
        let res = self.cells_in(names, index, cells);
        self.lx.leave();
        res
    }

    fn cells_in(
        &mut self,
        names: &[Arc<str>],
        index: &HashMap<Arc<str>, usize>,
        cells: &mut [Value],
    ) -> LResult<()> {
        // Rows usually list their tags in column order: look just after the last one first.
        let mut hint = 0;
        let mut first = true;
        while let Some(k) = self.lx.next_key(&mut first)? {
            let v = self.value()?;
            let near = names
                .get(hint..(hint + 4).min(names.len()))
                .and_then(|w| w.iter().position(|n| **n == *k))
                .map(|p| hint + p);
            match near.or_else(|| index.get(&*k).copied()) {
                Some(i) => {
                    if let Some(slot) = cells.get_mut(i) {
                        *slot = v;
                    }
                    hint = i + 1;
                }
                None if !is_tag_name(&k) => {}
                None => return self.bad_open(super::stream::no_column(&k)),
            }
        }
        Ok(())
    }
}
