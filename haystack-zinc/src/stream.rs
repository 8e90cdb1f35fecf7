//! [`GridReader`]: a Zinc grid read row by row from any `io::Read`, in constant memory.

use std::io::Read;

use haystack_core::zinc::Interner;
use haystack_core::{Col, Dict, Grid, Position, Row, Value};

use crate::read::{Parser, unwrap_empty};
use crate::{Error, Limits, Result, utf8};

/// The buffer's first size: a short document (a request grid) costs no more.
const FIRST_BUF: usize = 4 * 1024;
/// The size the buffer grows to while reads fill it, for long documents: fewer, larger reads.
const STEADY_BUF: usize = 256 * 1024;

/// Reads a Zinc grid from an `io::Read`: the meta and columns first, then one row at a time.
/// Memory stays bounded by the longest line (see [`Limits::max_line_bytes`]), whatever the
/// number of rows.
///
/// ```
/// use haystack_core::Value;
/// let zinc = "ver:\"3.0\"\nid,val\n\"a\",1\n\"b\",2\n";
/// let mut reader = haystack_zinc::GridReader::new(zinc.as_bytes()).unwrap();
/// assert_eq!(reader.cols()[1].name(), "val");
/// let mut row = Vec::new();
/// let mut sum = 0.0;
/// while reader.read_row(&mut row).unwrap() {
///     sum += row[1].as_number().unwrap().value();
/// }
/// assert_eq!(sum, 3.0);
/// ```
#[derive(Debug)]
pub struct GridReader<R> {
    src: R,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    eof: bool,
    /// Whether the last read filled all the room it was given (the source has more at hand).
    filled: bool,
    scan: ScanState,
    base: Position,
    interner: Option<Interner>,
    limits: Limits,
    meta: Dict,
    cols: Vec<Col>,
    /// The row [`GridReader::next_row`] returns: a grid of the columns holding only it.
    row: Option<Grid>,
    done: bool,
    rows: usize,
}

/// Where the search for the end of the current line is, so that it resumes after a refill.
#[derive(Debug, Default, Clone, Copy)]
struct ScanState {
    pos: usize,
    quote: u8,
    escape: bool,
    depth: u32,
}

impl<R: Read> GridReader<R> {
    /// Reads the grid meta and columns from `src`, with the default [`Limits`].
    pub fn new(src: R) -> Result<Self> {
        GridReader::with_limits(src, Limits::default())
    }

    /// Reads the grid meta and columns from `src`.
    pub fn with_limits(src: R, limits: Limits) -> Result<Self> {
        let mut r = GridReader {
            src,
            buf: vec![
                0;
                FIRST_BUF
                    .min(limits.max_line_bytes.saturating_add(1))
                    .max(16)
            ],
            start: 0,
            end: 0,
            eof: false,
            filled: false,
            scan: ScanState::default(),
            base: Position {
                line: 1,
                column: 1,
                offset: 0,
            },
            interner: Some(Interner::new()),
            limits,
            meta: Dict::new(),
            cols: Vec::new(),
            row: None,
            done: false,
            rows: 0,
        };
        r.read_header()?;
        Ok(r)
    }

    /// The grid meta.
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

    fn read_header(&mut self) -> Result<()> {
        // Skip a byte order mark and blank lines before the meta line.
        let meta = loop {
            let Some((s, e)) = self.next_line()? else {
                return Err(Error::parse(
                    self.base,
                    "expected 'ver:' but found end of input",
                ));
            };
            let mut line = self.buf.get(s..e).unwrap_or_default();
            let mut base = self.base;
            if self.base.offset == 0 && line.starts_with("\u{feff}".as_bytes()) {
                line = line.get(3..).unwrap_or_default();
                base.offset += 3;
            }
            if line
                .iter()
                .all(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
            {
                self.consume(e);
                continue;
            }
            let text = utf8_at(line, base)?;
            let limits = self.limits.clone();
            let mut p = Parser::with_base(
                text,
                base,
                self.interner.take().unwrap_or_default(),
                &limits,
            );
            let meta = p.read_meta_line(false);
            let err = (meta.is_ok() && !p.s.is_eof()).then(|| p.s.expected("newline"));
            self.interner = Some(p.into_interner());
            if let Some(e) = err {
                return Err(e.into());
            }
            self.consume(e);
            break meta?;
        };
        let Some((s, e)) = self.next_line()? else {
            return Err(Error::parse(
                self.base,
                "expected tag name but found end of input",
            ));
        };
        let text = utf8_at(self.buf.get(s..e).unwrap_or_default(), self.base)?;
        let limits = self.limits.clone();
        let mut p = Parser::with_base(
            text,
            self.base,
            self.interner.take().unwrap_or_default(),
            &limits,
        );
        let cols = p.read_cols_line(false);
        let err = (cols.is_ok() && !p.s.is_eof()).then(|| p.s.expected("newline"));
        self.interner = Some(p.into_interner());
        if let Some(e) = err {
            return Err(e.into());
        }
        let cols = cols?;
        self.consume(e);
        self.meta = meta;
        self.cols = cols;
        Ok(())
    }

    /// Reads the next row into `row` (cleared first, one cell per column). Returns false at the
    /// end of the grid.
    pub fn read_row(&mut self, row: &mut Vec<Value>) -> Result<bool> {
        self.read_with(|p, ncols| {
            row.clear();
            p.read_row(ncols, row, false)
        })
    }

    /// Reads the next row and returns a view of its tags (only the non-null cells are built
    /// and stored, which is what makes this the fast way through a sparse grid), or `None` at
    /// the end of the grid.
    ///
    /// ```
    /// let zinc = "ver:\"3.0\"\nid,a,b,c\n\"x\",,,1\n\"y\",2,,\n";
    /// let mut reader = haystack_zinc::GridReader::new(zinc.as_bytes()).unwrap();
    /// let mut tags = 0;
    /// while let Some(row) = reader.next_row().unwrap() {
    ///     tags += row.len();
    ///     assert!(row.get("b").is_none());
    /// }
    /// assert_eq!(tags, 4);
    /// ```
    pub fn next_row(&mut self) -> Result<Option<Row<'_>>> {
        let mut grid = match self.row.take() {
            Some(g) => g,
            None => Grid::with_cols(Dict::new(), self.cols.clone())?,
        };
        grid.clear_rows();
        let more =
            self.read_with(|p, ncols| grid.push_row_with(|cells| p.read_row(ncols, cells, false)));
        let grid = self.row.insert(grid);
        Ok(if more? { grid.row(0) } else { None })
    }

    /// Reads the next row with `parse` (given a parser over the row's line and the number of
    /// columns); false at the end of the grid. The reader is done after an error.
    fn read_with(
        &mut self,
        parse: impl FnOnce(&mut Parser<'_, '_>, usize) -> Result<()>,
    ) -> Result<bool> {
        if self.done {
            return Ok(false);
        }
        let res = self.read_row_inner(parse);
        if !matches!(res, Ok(true)) {
            self.done = true;
        }
        res
    }

    fn read_row_inner(
        &mut self,
        parse: impl FnOnce(&mut Parser<'_, '_>, usize) -> Result<()>,
    ) -> Result<bool> {
        let Some((s, e)) = self.next_line()? else {
            return Ok(false);
        };
        let line = self.buf.get(s..e).unwrap_or_default();
        if line
            .iter()
            .all(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
        {
            // A blank line ends the grid; only blank lines may follow.
            self.consume(e);
            while let Some((s, e)) = self.next_line()? {
                let line = self.buf.get(s..e).unwrap_or_default();
                if let Some(i) = line
                    .iter()
                    .position(|b| !matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
                {
                    let text = utf8_at(line, self.base)?;
                    let sc =
                        haystack_core::zinc::Scanner::with_base(text, self.base, Interner::new());
                    let mut sc = sc;
                    sc.set_pos(i);
                    return Err(sc.expected("end of input").into());
                }
                self.consume(e);
            }
            return Ok(false);
        }
        let text = utf8_at(line, self.base)?;
        let limits = &self.limits;
        let mut p = Parser::with_base(
            text,
            self.base,
            self.interner.take().unwrap_or_default(),
            limits,
        );
        let res = parse(&mut p, self.cols.len());
        let trailing = (res.is_ok() && !p.s.is_eof()).then(|| p.s.expected("end of line"));
        self.interner = Some(p.into_interner());
        res?;
        if let Some(err) = trailing {
            return Err(err.into());
        }
        self.consume(e);
        self.rows += 1;
        Ok(true)
    }

    /// Reads every remaining row into a grid.
    pub fn into_grid(mut self) -> Result<Grid> {
        let mut grid = Grid::with_cols(
            std::mem::take(&mut self.meta),
            std::mem::take(&mut self.cols),
        )?;
        // Columns were moved into the grid; keep them for the row parser's count.
        self.cols = grid.cols().to_vec();
        // Rows go straight into the grid (nulls never built).
        while self
            .read_with(|p, ncols| grid.push_row_with(|cells| p.read_row(ncols, cells, false)))?
        {
            if grid.len() > self.limits.max_rows {
                return Err(Error::LimitExceeded {
                    position: self.base,
                    message: format!("more than {} rows", self.limits.max_rows),
                });
            }
        }
        Ok(unwrap_empty(grid))
    }

    /// Marks `buf[start..line_end]` (the line and its newline) as consumed.
    fn consume(&mut self, line_end: usize) {
        let stop = line_end.min(self.end);
        let consumed = self.buf.get(self.start..stop).unwrap_or_default();
        let newlines = memchr::memchr_iter(b'\n', consumed).count();
        if newlines > 0 {
            self.base.line += newlines;
            self.base.column = 1;
        } else {
            self.base.column += consumed.len();
        }
        self.base.offset += consumed.len();
        self.start = stop;
        self.scan = ScanState {
            pos: stop,
            ..ScanState::default()
        };
    }

    /// Finds the next logical line (a newline outside strings, URIs and brackets ends it):
    /// returns its byte range in `buf`, with the newline, or `None` at the end of input.
    fn next_line(&mut self) -> Result<Option<(usize, usize)>> {
        loop {
            if let Some(nl) = self.scan_for_newline() {
                return Ok(Some((self.start, nl + 1)));
            }
            if self.eof {
                if self.start >= self.end {
                    return Ok(None);
                }
                return Ok(Some((self.start, self.end)));
            }
            self.fill()?;
        }
    }

    /// Finds the end of the current line: a `\n`, or a `\r` not followed by `\n` (as the
    /// whole-document reader accepts), outside strings and brackets.
    fn scan_for_newline(&mut self) -> Option<usize> {
        let eof = self.eof;
        let buf = self.buf.get(..self.end).unwrap_or_default();
        let mut st = self.scan;
        let mut i = st.pos.max(self.start);
        let found = loop {
            if i >= buf.len() {
                break None;
            }
            if st.quote != 0 {
                if st.escape {
                    st.escape = false;
                    if buf.get(i) != Some(&b'\n') {
                        i += 1;
                        continue;
                    }
                }
                let rest = buf.get(i..).unwrap_or_default();
                match memchr::memchr3(st.quote, b'\\', b'\n', rest) {
                    None => {
                        i = buf.len();
                        continue;
                    }
                    Some(j) => {
                        i += j;
                        match buf.get(i) {
                            Some(b'\\') => st.escape = true,
                            Some(b'\n') => {
                                // Strings cannot span lines: the parser reports it.
                                st.quote = 0;
                                if st.depth == 0 {
                                    break Some(i);
                                }
                            }
                            _ => st.quote = 0,
                        }
                        i += 1;
                        continue;
                    }
                }
            }
            if st.depth == 0 {
                // Outside strings and brackets: jump to the next newline or quote, unless a
                // bracket comes first.
                let rest = buf.get(i..).unwrap_or_default();
                let stop = memchr::memchr3(b'\n', b'"', b'`', rest).unwrap_or(rest.len());
                let seg = rest.get(..stop).unwrap_or_default();
                let bracket = memchr::memchr3(b'[', b'{', b'<', seg).unwrap_or(stop);
                let cr = memchr::memchr(b'\r', seg).unwrap_or(stop);
                i += bracket.min(cr);
                if i >= buf.len() {
                    continue;
                }
            }
            match buf.get(i) {
                Some(&b @ (b'"' | b'`')) => st.quote = b,
                Some(b'[' | b'{' | b'<') => st.depth += 1,
                Some(b']' | b'}' | b'>') => st.depth = st.depth.saturating_sub(1),
                Some(b'\n') if st.depth == 0 => break Some(i),
                Some(b'\r') if st.depth == 0 => match buf.get(i + 1) {
                    // `\r\n`: the `\n` ends the line.
                    Some(b'\n') => {}
                    Some(_) => break Some(i),
                    None if eof => break Some(i),
                    // Whether a `\n` follows is known after the next read.
                    None => break None,
                },
                _ => {}
            }
            i += 1;
        };
        st.pos = i;
        self.scan = st;
        found
    }

    /// Reads more input, compacting and growing the buffer as needed.
    fn fill(&mut self) -> Result<()> {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.scan.pos -= self.start.min(self.scan.pos);
            self.start = 0;
        }
        if self.end >= self.buf.len() {
            if self.end > self.limits.max_line_bytes {
                return Err(Error::LimitExceeded {
                    position: self.base,
                    message: format!("line longer than {} bytes", self.limits.max_line_bytes),
                });
            }
            let new_len = (self.buf.len() * 2)
                .min(self.limits.max_line_bytes.saturating_add(2))
                .max(self.end + 1);
            self.buf.resize(new_len, 0);
        } else if self.filled && self.buf.len() < STEADY_BUF {
            let new_len = (self.buf.len() * 4)
                .min(STEADY_BUF)
                .min(self.limits.max_line_bytes.saturating_add(2))
                .max(self.buf.len());
            self.buf.resize(new_len, 0);
        }
        let dst = self.buf.get_mut(self.end..).unwrap_or_default();
        let room = dst.len();
        let n = loop {
            match self.src.read(dst) {
                Ok(n) => break n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            }
        };
        if n == 0 {
            self.eof = true;
        }
        self.filled = n == room;
        self.end += n;
        Ok(())
    }
}

fn utf8_at(line: &[u8], base: Position) -> Result<&str> {
    utf8(line).map_err(|e| match e {
        Error::Parse(mut p) => {
            p.position = Position {
                line: base.line + p.position.line - 1,
                column: if p.position.line == 1 {
                    base.column + p.position.column - 1
                } else {
                    p.position.column
                },
                offset: base.offset + p.position.offset,
            };
            Error::Parse(p)
        }
        other => other,
    })
}

impl<R: Read> Iterator for GridReader<R> {
    type Item = Result<Vec<Value>>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut row = Vec::with_capacity(self.cols.len());
        match self.read_row(&mut row) {
            Ok(true) => Some(Ok(row)),
            Ok(false) => None,
            Err(e) => Some(Err(e)),
        }
    }
}
