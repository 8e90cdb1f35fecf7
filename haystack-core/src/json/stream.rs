//! [`GridReader`]: a Hayson (JSON v4) grid read row by row from any `io::Read`, in memory
//! bounded by its largest row.
//!
//! The reader frames the document itself (the grid object, its keys, the `rows` array) and hands
//! each member and each row, once the bytes of the whole of it are buffered, to the same
//! byte-level reader that decodes whole documents ([`super::from_str`]), so both read values
//! alike.

use hashbrown::HashMap;
use std::borrow::Cow;
use std::fmt;
use std::io::Read;
use std::sync::Arc;

use super::build::{self, ColStyle};
use super::de::Ctx;
use super::lex::{Fail, LResult, Lexer, chars, find_quote_or_backslash};
use super::read::Reader;
use crate::error::{Error, Position, Result};
use crate::value::Value;
use crate::{Col, Dict, Grid};

/// Bytes read from the source at a time (the buffer grows beyond this only for a larger value).
const INITIAL_BUF: usize = 256 * 1024;

/// The smallest window of buffered text checked for UTF-8 before a row is decoded.
const MIN_ROW_WINDOW: usize = 1024;
/// How close to the end of the text a row's error must be to count as the row being cut off
/// there (and read again with more): room for the longest token that fails only once complete
/// (a `\uXXXX\uXXXX` surrogate pair).
const CUT_SLACK: usize = 16;

/// Options of a [`GridReader`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadOptions {
    /// Also read the draft Hayson kind names that shaystack writes (`"_kind": "Ref"`, `"Num"`,
    /// `"Marker"`, ...) and its grids without `_kind` (`{"meta", "cols", "rows"}` with column meta
    /// beside `name`), as [`super::from_str_lenient`] does. Off by default.
    pub lenient: bool,
    /// The largest member of the grid object (a row; or `meta`, `cols`, or a `rows` array that
    /// comes before `cols`) buffered at once, in bytes (default 256 MiB). It bounds the reader's
    /// memory; a larger one is an [`Error::LimitExceeded`].
    pub max_value_bytes: usize,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            lenient: false,
            max_value_bytes: 256 << 20,
        }
    }
}

/// Where the reader is in the grid object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Inside the `rows` array, before its first row.
    FirstRow,
    /// Inside the `rows` array, after a row.
    NextRow,
    /// Rows that came before `cols` are handed out from memory.
    Early,
    /// The document has been read to its end.
    Done,
}

/// Reads a Hayson grid from an `io::Read`: the meta and columns first, then one row at a time,
/// each row as one cell per column. Memory stays bounded by the largest row (see
/// [`ReadOptions::max_value_bytes`]) whatever the number of rows, when `meta` and `cols` come
/// before `rows` (as every writer puts them); rows before `cols` are held until the columns are
/// known.
///
/// Errors carry the line and column of the input. Rules beyond [`super::from_str`]'s:
/// - The document is one grid object: `{"_kind": "grid", ...}` (leniently also without `_kind`).
///   Keys other than `_kind`, `meta`, `cols` and `rows` are dropped (checked as strictly as the
///   whole-document reader checks them: only for syntax after a leading `_kind`, else decoded).
/// - A row tag without a column is an error (the columns were already handed out); a key that
///   is not a tag name is skipped, as in the whole-document reader.
/// - A `meta` after `rows` may only hold `ver`, and `cols` may not come after `rows`.
///
/// ```
/// use haystack_core::json::GridReader;
/// let json = r#"{"_kind":"grid","meta":{"ver":"3.0"},"cols":[{"name":"id"},{"name":"val"}],
///     "rows":[{"id":"a","val":1},{"val":2}]}"#;
/// let mut reader = GridReader::new(json.as_bytes())?;
/// assert_eq!(reader.cols()[1].name(), "val");
/// let mut row = Vec::new();
/// let mut sum = 0.0;
/// while reader.read_row(&mut row)? {
///     sum += row[1].as_number().unwrap().value();
/// }
/// assert_eq!((sum, reader.rows_read()), (3.0, 2));
/// # Ok::<(), haystack_core::Error>(())
/// ```
pub struct GridReader<R> {
    src: R,
    buf: Vec<u8>,
    /// `buf[start..end]` is read but not yet consumed; `origin` is the position of `buf[0]`
    /// (the position of `buf[start]`, [`Self::here`], is counted only when it is needed).
    start: usize,
    end: usize,
    eof: bool,
    origin: Position,
    ctx: Ctx,
    opts: ReadOptions,
    kind_seen: bool,
    /// Whether `_kind` was the grid object's first key (then the whole-document reader reads
    /// it as a grid from there, and skips unknown members; otherwise it decodes every member).
    kind_first: bool,
    /// Whether a member of the grid object has been read.
    any_member: bool,
    rows_seen: bool,
    streamed: bool,
    meta: Dict,
    meta_seen: bool,
    cols: Vec<Col>,
    cols_seen: bool,
    names: Vec<Arc<str>>,
    index: HashMap<Arc<str>, usize>,
    early: std::vec::IntoIter<Value>,
    state: State,
    failed: bool,
    rows: usize,
    /// How many buffered bytes the next row is decoded from (see `decode_row_here`).
    row_window: usize,
}

impl<R> GridReader<R> {
    /// The position of the next unread byte, `buf[start]`.
    fn here(&self) -> Position {
        advance(self.origin, self.buf.get(..self.start).unwrap_or_default())
    }
}

impl<R> fmt::Debug for GridReader<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GridReader")
            .field("position", &self.here())
            .field("cols", &self.cols.len())
            .field("rows", &self.rows)
            .finish_non_exhaustive()
    }
}

/// How far the value starting at a position extends in the buffer.
enum Extent {
    /// It ends just before this index.
    Done(usize),
    /// More bytes are needed.
    More,
}

fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

/// The index just after the string whose opening quote is at `i`, if it is all buffered.
fn string_end(b: &[u8], i: usize) -> Option<usize> {
    let mut j = i + 1;
    loop {
        j = find_quote_or_backslash(b, j)?;
        if b.get(j) == Some(&b'"') {
            return Some(j + 1);
        }
        // A backslash: skip it and the byte it escapes.
        j += 2;
    }
}

/// The extent of the value starting at `b[i]` (not whitespace). Only the framing is checked
/// here (strings, brackets, scalars' ends); the value is then decoded by the reader, which
/// checks the rest.
fn extent(b: &[u8], i: usize) -> Extent {
    match b.get(i) {
        None => Extent::More,
        Some(b'"') => string_end(b, i).map_or(Extent::More, Extent::Done),
        Some(b'{' | b'[') => {
            let mut depth = 0usize;
            let mut j = i;
            while let Some(&c) = b.get(j) {
                match c {
                    b'"' => match string_end(b, j) {
                        Some(e) => {
                            j = e;
                            continue;
                        }
                        None => return Extent::More,
                    },
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Extent::Done(j + 1);
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
            Extent::More
        }
        Some(_) => {
            let rest = b.get(i..).unwrap_or_default();
            match rest
                .iter()
                .position(|&c| is_ws(c) || matches!(c, b',' | b']' | b'}' | b'{' | b'[' | b':'))
            {
                Some(0) => Extent::Done(i + 1),
                Some(n) => Extent::Done(i + n),
                None => Extent::More,
            }
        }
    }
}

/// `pos` moved over `bytes`: lines and columns (in characters) as the crate counts them.
fn advance(mut pos: Position, bytes: &[u8]) -> Position {
    pos.offset += bytes.len();
    let tail = match memchr::memrchr(b'\n', bytes) {
        Some(nl) => {
            pos.line += memchr::memchr_iter(b'\n', bytes).count();
            pos.column = 1;
            bytes.get(nl + 1..).unwrap_or_default()
        }
        None => bytes,
    };
    pos.column += chars(tail);
    pos
}

impl<R: Read> GridReader<R> {
    /// Reads the grid meta and columns from `src`, strictly (see [`ReadOptions`]).
    pub fn new(src: R) -> Result<Self> {
        GridReader::with_options(src, ReadOptions::default())
    }

    /// Reads the grid meta and columns from `src`.
    pub fn with_options(src: R, opts: ReadOptions) -> Result<Self> {
        let mut ctx = Ctx::new(false, 0);
        if opts.lenient {
            ctx = ctx.lenient();
        }
        let mut r = GridReader {
            src,
            buf: vec![
                0;
                INITIAL_BUF
                    .min(opts.max_value_bytes.saturating_add(1))
                    .max(16)
            ],
            start: 0,
            end: 0,
            eof: false,
            origin: Position {
                line: 1,
                column: 1,
                offset: 0,
            },
            ctx,
            opts,
            kind_seen: false,
            kind_first: false,
            any_member: false,
            rows_seen: false,
            streamed: false,
            meta: Dict::new(),
            meta_seen: false,
            cols: Vec::new(),
            cols_seen: false,
            names: Vec::new(),
            index: HashMap::new(),
            early: Vec::new().into_iter(),
            state: State::Done,
            failed: false,
            rows: 0,
            row_window: MIN_ROW_WINDOW,
        };
        r.read_header()?;
        Ok(r)
    }

    /// The grid meta (without `ver`, as [`super::from_str`] reads it).
    pub fn meta(&self) -> &Dict {
        &self.meta
    }

    /// The columns.
    pub fn cols(&self) -> &[Col] {
        &self.cols
    }

    /// Rows read so far.
    pub fn rows_read(&self) -> usize {
        self.rows
    }

    /// The position of the next unread byte.
    pub fn position(&self) -> Position {
        self.here()
    }

    /// Reads the next row into `row` (cleared first, one cell per column, null where the row
    /// has no tag). Returns false at the end of the grid, once the rest of the document has
    /// been checked. After an error, it returns false.
    pub fn read_row(&mut self, row: &mut Vec<Value>) -> Result<bool> {
        if self.failed {
            return Ok(false);
        }
        let res = self.read_row_inner(row);
        if res.is_err() {
            self.failed = true;
        }
        res
    }

    /// Reads every remaining row into a grid.
    pub fn into_grid(mut self) -> Result<Grid> {
        let mut grid = Grid::with_cols(self.meta.clone(), self.cols.clone())?;
        let mut row = Vec::with_capacity(self.cols.len());
        while self.read_row(&mut row)? {
            grid.append_row(&mut row)?;
        }
        Ok(grid)
    }

    fn read_row_inner(&mut self, row: &mut Vec<Value>) -> Result<bool> {
        match self.state {
            State::Done => Ok(false),
            State::Early => match self.early.next() {
                Some(v) => {
                    self.early_row(v, row)?;
                    self.rows += 1;
                    Ok(true)
                }
                None => {
                    self.state = State::Done;
                    Ok(false)
                }
            },
            State::FirstRow | State::NextRow => {
                let Some(b) = self.peek()? else {
                    return Err(self.eof_error("a row or ']'"));
                };
                if b == b']' {
                    self.consume(1);
                    self.state = State::Done;
                    self.read_members(true)?;
                    return Ok(false);
                }
                if self.state == State::NextRow {
                    if b != b',' {
                        return Err(self.error_here("expected ',' or ']' after a row"));
                    }
                    self.consume(1);
                    if self.peek()?.is_none() {
                        return Err(self.eof_error("a row"));
                    }
                }
                let used = self.decode_row_here(row)?;
                self.consume(used);
                self.state = State::NextRow;
                self.rows += 1;
                Ok(true)
            }
        }
    }

    /// Reads up to the `rows` array (left open for [`Self::read_row`]) or to the end.
    fn read_header(&mut self) -> Result<()> {
        if self.peek()?.is_some() && self.here().offset == 0 {
            self.fill_to(3)?;
            let head = self.buf.get(self.start..self.end).unwrap_or_default();
            if head.starts_with("\u{feff}".as_bytes()) {
                // A byte order mark: skipped, and not counted as a column.
                self.consume(3);
                // Counted from a column before the mark, so the next byte is column 1.
                self.origin.column = self.origin.column.saturating_sub(1);
            }
        }
        match self.peek()? {
            Some(b'{') => self.consume(1),
            Some(_) => return Err(self.error_here("expected a Hayson grid object '{'")),
            None => return Err(self.eof_error("a Hayson grid object")),
        }
        self.read_members(false)
    }

    /// Reads the members of the grid object up to an open `rows` array (then the state is
    /// [`State::FirstRow`]) or to its closing brace and the end of the input. `after` says
    /// whether a member came before (so a comma is due).
    fn read_members(&mut self, mut after: bool) -> Result<()> {
        loop {
            let Some(b) = self.peek()? else {
                return Err(self.eof_error("'}' closing the grid"));
            };
            if b == b'}' {
                self.consume(1);
                return self.finish();
            }
            if after {
                if b != b',' {
                    return Err(self.error_here("expected ',' or '}' in the grid object"));
                }
                self.consume(1);
                if self.peek()?.is_none() {
                    return Err(self.eof_error("a key"));
                }
            }
            after = true;
            if self.buf.get(self.start) != Some(&b'"') {
                return Err(self.error_here("expected a key string"));
            }
            let end = self.value()?;
            let key = self.decode(end, |r| r.string().map(Cow::into_owned))?;
            self.consume(end - self.start);
            let first_member = !std::mem::replace(&mut self.any_member, true);
            match self.peek()? {
                Some(b':') => self.consume(1),
                Some(_) => return Err(self.error_here("expected ':'")),
                None => return Err(self.eof_error("':'")),
            }
            if self.peek()?.is_none() {
                return Err(self.eof_error("a value"));
            }
            let at = self.here();
            match key.as_str() {
                "rows" if self.rows_seen => {
                    return Err(Error::parse(at, "the grid has more than one 'rows'"));
                }
                "rows" => {
                    self.rows_seen = true;
                    if self.cols_seen && self.buf.get(self.start) == Some(&b'[') {
                        self.consume(1);
                        self.start_rows();
                        self.streamed = true;
                        self.state = State::FirstRow;
                        return Ok(());
                    }
                    // Before the columns (or not an array): decoded whole, held until the end.
                    let v = self.member_value()?;
                    self.early = rows_list(v, at)?.into_iter();
                }
                "meta" if self.meta_seen => {
                    return Err(Error::parse(at, "the grid has more than one 'meta'"));
                }
                "meta" => {
                    let v = self.member_value()?;
                    let meta = build::meta_of(Some(v)).map_err(|e| at_pos(e, at))?;
                    self.meta_seen = true;
                    if self.streamed && !meta.is_empty() {
                        return Err(Error::parse(
                            at,
                            "grid 'meta' after 'rows' (a streamed grid needs it first)",
                        ));
                    }
                    self.meta = meta;
                }
                "cols" if self.cols_seen => {
                    return Err(Error::parse(at, "the grid has more than one 'cols'"));
                }
                "cols" => {
                    let v = self.member_value()?;
                    let style = if self.opts.lenient {
                        ColStyle::Lenient
                    } else {
                        ColStyle::V4
                    };
                    let cols = build::cols_of(Some(v), style).map_err(|e| at_pos(e, at))?;
                    // Checks names and duplicates as a grid would.
                    Grid::with_cols(Dict::new(), cols.clone()).map_err(|e| at_pos(e, at))?;
                    self.cols = cols;
                    self.cols_seen = true;
                }
                "_kind" => {
                    let end = self.value()?;
                    let kind = self.decode(end, |r| r.string().map(Cow::into_owned))?;
                    self.consume(end - self.start);
                    let grid = kind == "grid" || (self.opts.lenient && kind == "Grid");
                    if !grid {
                        return Err(Error::parse(at, format!("expected a grid, found {kind:?}")));
                    }
                    self.kind_seen = true;
                    self.kind_first = first_member;
                }
                _ => {
                    let end = self.value()?;
                    if self.kind_first {
                        self.decode(end, |r| r.lx.skip_value())?;
                    } else {
                        // Decoded and dropped: the whole-document reader decodes every member
                        // of an object whose `_kind` does not come first, so what it refuses
                        // there (text that is not UTF-8, a bad kind) is refused here too.
                        self.decode(end, |r| r.value().map(drop))?;
                    }
                    self.consume(end - self.start);
                }
            }
        }
    }

    /// The end of the grid object: the columns are settled, and only whitespace may follow.
    fn finish(&mut self) -> Result<()> {
        let at = self.here();
        if !self.kind_seen && !self.opts.lenient {
            return Err(Error::parse(
                at,
                "a Hayson grid needs \"_kind\": \"grid\" (an object without it is a dict)",
            ));
        }
        if !self.streamed {
            self.start_rows();
            self.state = State::Early;
        }
        if self.peek()?.is_some() {
            return Err(self.error_here("expected the end of input after the grid"));
        }
        Ok(())
    }

    /// The columns are final: indexes their names.
    fn start_rows(&mut self) {
        self.names = self.cols.iter().map(|c| c.shared_name().clone()).collect();
        self.index = self
            .names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.clone(), i))
            .collect();
    }

    /// Decodes the member value at the cursor and consumes it.
    fn member_value(&mut self) -> Result<Value> {
        let end = self.value()?;
        let v = self.decode(end, |r| r.value())?;
        self.consume(end - self.start);
        Ok(v)
    }

    /// Decodes `buf[start..end]` with `f`.
    fn decode<T>(
        &mut self,
        end: usize,
        f: impl for<'a, 'c> FnOnce(&mut Reader<'a, 'c>) -> LResult<T>,
    ) -> Result<T> {
        let here = self.here();
        decode_slice(
            self.buf.get(self.start..end).unwrap_or_default(),
            here,
            &mut self.ctx,
            f,
        )
    }

    /// Decodes the row at the cursor straight from the buffer into `row` and returns its
    /// length in bytes: no pass to find the row's end first. The text is checked to be UTF-8
    /// over a window somewhat larger than the row before; a row that the window or the
    /// buffered input cuts off fails near the cut, and is read again with more.
    fn decode_row_here(&mut self, row: &mut Vec<Value>) -> Result<usize> {
        loop {
            let avail = self.end - self.start;
            let data = self.buf.get(self.start..self.end).unwrap_or_default();
            let whole = self.row_window >= avail;
            let mut cut = if whole { avail } else { self.row_window };
            // A window ends on a character boundary: at most three bytes back in UTF-8 (more
            // continuation bytes than that are not UTF-8, which the decoding reports).
            for _ in 0..3 {
                if whole || cut == 0 || data.get(cut).is_none_or(|&b| b & 0xc0 != 0x80) {
                    break;
                }
                cut -= 1;
            }
            let slice = data.get(..cut).unwrap_or_default();
            // Nothing more can come: an error now is the row's.
            let last = whole && self.eof;
            reset_row(row, self.names.len());
            let (names, index) = (&self.names, &self.index);
            let res = match std::str::from_utf8(slice) {
                Ok(text) => {
                    let mut r = Reader::new(text, &mut self.ctx);
                    r.cells(names, index, row).map(|()| r.lx.at())
                }
                // Not UTF-8 somewhere: strings are checked one by one, so the error (if the
                // bad byte is in this row) says where.
                Err(_) => {
                    let mut r = Reader::from_bytes(slice, &mut self.ctx);
                    r.cells(names, index, row).map(|()| r.lx.at())
                }
            };
            match res {
                Ok(used) => {
                    self.row_window = used.saturating_mul(2).clamp(MIN_ROW_WINDOW, INITIAL_BUF);
                    return Ok(used);
                }
                Err(e) if !last && e.at.saturating_add(CUT_SLACK) >= slice.len() => {
                    if whole {
                        self.fill_more()?;
                    }
                    self.row_window = self.row_window.saturating_mul(2);
                }
                Err(e) => return Err(slice_error(slice, self.here(), &e)),
            }
        }
    }

    /// A row held in memory (it came before `cols`).
    fn early_row(&mut self, v: Value, row: &mut Vec<Value>) -> Result<()> {
        reset_row(row, self.names.len());
        let Value::Dict(d) = v else {
            return Err(Error::Json("each grid row must be an object".into()));
        };
        for (k, v) in d {
            match self.index.get(&*k).and_then(|&i| row.get_mut(i)) {
                Some(slot) => *slot = v,
                None => return Err(Error::Json(no_column(&k))),
            }
        }
        Ok(())
    }

    /// Skips whitespace; the next byte, or `None` at the end of the input.
    fn peek(&mut self) -> Result<Option<u8>> {
        loop {
            let data = self.buf.get(self.start..self.end).unwrap_or_default();
            match data.iter().position(|&b| !is_ws(b)) {
                Some(n) => {
                    self.consume(n);
                    return Ok(self.buf.get(self.start).copied());
                }
                None => {
                    let n = data.len();
                    self.consume(n);
                    if self.eof || !self.fill()? {
                        return Ok(None);
                    }
                }
            }
        }
    }

    /// The end (an index into the buffer) of the value at the cursor, reading more as needed.
    fn value(&mut self) -> Result<usize> {
        loop {
            let data = self.buf.get(..self.end).unwrap_or_default();
            if let Extent::Done(e) = extent(data, self.start) {
                return Ok(e);
            }
            if self.eof || !self.fill_more()? {
                // Cut off by the end of the input: the reader says what is missing, and where.
                // (A scalar may end there; what follows it is then found missing.)
                let end = self.end;
                self.decode(end, |r| r.value().map(drop))?;
                return Ok(end);
            }
        }
    }

    /// Makes sure at least `n` bytes are buffered from the cursor, if the input has them.
    fn fill_to(&mut self, n: usize) -> Result<()> {
        while self.end - self.start < n && !self.eof && self.fill()? {}
        Ok(())
    }

    /// Reads at least as many bytes as are buffered (or 4 KiB) more, so that a value scanned
    /// again from its start after each refill costs time linear in its size; false at the end
    /// of the input.
    fn fill_more(&mut self) -> Result<bool> {
        let want = (self.end - self.start).max(4096);
        let mut got = 0;
        while got < want {
            let before = self.end - self.start;
            if !self.fill()? {
                return Ok(got > 0);
            }
            got += self.end - self.start - before;
        }
        Ok(true)
    }

    /// Reads more of the source into the buffer; false at its end.
    fn fill(&mut self) -> Result<bool> {
        if self.start > 0 {
            // What is dropped is counted into the origin, once per refill.
            self.origin = self.here();
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.buf.len() {
            let max = self.opts.max_value_bytes;
            if self.buf.len() > max {
                return Err(Error::LimitExceeded(format!(
                    "a value of the grid object at {} is larger than {max} bytes",
                    self.origin
                )));
            }
            let len = self.buf.len().saturating_mul(2).min(max.saturating_add(1));
            self.buf.resize(len, 0);
        }
        loop {
            let Some(space) = self.buf.get_mut(self.end..) else {
                return Ok(false);
            };
            match self.src.read(space) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(false);
                }
                Ok(n) => {
                    self.end += n;
                    return Ok(true);
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Error::Json(format!("read failed: {e}"))),
            }
        }
    }

    /// Marks the next `n` buffered bytes as read.
    fn consume(&mut self, n: usize) {
        self.start = (self.start + n).min(self.end);
    }

    fn error_here(&self, message: &str) -> Error {
        let found = match self.buf.get(self.start) {
            Some(b) if b.is_ascii_graphic() => format!(" but found '{}'", char::from(*b)),
            Some(b) => format!(" but found byte 0x{b:02x}"),
            None => String::new(),
        };
        Error::parse(self.here(), format!("{message}{found}"))
    }

    fn eof_error(&self, what: &str) -> Error {
        Error::parse(
            self.here(),
            format!("expected {what} but found end of input"),
        )
    }
}

/// Makes `row` `n` nulls, dropping only the cells that are not null (most of a sparse row's
/// are, and a drop call per cell cost more than the rest of a row's reading).
fn reset_row(row: &mut Vec<Value>, n: usize) {
    if row.len() == n {
        for cell in row.iter_mut() {
            if !matches!(cell, Value::Null) {
                *cell = Value::Null;
            }
        }
    } else {
        row.clear();
        row.resize_with(n, || Value::Null);
    }
}

/// The rows of a `rows` member decoded whole.
fn rows_list(v: Value, at: Position) -> Result<Vec<Value>> {
    match v {
        Value::Null => Ok(Vec::new()),
        Value::List(l) => Ok(l),
        _ => Err(Error::parse(at, "grid 'rows' must be an array")),
    }
}

/// A positionless error of the member at `at`, given that position.
fn at_pos(e: Error, at: Position) -> Error {
    match e {
        Error::Parse(_) => e,
        other => {
            let text = other.to_string();
            let text = text.strip_prefix("invalid JSON: ").unwrap_or(&text);
            Error::parse(at, text)
        }
    }
}

/// The error message for a row tag that has no column.
pub(super) fn no_column(name: &str) -> String {
    format!("row tag {name:?} has no column (a streamed grid needs every tag in 'cols')")
}

/// Decodes one buffered value with `f` (its decoded strings checked to be UTF-8), checking
/// that nothing but whitespace follows, and places the errors at their position in the whole input.
fn decode_slice<T>(
    slice: &[u8],
    base: Position,
    ctx: &mut Ctx,
    f: impl for<'a, 'c> FnOnce(&mut Reader<'a, 'c>) -> LResult<T>,
) -> Result<T> {
    let mut r = Reader::from_bytes(slice, ctx);
    f(&mut r)
        .and_then(|v| r.lx.end().map(|()| v))
        .map_err(|e| slice_error(slice, base, &e))
}

/// A lexer error in `slice` (which starts at `base`) placed in the whole input.
fn slice_error(slice: &[u8], base: Position, e: &Fail) -> Error {
    let mut m = e.msg.as_str();
    while let Some(rest) = m.strip_prefix("invalid JSON: ") {
        m = rest;
    }
    Error::parse(Lexer::position(slice, e.at, base), m)
}
