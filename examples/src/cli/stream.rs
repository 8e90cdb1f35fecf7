//! Grids pushed row by row from an input to a [`RowSink`]: Zinc through
//! `haystack_zinc::GridReader`, Hayson grids through `haystack_core::json::GridReader` (the
//! library's one streaming JSON grid reader), anything else read whole first.
//!
//! Memory for Zinc input is bounded by the longest row; for a Hayson grid object whose
//! `_kind` comes first (leniently: whose first key is `meta`, `cols` or `rows`) and whose `meta`
//! and `cols` come before its `rows`, by the largest row (rows that come before `cols` are held
//! until the columns are known).

use std::cell::RefCell;
use std::io::{BufReader, Read};
use std::rc::Rc;

use haystack_core::{Col, Dict, Row, Value, json};

use super::{CliError, Input};
use crate::haystack::formats::{Format, FormatError};

/// Where the rows of a grid go: the header first, then each row (one cell per column).
pub(crate) trait RowSink {
    /// The grid meta and columns, before any row.
    fn header(&mut self, meta: &Dict, cols: &[Col]) -> Result<(), CliError>;
    /// One row.
    fn row(&mut self, cells: &[Value]) -> Result<(), CliError>;
    /// One row as a view of its tags; by default as [`RowSink::row`] with its cells. Sinks
    /// that can use the tags alone override it (most rows of a wide grid are mostly null).
    fn grid_row(&mut self, row: Row<'_>) -> Result<(), CliError> {
        self.row(&row.to_cells())
    }
}

/// Reads `reader` (in `format`) and pushes its grid into `sink`. Returns the number of rows.
/// `lenient` also reads the draft Hayson that shaystack writes (see
/// [`json::ReadOptions::lenient`]).
pub(crate) fn pump(
    input: &Input,
    format: Format,
    reader: Box<dyn Read>,
    lenient: bool,
    sink: &mut dyn RowSink,
) -> Result<usize, CliError> {
    match format {
        Format::Zinc => pump_zinc(input, reader, sink),
        Format::Json => {
            // Small: the grid reader reads in large blocks of its own.
            let mut reader = BufReader::with_capacity(4096, reader);
            if starts_as_grid(&mut reader, lenient).map_err(|e| input.read_error(e))? {
                pump_json(input, reader, lenient, sink)
            } else {
                pump_whole(input, format, Box::new(reader), lenient, sink)
            }
        }
        _ => pump_whole(input, format, reader, lenient, sink),
    }
}

fn pump_zinc(
    input: &Input,
    reader: Box<dyn Read>,
    sink: &mut dyn RowSink,
) -> Result<usize, CliError> {
    let name = input.name();
    let mut rd =
        haystack_zinc::GridReader::new(reader).map_err(|e| CliError::from_zinc(&name, e))?;
    sink.header(rd.meta(), rd.cols())?;
    while let Some(row) = rd.next_row().map_err(|e| CliError::from_zinc(&name, e))? {
        sink.grid_row(row)?;
    }
    Ok(rd.rows_read())
}

fn pump_whole(
    input: &Input,
    format: Format,
    reader: Box<dyn Read>,
    lenient: bool,
    sink: &mut dyn RowSink,
) -> Result<usize, CliError> {
    let grid = input.read_grid(format, reader, lenient)?;
    sink.header(grid.meta(), grid.cols())?;
    for r in grid.rows() {
        sink.grid_row(r)?;
    }
    Ok(grid.len())
}

/// Whether the buffered JSON is a grid object that can stream: it starts with
/// `{"_kind":"grid"` (whitespace allowed), or, leniently, with `{"meta"`, `{"cols"` or `{"rows"`
/// (shaystack's grids have no `_kind`) or `{"_kind":"Grid"`.
fn starts_as_grid<R: Read>(reader: &mut BufReader<R>, lenient: bool) -> std::io::Result<bool> {
    use std::io::BufRead;
    let head = reader.fill_buf()?;
    let head = head.strip_prefix("\u{feff}".as_bytes()).unwrap_or(head);
    let compact: Vec<u8> = head
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .take(20)
        .collect();
    if compact.starts_with(br#"{"_kind":"grid""#) {
        return Ok(true);
    }
    Ok(lenient
        && [
            &br#"{"meta":"#[..],
            br#"{"cols":"#,
            br#"{"rows":"#,
            br#"{"_kind":"Grid""#,
        ]
        .iter()
        .any(|p| compact.starts_with(p)))
}

/// A reader that keeps its I/O error, so that a read failure is reported as one and not as a
/// parse error.
struct Tap<R> {
    inner: R,
    err: Rc<RefCell<Option<std::io::Error>>>,
}

impl<R: Read> Read for Tap<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.inner.read(buf).inspect_err(|e| {
            *self.err.borrow_mut() = Some(std::io::Error::new(e.kind(), e.to_string()));
        })
    }
}

/// Streams a Hayson grid through the library's [`json::GridReader`].
fn pump_json<R: Read>(
    input: &Input,
    reader: R,
    lenient: bool,
    sink: &mut dyn RowSink,
) -> Result<usize, CliError> {
    let err = Rc::new(RefCell::new(None));
    let tap = Tap {
        inner: reader,
        err: err.clone(),
    };
    let opts = json::ReadOptions {
        lenient,
        ..Default::default()
    };
    let fail = |e: haystack_core::Error| match (err.borrow_mut().take(), e) {
        (Some(io), _) => input.read_error(io),
        (None, haystack_core::Error::Parse(p)) => CliError::Parse {
            name: input.name(),
            position: Some((p.position.line, p.position.column)),
            message: format!("invalid JSON: {}", p.message),
        },
        (None, e) => CliError::parse(&input.name(), FormatError::Core(e)),
    };
    let mut rd = json::GridReader::with_options(tap, opts).map_err(fail)?;
    sink.header(rd.meta(), rd.cols())?;
    let mut row = Vec::with_capacity(rd.cols().len());
    while rd.read_row(&mut row).map_err(fail)? {
        sink.row(&row)?;
    }
    Ok(rd.rows_read())
}
