//! Grids pushed row by row from an input to a [`RowSink`]: Zinc through
//! `haystack_zinc::GridReader`, JSON v4 grids through serde_json's streaming deserializer,
//! anything else read whole first.
//!
//! Memory for Zinc input is bounded by the longest row; for a JSON v4 grid object whose
//! `_kind` comes first and whose `meta` and `cols` come before its `rows`, by the largest row
//! (rows that come before `cols` are held until the columns are known).

use std::collections::HashMap;
use std::fmt;
use std::io::{BufReader, Read};

use haystack_core::{Col, Dict, Value};
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::{CliError, Input};
use crate::haystack::formats::Format;

/// Where the rows of a grid go: the header first, then each row (one cell per column).
pub(crate) trait RowSink {
    /// The grid meta and columns, before any row.
    fn header(&mut self, meta: &Dict, cols: &[Col]) -> Result<(), CliError>;
    /// One row.
    fn row(&mut self, cells: &[Value]) -> Result<(), CliError>;
}

/// Reads `reader` (in `format`) and pushes its grid into `sink`. Returns the number of rows.
pub(crate) fn pump(
    input: &Input,
    format: Format,
    reader: Box<dyn Read>,
    sink: &mut dyn RowSink,
) -> Result<usize, CliError> {
    match format {
        Format::Zinc => pump_zinc(input, reader, sink),
        Format::Json => {
            let mut reader = BufReader::with_capacity(256 * 1024, reader);
            if starts_as_grid(&mut reader).map_err(|e| input.read_error(e))? {
                pump_json(input, reader, sink)
            } else {
                pump_whole(input, format, Box::new(reader), sink)
            }
        }
        _ => pump_whole(input, format, reader, sink),
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
    let mut row = Vec::with_capacity(rd.cols().len());
    while rd
        .read_row(&mut row)
        .map_err(|e| CliError::from_zinc(&name, e))?
    {
        sink.row(&row)?;
    }
    Ok(rd.rows_read())
}

fn pump_whole(
    input: &Input,
    format: Format,
    reader: Box<dyn Read>,
    sink: &mut dyn RowSink,
) -> Result<usize, CliError> {
    let grid = input.read_grid(format, reader)?;
    sink.header(grid.meta(), grid.cols())?;
    for r in grid.rows() {
        sink.row(&r.to_cells())?;
    }
    Ok(grid.len())
}

/// Whether the buffered JSON starts with `{"_kind":"grid"` (whitespace allowed).
fn starts_as_grid<R: Read>(reader: &mut BufReader<R>) -> std::io::Result<bool> {
    use std::io::BufRead;
    let head = reader.fill_buf()?;
    let compact: Vec<u8> = head
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .take(20)
        .collect();
    Ok(compact.starts_with(br#"{"_kind":"grid""#))
}

fn pump_json<R: Read>(input: &Input, reader: R, sink: &mut dyn RowSink) -> Result<usize, CliError> {
    let mut state = JsonGrid {
        sink,
        failed: None,
        rows: 0,
    };
    let mut de = serde_json::Deserializer::from_reader(reader);
    let res = (&mut state).deserialize(&mut de).and_then(|()| de.end());
    if let Some(e) = state.failed {
        return Err(e);
    }
    match res {
        Ok(()) => Ok(state.rows),
        Err(e) if e.is_io() => Err(input.read_error(std::io::Error::other(e.to_string()))),
        Err(e) => {
            let message = e.to_string();
            let message = message
                .rsplit_once(" at line ")
                .map_or(message.as_str(), |(m, _)| m);
            Err(CliError::Parse {
                name: input.name(),
                position: (e.line() > 0).then(|| (e.line(), e.column())),
                message: format!("invalid JSON: {}", super::strip_json_prefix(message)),
            })
        }
    }
}

/// The streaming visitor of a JSON v4 grid object.
struct JsonGrid<'s> {
    sink: &'s mut dyn RowSink,
    /// The sink's error, kept here because serde errors cannot carry it.
    failed: Option<CliError>,
    rows: usize,
}

/// The grid's header, once `meta` and `cols` are known.
struct Header {
    cols: Vec<Col>,
    index: HashMap<String, usize>,
}

impl JsonGrid<'_> {
    fn sink_err<E: de::Error>(&mut self, e: CliError) -> E {
        self.failed = Some(e);
        E::custom("stopped")
    }

    fn emit<E: de::Error>(&mut self, h: &Header, row: Value) -> Result<(), E> {
        let Value::Dict(d) = row else {
            return Err(E::custom("each grid row must be an object"));
        };
        let mut cells = vec![Value::Null; h.cols.len()];
        for (k, v) in d {
            match h.index.get(&*k).and_then(|&i| cells.get_mut(i)) {
                Some(slot) => *slot = v,
                None => {
                    return Err(E::custom(format!(
                        "row tag {k:?} has no column (streamed JSON needs every tag in 'cols')"
                    )));
                }
            }
        }
        if let Err(e) = self.sink.row(&cells) {
            return Err(self.sink_err(e));
        }
        self.rows += 1;
        Ok(())
    }
}

impl<'de> DeserializeSeed<'de> for &mut JsonGrid<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for &mut JsonGrid<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a Haystack JSON grid object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut meta: Option<Dict> = None;
        let mut cols: Option<Vec<Col>> = None;
        let mut header: Option<Header> = None;
        let mut early_rows: Vec<Value> = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "_kind" => {
                    let kind: String = map.next_value()?;
                    if kind != "grid" {
                        return Err(de::Error::custom(format!(
                            "expected a grid, found {kind:?}"
                        )));
                    }
                }
                "meta" => match map.next_value::<Value>()? {
                    Value::Dict(d) => meta = Some(d),
                    Value::Null => meta = Some(Dict::new()),
                    _ => return Err(de::Error::custom("grid 'meta' must be an object")),
                },
                "cols" => cols = Some(cols_of(map.next_value::<Value>()?)?),
                "rows" => {
                    if header.is_none()
                        && let (Some(m), Some(c)) = (&meta, &cols)
                    {
                        header = Some(self.start(m, c)?);
                    }
                    match &header {
                        Some(h) => map.next_value_seed(Rows {
                            grid: &mut *self,
                            header: h,
                        })?,
                        None => early_rows = map.next_value::<Vec<Value>>()?,
                    }
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let header = match header {
            Some(h) => h,
            None => {
                let m = meta.unwrap_or_default();
                let c = cols.unwrap_or_default();
                self.start(&m, &c)?
            }
        };
        for row in early_rows {
            self.emit(&header, row)?;
        }
        Ok(())
    }
}

impl JsonGrid<'_> {
    fn start<E: de::Error>(&mut self, meta: &Dict, cols: &[Col]) -> Result<Header, E> {
        let mut index = HashMap::with_capacity(cols.len());
        for (i, c) in cols.iter().enumerate() {
            if index.insert(c.name().to_owned(), i).is_some() {
                return Err(E::custom(format!("duplicate column {:?}", c.name())));
            }
        }
        if let Err(e) = self.sink.header(meta, cols) {
            return Err(self.sink_err(e));
        }
        Ok(Header {
            cols: cols.to_vec(),
            index,
        })
    }
}

/// The `rows` array, each row pushed on as soon as it is read.
struct Rows<'g, 's> {
    grid: &'g mut JsonGrid<'s>,
    header: &'g Header,
}

impl<'de> DeserializeSeed<'de> for Rows<'_, '_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Rows<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of grid rows")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(row) = seq.next_element::<Value>()? {
            self.grid.emit(self.header, row)?;
        }
        Ok(())
    }
}

/// The columns of a v4 grid from their decoded value: `{"name": .., "meta": {..}}` objects.
fn cols_of<E: de::Error>(v: Value) -> Result<Vec<Col>, E> {
    let list = match v {
        Value::List(l) => l,
        Value::Null => Vec::new(),
        _ => return Err(E::custom("grid 'cols' must be an array")),
    };
    let mut cols = Vec::with_capacity(list.len());
    for c in list {
        let Value::Dict(mut c) = c else {
            return Err(E::custom("each column must be an object"));
        };
        let Some(Value::Str(name)) = c.remove("name") else {
            return Err(E::custom("each column needs a string 'name'"));
        };
        let meta = match c.remove("meta") {
            None | Some(Value::Null) => Dict::new(),
            Some(Value::Dict(m)) => m,
            Some(_) => return Err(E::custom("column 'meta' must be an object")),
        };
        cols.push(Col::with_meta(name, meta).map_err(E::custom)?);
    }
    Ok(cols)
}
