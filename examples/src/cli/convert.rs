//! `haystack convert`: any readable format to any format, row by row.

use std::io::Write;

use haystack_core::{Col, Dict, Row, Value};

use super::input::format_named;
use super::stream::{RowSink, pump};
use super::{CliError, ConvertArgs, Input, Outcome};
use crate::haystack::formats::{Format, GridStream};

/// A [`RowSink`] writing each row in an output format as it arrives.
pub(crate) struct Writer<'w> {
    format: Format,
    out: Option<&'w mut dyn Write>,
    stream: Option<GridStream<&'w mut dyn Write>>,
}

impl<'w> Writer<'w> {
    pub(crate) fn new(format: Format, out: &'w mut dyn Write) -> Self {
        Writer {
            format,
            out: Some(out),
            stream: None,
        }
    }

    /// Writes the end of the grid and flushes. A grid without a header (no input) is an
    /// error.
    pub(crate) fn finish(self) -> Result<(), CliError> {
        match self.stream {
            Some(s) => s.finish().map(|_| ()).map_err(CliError::output),
            None => Err(CliError::Output("no grid was read".into())),
        }
    }
}

impl RowSink for Writer<'_> {
    fn header(&mut self, meta: &Dict, cols: &[Col]) -> Result<(), CliError> {
        let out = self
            .out
            .take()
            .ok_or_else(|| CliError::Output("a second grid header".into()))?;
        let stream = self
            .format
            .stream_writer(out, meta, cols)
            .map_err(CliError::output)?;
        self.stream = Some(stream);
        Ok(())
    }

    fn row(&mut self, cells: &[Value]) -> Result<(), CliError> {
        match &mut self.stream {
            Some(s) => s.write_row(cells).map_err(CliError::output),
            None => Err(CliError::Output("a row before the grid header".into())),
        }
    }

    fn grid_row(&mut self, row: Row<'_>) -> Result<(), CliError> {
        match &mut self.stream {
            Some(s) => s.write_grid_row(&row).map_err(CliError::output),
            None => Err(CliError::Output("a row before the grid header".into())),
        }
    }
}

pub(crate) fn run(
    args: &ConvertArgs,
    lenient: bool,
    out: &mut dyn Write,
) -> Result<Outcome, CliError> {
    let to = format_named(&args.to)?;
    let input = Input::from_arg(args.file.as_deref());
    let (from, reader) = input.open_detect(args.from.as_deref())?;
    let mut writer = Writer::new(to, out);
    pump(&input, from, reader, lenient, &mut writer)?;
    writer.finish()?;
    Ok(Outcome::Ok)
}
