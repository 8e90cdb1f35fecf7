//! Zinc writers: whole grids and values to `String` or `io::Write`, and a streaming
//! [`GridWriter`].

use std::io::Write;

use haystack_core::zinc::{
    write_grid, write_grid_header, write_row, write_sparse_row, write_value,
};
use haystack_core::{Col, Dict, Grid, Row, Value};

use crate::{Error, Result};

/// Bytes buffered by the writers before they write to the underlying stream.
const FLUSH_AT: usize = 64 * 1024;

/// The Zinc 3.0 document of a grid.
pub fn to_string(grid: &Grid) -> String {
    let mut out = String::with_capacity(64 + grid.tag_count() * 8 + grid.len() * grid.cols().len());
    write_grid(&mut out, grid);
    out
}

/// The Zinc form of any value (a grid as a nested `<<..>>` value).
pub fn value_to_string(value: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, value);
    out
}

/// Writes the Zinc 3.0 document of a grid to `w`, in chunks of about 64 KiB.
pub fn to_writer<W: Write>(w: W, grid: &Grid) -> Result<()> {
    let mut gw = GridWriter::new(w, grid.meta(), grid.cols())?;
    for r in grid.rows() {
        gw.write_grid_row(&r)?;
    }
    gw.finish()?;
    Ok(())
}

/// Writes a Zinc grid row by row to an `io::Write`, holding at most about 64 KiB.
///
/// ```
/// use haystack_core::{Col, Dict, Value};
/// let cols = vec![Col::new("id").unwrap(), Col::new("val").unwrap()];
/// let mut w = haystack_zinc::GridWriter::new(Vec::new(), &Dict::new(), &cols).unwrap();
/// w.write_row(&[Value::from("a"), Value::from(1.5)]).unwrap();
/// w.write_row(&[Value::from("b"), Value::Null]).unwrap();
/// let bytes = w.finish().unwrap();
/// assert_eq!(String::from_utf8(bytes).unwrap(), "ver:\"3.0\"\nid,val\n\"a\",1.5\n\"b\",\n");
/// ```
#[derive(Debug)]
pub struct GridWriter<W: Write> {
    w: W,
    buf: String,
    /// The columns (a grid without rows, for lookups by name); boxed to keep the writer small.
    header: Box<Grid>,
    rows: usize,
}

impl<W: Write> GridWriter<W> {
    /// Starts a grid with this meta and these columns (written at once to the buffer).
    pub fn new(w: W, meta: &Dict, cols: &[Col]) -> Result<Self> {
        let header = Grid::with_cols(meta.clone(), cols.to_vec())?;
        let mut buf = String::with_capacity(FLUSH_AT + 4096);
        write_grid_header(&mut buf, &header);
        Ok(GridWriter {
            w,
            buf,
            header: Box::new(header),
            rows: 0,
        })
    }

    /// Writes one row of one cell per column.
    pub fn write_row(&mut self, cells: &[Value]) -> Result<()> {
        let width = self.header.cols().len();
        if cells.len() != width {
            return Err(Error::Value(haystack_core::Error::Invalid(format!(
                "row has {} cells but the grid has {width} columns",
                cells.len(),
            ))));
        }
        write_row(&mut self.buf, cells);
        self.rows += 1;
        self.maybe_flush()
    }

    /// Writes a row of a grid with the same columns (its tags by column position).
    pub fn write_grid_row(&mut self, row: &Row<'_>) -> Result<()> {
        let width = self.header.cols().len();
        if let Some((c, _)) = row.entries().last().filter(|(c, _)| *c >= width) {
            return Err(Error::Value(haystack_core::Error::Invalid(format!(
                "row has a cell in column {c} but the grid has {width} columns"
            ))));
        }
        write_sparse_row(&mut self.buf, row, width);
        self.rows += 1;
        self.maybe_flush()
    }

    /// Writes one row from a dict's tags (tags without a column are an error).
    pub fn write_dict(&mut self, dict: &Dict) -> Result<()> {
        let mut cells = vec![Value::Null; self.header.cols().len()];
        for (k, v) in dict.iter() {
            match self.header.col_index(k).and_then(|i| cells.get_mut(i)) {
                Some(slot) => *slot = v.clone(),
                None => {
                    return Err(Error::Value(haystack_core::Error::Invalid(format!(
                        "tag '{k}' has no column"
                    ))));
                }
            }
        }
        self.write_row(&cells)
    }

    /// Rows written so far.
    pub fn rows_written(&self) -> usize {
        self.rows
    }

    fn maybe_flush(&mut self) -> Result<()> {
        if self.buf.len() >= FLUSH_AT {
            self.w.write_all(self.buf.as_bytes())?;
            self.buf.clear();
        }
        Ok(())
    }

    /// Writes what is buffered, flushes, and returns the stream.
    pub fn finish(mut self) -> Result<W> {
        self.w.write_all(self.buf.as_bytes())?;
        self.buf.clear();
        self.w.flush()?;
        Ok(self.w)
    }
}
