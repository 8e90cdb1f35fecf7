//! The Zinc parser: nested values and grids on top of `haystack-core`'s scalar [`Scanner`].

use std::collections::HashSet;
use std::sync::Arc;

use haystack_core::zinc::{Interner, Scanner};
use haystack_core::{Col, Dict, Grid, Position, RowCells, Value};

use crate::{Error, Limits, Result};

/// Where a row's cells go as they are read: a grid's row (which knows the row above it) or a
/// plain vector (the streaming reader's row).
pub(crate) trait CellOut {
    /// The non-null cell of column `col` in the row above, when known.
    fn above(&self, col: usize) -> Option<&Value>;
    /// Appends the next cell.
    fn push(&mut self, v: Value);
    /// Appends `n` null cells (empty ones: nothing to build where nulls are not stored).
    fn skip(&mut self, n: usize);
}

impl CellOut for Vec<Value> {
    fn above(&self, _col: usize) -> Option<&Value> {
        None
    }

    fn push(&mut self, v: Value) {
        Vec::push(self, v);
    }

    fn skip(&mut self, n: usize) {
        self.extend(std::iter::repeat_n(Value::Null, n));
    }
}

impl CellOut for RowCells<'_> {
    #[inline]
    fn above(&self, col: usize) -> Option<&Value> {
        RowCells::above(self, col)
    }

    #[inline(always)]
    fn push(&mut self, v: Value) {
        RowCells::push(self, v);
    }

    #[inline(always)]
    fn skip(&mut self, n: usize) {
        RowCells::skip(self, n);
    }
}

/// A Zinc parser over one text: values, nested collections, grid headers and rows.
pub(crate) struct Parser<'a, 'l> {
    pub(crate) s: Scanner<'a>,
    limits: &'l Limits,
    depth: usize,
    /// Byte ranges of the cells of the last row read, for [`Parser::same_as_above`]; a range
    /// that starts before `above_from` is older (the cell was empty in the last row).
    spans: Vec<(usize, usize)>,
    /// Where the last row read starts.
    above_from: usize,
}

impl<'a, 'l> Parser<'a, 'l> {
    pub(crate) fn new(src: &'a str, limits: &'l Limits) -> Self {
        let src = src.strip_prefix('\u{feff}').unwrap_or(src);
        Parser::with_scanner(Scanner::new(src), limits)
    }

    pub(crate) fn with_base(
        src: &'a str,
        base: Position,
        interner: Interner,
        limits: &'l Limits,
    ) -> Self {
        Parser::with_scanner(Scanner::with_base(src, base, interner), limits)
    }

    fn with_scanner(s: Scanner<'a>, limits: &'l Limits) -> Self {
        Parser {
            s,
            limits,
            depth: 0,
            spans: Vec::new(),
            above_from: 0,
        }
    }

    pub(crate) fn into_interner(self) -> Interner {
        self.s.into_interner()
    }

    fn limit(&self, message: String) -> Error {
        Error::LimitExceeded {
            position: self.s.position(),
            message,
        }
    }

    fn enter(&mut self) -> Result<()> {
        if self.depth >= self.limits.max_depth {
            return Err(self.limit(format!("nesting deeper than {}", self.limits.max_depth)));
        }
        self.depth += 1;
        Ok(())
    }

    fn expected(&self, what: &str) -> Error {
        self.s.expected(what).into()
    }

    /// Reads any value: a scalar, `[list]`, `{dict}` or `<<grid>>`.
    pub(crate) fn read_val(&mut self) -> Result<Value> {
        match self.s.peek() {
            Some(b'[') => self.read_list(),
            Some(b'{') => self.read_dict().map(Value::Dict),
            Some(b'<') if self.s.peek_at(1) == Some(b'<') => self.read_nested_grid(),
            _ => Ok(self.s.read_scalar()?),
        }
    }

    fn read_list(&mut self) -> Result<Value> {
        self.enter()?;
        self.s.bump();
        let mut items = Vec::new();
        loop {
            self.s.skip_whitespace();
            if self.s.eat(b']') {
                break;
            }
            items.push(self.read_val()?);
            self.s.skip_whitespace();
            if !self.s.eat(b',') && self.s.peek() != Some(b']') {
                return Err(self.expected("',' or ']'"));
            }
        }
        self.depth -= 1;
        Ok(Value::List(items))
    }

    fn read_name(&mut self) -> Result<Arc<str>> {
        let name = self.s.read_id()?;
        Ok(self.s.interner().intern(name))
    }

    fn read_dict(&mut self) -> Result<Dict> {
        self.enter()?;
        self.s.bump();
        let mut dict = Dict::new();
        loop {
            self.s.skip_whitespace();
            if self.s.eat(b'}') {
                break;
            }
            if !matches!(self.s.peek(), Some(b'a'..=b'z')) {
                return Err(self.expected("tag name or '}'"));
            }
            let name = self.read_name()?;
            let after_name = self.s.pos();
            self.s.skip_spaces();
            let value = if self.s.eat(b':') {
                self.s.skip_spaces();
                self.read_val()?
            } else {
                self.s.set_pos(after_name);
                Value::Marker
            };
            dict.insert_valid(name, value);
            let before = self.s.pos();
            self.s.skip_whitespace();
            if !self.s.eat(b',') && self.s.peek() != Some(b'}') && self.s.pos() == before {
                return Err(self.expected("',' or '}'"));
            }
        }
        self.depth -= 1;
        Ok(dict)
    }

    fn read_nested_grid(&mut self) -> Result<Value> {
        self.enter()?;
        self.s.set_pos(self.s.pos() + 2);
        self.s.skip_whitespace();
        // The nested grid has its own cells; keep the enclosing row's spans.
        let outer = (std::mem::take(&mut self.spans), self.above_from);
        let grid = self.read_grid_body(true);
        (self.spans, self.above_from) = outer;
        let grid = grid?;
        self.s.skip_whitespace();
        if !self.s.eat_str(">>") {
            return Err(self.expected("'>>'"));
        }
        self.depth -= 1;
        Ok(Value::Grid(Box::new(grid)))
    }

    /// Reads space-separated `name` / `name:val` tags (grid and column meta) into `dict`.
    fn read_meta_tags(&mut self, dict: &mut Dict) -> Result<()> {
        loop {
            let before = self.s.pos();
            self.s.skip_spaces();
            if !matches!(self.s.peek(), Some(b'a'..=b'z')) {
                return Ok(());
            }
            if self.s.pos() == before {
                return Err(self.expected("' '"));
            }
            let name = self.read_name()?;
            let value = if self.s.eat(b':') {
                self.s.skip_spaces();
                self.read_val()?
            } else {
                Value::Marker
            };
            dict.insert_valid(name, value);
        }
    }

    /// Consumes the end of a line: a newline, or the end of input, or (in a nested grid) a
    /// following `>>`.
    fn end_line(&mut self, nested: bool) -> Result<()> {
        if self.s.eat_newline() {
            return Ok(());
        }
        self.s.skip_spaces();
        if self.s.is_eof() || (nested && self.s.starts_with(">>")) {
            return Ok(());
        }
        Err(self.expected("newline"))
    }

    /// Where the cell at `start` ends if its text repeats the text of column `i` of the
    /// previous row and ends where that cell ended (at a comma, newline or the end of input).
    fn same_as_above(&self, i: usize, start: usize) -> Option<usize> {
        let (a, b) = *self.spans.get(i)?;
        if a < self.above_from {
            return None;
        }
        let bytes = self.s.bytes();
        let prev = bytes.get(a..b).filter(|p| !p.is_empty())?;
        let end = start + prev.len();
        let here = bytes.get(start..end)?;
        if here != prev || !matches!(bytes.get(end), None | Some(b',' | b'\n' | b'\r')) {
            return None;
        }
        Some(end)
    }

    /// Reads the grid meta line and the column line.
    pub(crate) fn read_grid_header(&mut self, nested: bool) -> Result<(Dict, Vec<Col>)> {
        let meta = self.read_meta_line(nested)?;
        let cols = self.read_cols_line(nested)?;
        Ok((meta, cols))
    }

    /// Reads the grid meta line: `ver:"3.0"` and meta tags, and the end of the line.
    pub(crate) fn read_meta_line(&mut self, nested: bool) -> Result<Dict> {
        // Spaces before `ver:` are skipped, by the whole-document and the streaming reader alike.
        self.s.skip_spaces();
        if !self.s.eat_str("ver:") {
            return Err(self.expected("'ver:'"));
        }
        self.s.skip_spaces();
        let ver_at = self.s.pos();
        let ver = self.s.read_str_literal()?;
        if ver != "3.0" && ver != "2.0" {
            return Err(self
                .s
                .error_at(ver_at, format!("unsupported Zinc version {ver:?}"))
                .into());
        }
        let mut meta = Dict::new();
        self.read_meta_tags(&mut meta)?;
        // `ver` is syntax, not data: a second one would be a meta tag the writer never writes.
        if meta.contains_key("ver") {
            return Err(self
                .s
                .error_at(ver_at, "grid meta gives 'ver' twice")
                .into());
        }
        self.end_line(nested)?;
        Ok(meta)
    }

    /// Reads the column line: `name meta, name meta, ...` and the end of the line.
    pub(crate) fn read_cols_line(&mut self, nested: bool) -> Result<Vec<Col>> {
        let mut cols: Vec<Col> = Vec::new();
        let mut seen: HashSet<Arc<str>> = HashSet::new();
        loop {
            self.s.skip_spaces();
            if cols.len() >= self.limits.max_columns {
                return Err(self.limit(format!("more than {} columns", self.limits.max_columns)));
            }
            let at = self.s.pos();
            let name = self.read_name()?;
            let mut col_meta = Dict::new();
            self.read_meta_tags(&mut col_meta)?;
            if !seen.insert(name.clone()) {
                return Err(self
                    .s
                    .error_at(at, format!("duplicate column '{name}'"))
                    .into());
            }
            cols.push(Col::with_meta(name, col_meta)?);
            self.s.skip_spaces();
            if !self.s.eat(b',') {
                break;
            }
        }
        self.end_line(nested)?;
        Ok(cols)
    }

    /// Whether the grid ends here, at the start of a line: end of input, a blank line, or
    /// (nested) `>>`.
    fn at_grid_end(&mut self, nested: bool) -> bool {
        let save = self.s.pos();
        self.s.skip_spaces();
        let end = match self.s.peek() {
            None | Some(b'\n' | b'\r') => true,
            Some(b'>') => nested && self.s.peek_at(1) == Some(b'>'),
            _ => false,
        };
        self.s.set_pos(save);
        end
    }

    /// Reads one row of `ncols` cells into `out`, and the end of its line.
    pub(crate) fn read_row(
        &mut self,
        ncols: usize,
        out: &mut impl CellOut,
        nested: bool,
    ) -> Result<()> {
        // A cell written exactly as the one above it (when `out` knows the row above) is
        // cloned instead of parsed.
        // Nested grids leave the spans alone: they belong to the top-level grid's rows.
        if !nested && self.spans.len() != ncols {
            self.spans.clear();
            self.spans.resize(ncols, (0, 0));
        }
        let bytes = self.s.bytes();
        let row_start = self.s.pos();
        let mut i = 0;
        while i < ncols {
            let here = self.s.pos();
            // The common sparse case first: empty cells, each right before its comma (their
            // spans are left alone: older than `above_from`, they match nothing).
            if i + 1 < ncols && bytes.get(here) == Some(&b',') {
                let k = comma_run(bytes, here, ncols - 1 - i);
                out.skip(k);
                self.s.set_pos(here + k);
                i += k;
                continue;
            }
            self.s.skip_spaces();
            let start = self.s.pos();
            let empty = match self.s.peek() {
                Some(b',' | b'\n' | b'\r') | None => true,
                Some(b'>') => self.s.peek_at(1) == Some(b'>'),
                _ => false,
            };
            if empty {
                out.skip(1);
            } else if bytes.get(start) == Some(&b'M')
                && matches!(bytes.get(start + 1), None | Some(b',' | b'\n' | b'\r'))
            {
                // A marker: cheaper to make than to compare with the cell above.
                self.s.set_pos(start + 1);
                out.push(Value::Marker);
            } else {
                let copied = if nested {
                    None
                } else {
                    self.same_as_above(i, start).and_then(|end| {
                        let v = out.above(i)?.clone();
                        Some((end, v))
                    })
                };
                let cell = match copied {
                    Some((end, v)) => {
                        self.s.set_pos(end);
                        v
                    }
                    // Scalars straight from the scanner; collections through `read_val`.
                    None => match bytes.get(start) {
                        Some(b'[' | b'{' | b'<') => self.read_val()?,
                        _ => self.s.read_scalar()?,
                    },
                };
                out.push(cell);
            }
            if !nested && let Some(span) = self.spans.get_mut(i) {
                *span = (start, self.s.pos());
            }
            self.s.skip_spaces();
            if i + 1 < ncols && !self.s.eat(b',') {
                return Err(match self.s.peek() {
                    None | Some(b'\n' | b'\r') => self.s.error(format!(
                        "row has {} cell{} but the grid has {ncols} columns",
                        i + 1,
                        if i == 0 { "" } else { "s" }
                    )),
                    _ => self.s.expected("','"),
                }
                .into());
            }
            i += 1;
        }
        if self.s.peek() == Some(b',') {
            return Err(self
                .s
                .error(format!(
                    "row has more cells than the grid's {ncols} columns"
                ))
                .into());
        }
        self.end_line(nested)?;
        if !nested {
            self.above_from = row_start;
        }
        Ok(())
    }

    /// Reads a grid: header then rows up to the end of input, a blank line or (nested) `>>`.
    pub(crate) fn read_grid_body(&mut self, nested: bool) -> Result<Grid> {
        let (meta, cols) = self.read_grid_header(nested)?;
        let ncols = cols.len();
        let mut grid = Grid::with_cols(meta, cols)?;
        if !nested {
            self.spans.clear();
        }
        let body = self.s.pos();
        // A top-level grid is sized once its first rows are read (below); nested grids grow.
        let mut sized = nested || ncols == 0;
        while !self.at_grid_end(nested) {
            if grid.len() >= self.limits.max_rows {
                return Err(self.limit(format!("more than {} rows", self.limits.max_rows)));
            }
            grid.push_row_with(|cells| self.read_row(ncols, cells, nested))?;
            if !sized && grid.len() == SAMPLE_ROWS {
                sized = true;
                self.reserve_like_sample(&mut grid, body);
            }
        }
        Ok(unwrap_empty(grid))
    }
}

/// How many commas follow each other from byte `at` of `bytes`, at most `max` (8 at a time).
#[inline]
fn comma_run(bytes: &[u8], at: usize, max: usize) -> usize {
    const COMMAS: u64 = u64::from_le_bytes([b','; 8]);
    let mut k = 0;
    while k + 8 <= max {
        let Some(Ok(w)) = bytes.get(at + k..at + k + 8).map(<[u8; 8]>::try_from) else {
            break;
        };
        let other = u64::from_le_bytes(w) ^ COMMAS;
        if other != 0 {
            return k + (other.trailing_zeros() / 8) as usize;
        }
        k += 8;
    }
    while k < max && bytes.get(at + k) == Some(&b',') {
        k += 1;
    }
    k
}

/// How many rows of a grid are read before its rows and tags are reserved for the rest of the
/// input at their density.
const SAMPLE_ROWS: usize = 16;

impl Parser<'_, '_> {
    /// Reserves rows and tags in `grid` for the rest of the input, at the density of the rows
    /// read since byte `body` (an eighth more); never more than the rest of the input can hold
    /// (a row takes a byte per column, a tag two bytes), so the input bounds the allocation.
    fn reserve_like_sample(&self, grid: &mut Grid, body: usize) {
        let used = self.s.pos().saturating_sub(body);
        let rest = self.s.bytes().len().saturating_sub(self.s.pos());
        if used == 0 {
            return;
        }
        let scale = |n: usize| {
            let n = n as u128 * rest as u128 / used as u128;
            usize::try_from(n + n / 8).unwrap_or(usize::MAX)
        };
        let ncols = grid.cols().len().max(1);
        grid.reserve_rows(scale(grid.len()).min(rest / ncols + 1));
        grid.reserve_tags(scale(grid.tag_count()).min(rest / 2 + 1));
    }
}

/// A grid whose only column is `empty` (without meta) and which has no rows is the empty grid
/// (no columns), as written for grids without columns.
pub(crate) fn unwrap_empty(grid: Grid) -> Grid {
    match grid.cols() {
        [c] if grid.is_empty() && c.name() == "empty" && c.meta().is_empty() => {
            let mut g = Grid::new();
            *g.meta_mut() = grid.meta().clone();
            g
        }
        _ => grid,
    }
}

/// Reads a whole Zinc grid document.
pub(crate) fn read_grid(src: &str, limits: &Limits) -> Result<Grid> {
    let mut p = Parser::new(src, limits);
    p.s.skip_whitespace();
    let grid = p.read_grid_body(false)?;
    p.s.skip_whitespace();
    if !p.s.is_eof() {
        return Err(p.expected("end of input"));
    }
    Ok(grid)
}

/// Reads one whole Zinc value: a scalar, list, dict, or a grid (`<<..>>` or a bare document
/// starting with `ver:`).
pub(crate) fn read_value(src: &str, limits: &Limits) -> Result<Value> {
    let trimmed = src.trim_start_matches(['\u{feff}', ' ', '\t', '\r', '\n']);
    if trimmed.starts_with("ver:") {
        return read_grid(src, limits).map(|g| Value::Grid(Box::new(g)));
    }
    let mut p = Parser::new(src, limits);
    p.s.skip_whitespace();
    let v = p.read_val()?;
    p.s.skip_whitespace();
    if !p.s.is_eof() {
        return Err(p.expected("end of input"));
    }
    Ok(v)
}
