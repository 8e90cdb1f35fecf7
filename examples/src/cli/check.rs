//! `haystack check`: whether an input parses, and where it first does not.

use std::io::Write;

use haystack_core::{Col, Dict, Value};

use super::stream::{RowSink, pump};
use super::{CheckArgs, CliError, Input, Outcome};
use crate::haystack::formats::Format;

/// Counts rows and keeps nothing.
struct Count;

impl RowSink for Count {
    fn header(&mut self, _meta: &Dict, _cols: &[Col]) -> Result<(), CliError> {
        Ok(())
    }

    fn row(&mut self, _cells: &[Value]) -> Result<(), CliError> {
        Ok(())
    }
}

pub(crate) fn run(
    args: &CheckArgs,
    lenient: bool,
    out: &mut dyn Write,
    diag: &mut dyn Write,
) -> Result<Outcome, CliError> {
    let input = Input::from_arg(args.file.as_deref());
    let (format, reader) = input.open_detect(args.from.as_deref())?;
    if format == Format::Csv {
        return Err(CliError::Usage(
            "CSV is an export format: it cannot be checked".into(),
        ));
    }
    match pump(&input, format, reader, lenient, &mut Count) {
        Ok(rows) => {
            let what = if format == Format::Trio {
                "records"
            } else {
                "rows"
            };
            writeln!(out, "{}: ok ({rows} {what}, {format})", input.name())
                .map_err(CliError::Write)?;
            Ok(Outcome::Ok)
        }
        Err(e @ CliError::Parse { .. }) => {
            writeln!(diag, "{e}").map_err(CliError::Write)?;
            Ok(Outcome::Finding)
        }
        Err(e) => Err(e),
    }
}
