//! The Haystack file formats the programs read and write: Zinc, JSON v4 ("Hayson"), JSON v3,
//! Trio and CSV (export only), chosen by name, file extension or HTTP media type.

use std::fmt;
use std::io::Write;

use haystack_core::json::{self, Version};
use haystack_core::{Col, Dict, Grid, Row, Value};

/// A Haystack file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Zinc 3.0 (`text/zinc`).
    Zinc,
    /// JSON v4, "Hayson" (`application/json`).
    Json,
    /// JSON v3 with `m:`, `n:`, `r:` ... prefixes.
    Json3,
    /// Trio (`text/trio`), a list of records.
    Trio,
    /// CSV (`text/csv`), export only.
    Csv,
}

/// Errors reading or writing a format.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FormatError {
    /// Zinc or Trio text did not parse.
    #[error(transparent)]
    Zinc(#[from] haystack_zinc::Error),
    /// JSON did not parse, or a value is not valid Haystack.
    #[error(transparent)]
    Core(#[from] haystack_core::Error),
    /// The format cannot do what was asked (e.g. read CSV).
    #[error("{0}")]
    Unsupported(String),
    /// Writing the output failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

impl Format {
    /// Every format, for help texts.
    pub const ALL: [Format; 5] = [
        Format::Zinc,
        Format::Json,
        Format::Json3,
        Format::Trio,
        Format::Csv,
    ];

    /// The format a name such as `zinc`, `json`, `json3`, `trio` or `csv` names.
    pub fn from_name(name: &str) -> Option<Format> {
        Some(match name.to_ascii_lowercase().as_str() {
            "zinc" => Format::Zinc,
            "json" | "json4" | "hayson" => Format::Json,
            "json3" => Format::Json3,
            "trio" => Format::Trio,
            "csv" => Format::Csv,
            _ => return None,
        })
    }

    /// The format a file name's extension names (`.zinc`, `.json`, `.trio`, `.csv`).
    pub fn from_path(path: &str) -> Option<Format> {
        let ext = path.rsplit_once('.')?.1;
        match ext.to_ascii_lowercase().as_str() {
            "zinc" => Some(Format::Zinc),
            "json" | "hayson" => Some(Format::Json),
            "trio" => Some(Format::Trio),
            "csv" => Some(Format::Csv),
            _ => None,
        }
    }

    /// The format's short name.
    pub fn name(self) -> &'static str {
        match self {
            Format::Zinc => "zinc",
            Format::Json => "json",
            Format::Json3 => "json3",
            Format::Trio => "trio",
            Format::Csv => "csv",
        }
    }

    /// The HTTP media type.
    pub fn mime(self) -> &'static str {
        match self {
            Format::Zinc => "text/zinc",
            Format::Json => "application/json",
            Format::Json3 => HAYSTACK_JSON_V3,
            Format::Trio => "text/trio",
            Format::Csv => "text/csv",
        }
    }

    /// Reads a grid. Trio records become the rows of a grid.
    pub fn read_grid(self, text: &str) -> Result<Grid, FormatError> {
        match self {
            Format::Zinc => Ok(haystack_zinc::from_str(text)?),
            Format::Json | Format::Json3 => {
                let version = if self == Format::Json {
                    Version::V4
                } else {
                    Version::V3
                };
                match json::from_slice(text.as_bytes(), version)? {
                    Value::Grid(g) => Ok(*g),
                    Value::List(items) => dicts_to_grid(items),
                    Value::Dict(d) => Ok(Grid::from_dicts([&d])),
                    other => Err(FormatError::Unsupported(format!(
                        "expected a grid, found a {}",
                        other.kind()
                    ))),
                }
            }
            Format::Trio => {
                let records = haystack_zinc::trio::from_str(text)?;
                Ok(Grid::from_dicts(records.iter()))
            }
            Format::Csv => Err(FormatError::Unsupported(
                "CSV is an export format only".into(),
            )),
        }
    }

    /// Guesses the format of a document from its first bytes: JSON (v4) when it starts with
    /// `{` or `[`, Zinc when it starts with `ver:`, Trio otherwise. Leading whitespace and a
    /// byte order mark are skipped.
    pub fn sniff(prefix: &[u8]) -> Format {
        let text = prefix.strip_prefix("\u{feff}".as_bytes()).unwrap_or(prefix);
        let start = text
            .iter()
            .position(|b| !b.is_ascii_whitespace())
            .unwrap_or(text.len());
        let text = text.get(start..).unwrap_or_default();
        match text.first() {
            Some(b'{' | b'[') => Format::Json,
            _ if text.starts_with(b"ver:") => Format::Zinc,
            _ => Format::Trio,
        }
    }

    /// A writer of one grid in this format, row by row: it holds one row (and a buffer of
    /// about 64 KiB) at a time, whatever the number of rows. CSV keeps up to
    /// [`CSV_CHUNK_ROWS`] rows before it writes them. The output is byte for byte what
    /// [`Format::write_grid`] writes for the same grid.
    pub fn stream_writer<W: Write>(
        self,
        w: W,
        meta: &Dict,
        cols: &[Col],
    ) -> Result<GridStream<W>, FormatError> {
        // Checks the columns (e.g. duplicates) before anything is written.
        Grid::with_cols(meta.clone(), cols.to_vec())?;
        Ok(GridStream {
            format: self,
            out: Out::Raw(w),
            meta: meta.clone(),
            cols: cols.to_vec(),
            started: false,
            rows: 0,
            buf: Vec::new(),
            text: String::new(),
            csv_chunk: None,
            csv_header_len: 0,
        })
    }

    /// Writes a grid. Trio writes one record per row.
    pub fn write_grid(self, grid: &Grid) -> Result<String, FormatError> {
        Ok(match self {
            Format::Zinc => haystack_zinc::to_string(grid),
            Format::Json => json::to_string(&Value::Grid(Box::new(grid.clone()))),
            Format::Json3 => json::to_string_v3(&Value::Grid(Box::new(grid.clone()))),
            Format::Trio => {
                let records: Vec<Dict> = grid.rows().map(|r| r.to_dict()).collect();
                haystack_zinc::trio::to_string(&records)
            }
            Format::Csv => haystack_zinc::csv::to_string(grid),
        })
    }
}

fn dicts_to_grid(items: Vec<Value>) -> Result<Grid, FormatError> {
    let mut dicts = Vec::with_capacity(items.len());
    for item in items {
        match item {
            Value::Dict(d) => dicts.push(d),
            other => {
                return Err(FormatError::Unsupported(format!(
                    "expected a list of dicts, found a {}",
                    other.kind()
                )));
            }
        }
    }
    Ok(Grid::from_dicts(dicts.iter()))
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Picks the response format from an HTTP `Accept` header (Zinc when absent or `*/*`);
/// `version=3` on a JSON type chooses JSON v3. `None` when nothing acceptable is offered.
pub fn negotiate(accept: Option<&str>) -> Option<Format> {
    negotiate_labelled(accept).map(|(f, _)| f)
}

/// Media type of Haystack JSON v4 as the HttpApi chapter names it.
pub const HAYSTACK_JSON_V4: &str = "application/vnd.haystack+json;version=4";
/// Media type of Haystack JSON v3.
pub const HAYSTACK_JSON_V3: &str = "application/vnd.haystack+json;version=3";

/// Like [`negotiate`], with the media type to label the response with: JSON asked for as
/// `application/vnd.haystack+json;version=4` is labelled so, plain `application/json` as
/// `application/json`, and JSON v3 always as `application/vnd.haystack+json;version=3`.
pub fn negotiate_labelled(accept: Option<&str>) -> Option<(Format, &'static str)> {
    let Some(accept) = accept.filter(|a| !a.trim().is_empty()) else {
        return Some((Format::Zinc, Format::Zinc.mime()));
    };
    let mut best: Option<(f32, Format, &'static str)> = None;
    for part in accept.split(',') {
        let mut fields = part.split(';');
        let mime = fields.next().unwrap_or("").trim().to_ascii_lowercase();
        let params: Vec<String> = fields
            .map(|f| f.replace(' ', "").to_ascii_lowercase())
            .collect();
        let q = params
            .iter()
            .filter_map(|f| f.strip_prefix("q="))
            .find_map(|q| q.parse::<f32>().ok())
            .unwrap_or(1.0);
        let json_v3 = params.iter().any(|p| p == "version=3");
        let chosen = match mime.as_str() {
            "text/zinc" | "*/*" | "text/*" | "text/plain" => (Format::Zinc, Format::Zinc.mime()),
            _ if json_v3 && mime.contains("json") && mime.starts_with("application/") => {
                (Format::Json3, HAYSTACK_JSON_V3)
            }
            "application/json" | "application/*" => (Format::Json, "application/json"),
            "application/vnd.haystack+json" => (Format::Json, HAYSTACK_JSON_V4),
            "text/trio" => (Format::Trio, Format::Trio.mime()),
            "text/csv" => (Format::Csv, Format::Csv.mime()),
            _ => continue,
        };
        if q > 0.0 && best.is_none_or(|(bq, _, _)| q > bq) {
            best = Some((q, chosen.0, chosen.1));
        }
    }
    best.map(|(_, f, m)| (f, m))
}

/// Rows of a CSV stream gathered before they are written (see [`Format::stream_writer`]).
pub const CSV_CHUNK_ROWS: usize = 256;

/// Bytes a [`GridStream`] buffers before it writes to its stream.
const STREAM_FLUSH_AT: usize = 64 * 1024;

/// A grid written row by row in any [`Format`]; made by [`Format::stream_writer`].
///
/// The header is written with the first row (or by [`GridStream::finish`]), so that a Zinc
/// `empty` column with no rows becomes a grid without columns, as [`Format::read_grid`] reads it.
///
/// ```
/// use examples::haystack::formats::Format;
/// use haystack_core::{Col, Dict, Value};
///
/// let cols = [Col::new("id").unwrap(), Col::new("val").unwrap()];
/// let mut w = Format::Json.stream_writer(Vec::new(), &Dict::new(), &cols).unwrap();
/// w.write_row(&[Value::from("a"), Value::from(1.5)]).unwrap();
/// let json = String::from_utf8(w.finish().unwrap()).unwrap();
/// assert_eq!(
///     json,
///     r#"{"_kind":"grid","meta":{"ver":"3.0"},"cols":[{"name":"id"},{"name":"val"}],"rows":[{"id":"a","val":1.5}]}"#
/// );
/// ```
#[derive(Debug)]
pub struct GridStream<W: Write> {
    format: Format,
    out: Out<W>,
    meta: Dict,
    cols: Vec<Col>,
    started: bool,
    rows: usize,
    buf: Vec<u8>,
    /// One JSON row's text, reused.
    text: String,
    csv_chunk: Option<Grid>,
    csv_header_len: usize,
}

#[derive(Debug)]
enum Out<W: Write> {
    Raw(W),
    Zinc(haystack_zinc::GridWriter<W>),
    /// Only while switching from `Raw` to `Zinc`, or after a failed switch.
    Gone,
}

impl<W: Write> GridStream<W> {
    /// Writes one row of one cell per column.
    pub fn write_row(&mut self, cells: &[Value]) -> Result<(), FormatError> {
        if cells.len() != self.cols.len() {
            return Err(FormatError::Unsupported(format!(
                "row has {} cells but the grid has {} columns",
                cells.len(),
                self.cols.len()
            )));
        }
        self.start(true)?;
        match self.format {
            Format::Zinc => match &mut self.out {
                Out::Zinc(z) => z.write_row(cells)?,
                _ => return Err(broken()),
            },
            Format::Json | Format::Json3 => self.push_json_row(|text, cols, version| {
                json::write_row(text, cols, cells, version);
            }),
            Format::Trio => {
                if self.rows > 0 {
                    self.buf.extend_from_slice(b"---\n");
                }
                let mut d = Dict::with_capacity(cells.len());
                for (c, v) in self.cols.iter().zip(cells) {
                    if !v.is_null() {
                        d.insert_valid(c.shared_name().clone(), v.clone());
                    }
                }
                let text = haystack_zinc::trio::to_string(std::slice::from_ref(&d));
                self.buf.extend_from_slice(text.as_bytes());
            }
            Format::Csv => {
                let full = match &mut self.csv_chunk {
                    Some(chunk) => {
                        chunk.push_row(cells.to_vec())?;
                        chunk.len() >= CSV_CHUNK_ROWS
                    }
                    None => return Err(broken()),
                };
                if full {
                    self.flush_csv();
                }
            }
        }
        self.rows += 1;
        self.flush_buf(STREAM_FLUSH_AT)
    }

    /// Writes one row given as a [`Row`] view of its tags (e.g. from
    /// `haystack_zinc::GridReader::next_row`): the same output as [`GridStream::write_row`]
    /// with the row's cells, without building a cell per column for Zinc and JSON.
    pub fn write_grid_row(&mut self, row: &Row<'_>) -> Result<(), FormatError> {
        if let Some((c, _)) = row.entries().last().filter(|(c, _)| *c >= self.cols.len()) {
            return Err(FormatError::Unsupported(format!(
                "row has a cell in column {c} but the grid has {} columns",
                self.cols.len()
            )));
        }
        match self.format {
            Format::Zinc => {
                self.start(true)?;
                match &mut self.out {
                    Out::Zinc(z) => z.write_grid_row(row)?,
                    _ => return Err(broken()),
                }
            }
            Format::Json | Format::Json3 => {
                self.start(true)?;
                self.push_json_row(|text, cols, version| {
                    json::write_grid_row(text, cols, row, version);
                });
            }
            Format::Trio | Format::Csv => {
                let mut cells = vec![Value::Null; self.cols.len()];
                for (c, v) in row.entries() {
                    if let Some(slot) = cells.get_mut(c) {
                        *slot = v.clone();
                    }
                }
                return self.write_row(&cells);
            }
        }
        self.rows += 1;
        self.flush_buf(STREAM_FLUSH_AT)
    }

    /// Appends one JSON row to the buffer (after a comma unless it is the first), as `write`
    /// puts it into the reused row text given the columns and the JSON version.
    fn push_json_row(&mut self, write: impl FnOnce(&mut String, &[Col], Version)) {
        if self.rows > 0 {
            self.buf.push(b',');
        }
        let version = if self.format == Format::Json {
            Version::V4
        } else {
            Version::V3
        };
        self.text.clear();
        write(&mut self.text, &self.cols, version);
        self.buf.extend_from_slice(self.text.as_bytes());
    }

    /// Rows written so far.
    pub fn rows_written(&self) -> usize {
        self.rows
    }

    /// Writes what is left (the header of a grid without rows, the end of a JSON grid),
    /// flushes, and returns the stream.
    pub fn finish(mut self) -> Result<W, FormatError> {
        self.start(false)?;
        match self.format {
            Format::Json | Format::Json3 => self.buf.extend_from_slice(b"]}"),
            Format::Csv => self.flush_csv(),
            Format::Zinc | Format::Trio => {}
        }
        self.flush_buf(0)?;
        match std::mem::replace(&mut self.out, Out::Gone) {
            Out::Raw(mut w) => {
                w.flush()?;
                Ok(w)
            }
            Out::Zinc(z) => Ok(z.finish()?),
            Out::Gone => Err(broken()),
        }
    }

    /// Writes the header, once; `for_row` says whether a row follows.
    fn start(&mut self, for_row: bool) -> Result<(), FormatError> {
        if self.started {
            return Ok(());
        }
        self.started = true;
        let lone_empty =
            matches!(self.cols.as_slice(), [c] if c.name() == "empty" && c.meta().is_empty());
        if !for_row && lone_empty {
            self.cols.clear();
        }
        let header = Grid::with_cols(self.meta.clone(), self.cols.clone())?;
        match self.format {
            Format::Zinc => {
                if let Out::Raw(w) = std::mem::replace(&mut self.out, Out::Gone) {
                    let z = haystack_zinc::GridWriter::new(w, &self.meta, &self.cols)?;
                    self.out = Out::Zinc(z);
                }
            }
            Format::Json | Format::Json3 => {
                let version = if self.format == Format::Json {
                    Version::V4
                } else {
                    Version::V3
                };
                let mut head = json::to_vec(&Value::Grid(Box::new(header)), version);
                // The grid has no rows, so its JSON ends with an empty rows array and the
                // grid's closing brace: keep the `[`, drop `]}`.
                if !head.ends_with(b"[]}") {
                    return Err(FormatError::Unsupported(
                        "unexpected JSON grid shape".into(),
                    ));
                }
                head.truncate(head.len().saturating_sub(2));
                self.buf.extend_from_slice(&head);
            }
            Format::Trio => {}
            Format::Csv => {
                let head = haystack_zinc::csv::to_string(&header);
                self.csv_header_len = head.len();
                self.buf.extend_from_slice(head.as_bytes());
                self.csv_chunk = Some(header);
            }
        }
        Ok(())
    }

    /// Moves the CSV rows gathered so far into the buffer.
    fn flush_csv(&mut self) {
        if let Some(chunk) = &mut self.csv_chunk
            && !chunk.is_empty()
        {
            let text = haystack_zinc::csv::to_string(chunk);
            // The chunk has this stream's columns, so its text starts with the same header.
            let rows = text.get(self.csv_header_len..).unwrap_or_default();
            self.buf.extend_from_slice(rows.as_bytes());
            chunk.clear_rows();
        }
    }

    /// Writes the buffer to the stream once it holds at least `at` bytes.
    fn flush_buf(&mut self, at: usize) -> Result<(), FormatError> {
        if self.buf.len() < at || self.buf.is_empty() {
            return Ok(());
        }
        match &mut self.out {
            Out::Raw(w) => w.write_all(&self.buf)?,
            // Zinc rows go through the GridWriter, which buffers on its own.
            Out::Zinc(_) => {}
            Out::Gone => return Err(broken()),
        }
        self.buf.clear();
        Ok(())
    }
}

fn broken() -> FormatError {
    FormatError::Unsupported("the grid stream failed earlier and cannot continue".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation() {
        assert_eq!(negotiate(None), Some(Format::Zinc));
        assert_eq!(negotiate(Some("application/json")), Some(Format::Json));
        assert_eq!(
            negotiate(Some("application/json; version=3")),
            Some(Format::Json3)
        );
        assert_eq!(
            negotiate(Some("text/csv;q=0.5, text/trio")),
            Some(Format::Trio)
        );
        assert_eq!(negotiate(Some("image/png")), None);
        assert_eq!(
            negotiate_labelled(Some("application/vnd.haystack+json;version=4")),
            Some((Format::Json, HAYSTACK_JSON_V4))
        );
        assert_eq!(
            negotiate_labelled(Some("application/vnd.haystack+json; version=3")),
            Some((Format::Json3, HAYSTACK_JSON_V3))
        );
        assert_eq!(Format::from_path("site.TRIO"), Some(Format::Trio));
        assert_eq!(Format::from_name("json3"), Some(Format::Json3));
    }
}
