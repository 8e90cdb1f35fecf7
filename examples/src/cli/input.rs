//! Inputs: a file or standard input, its format, and whole-document reads.

use std::fs::File;
use std::io::{self, IsTerminal, Read};
use std::path::PathBuf;

use haystack_core::{Grid, Position, Value, json};

use super::{CliError, progress};
use crate::haystack::formats::{Format, FormatError};

/// Bytes read ahead to guess the format of an input without a known extension.
const SNIFF_BYTES: usize = 512;

/// Where a command reads from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// Standard input (`-` or no file on the command line).
    Stdin,
    /// A file.
    Path(PathBuf),
}

impl Input {
    /// The input a command-line argument names: `-` or none is standard input.
    pub fn from_arg(arg: Option<&str>) -> Input {
        match arg {
            None | Some("-") => Input::Stdin,
            Some(p) => Input::Path(PathBuf::from(p)),
        }
    }

    /// The name used in messages: the path as given, or `<stdin>`.
    pub fn name(&self) -> String {
        match self {
            Input::Stdin => "<stdin>".into(),
            Input::Path(p) => p.display().to_string(),
        }
    }

    /// Opens the input for reading (unbuffered: the readers buffer on their own). A file of at
    /// least [`super::progress::PROGRESS_MIN_BYTES`] shows a progress bar on standard error when
    /// that is a terminal.
    pub fn open(&self) -> Result<Box<dyn Read>, CliError> {
        match self {
            Input::Stdin => Ok(Box::new(io::stdin())),
            Input::Path(p) => {
                let file = File::open(p).map_err(|e| self.read_error(e))?;
                let len = file.metadata().map(|m| m.len()).unwrap_or(0);
                if progress::wants_bar(len, io::stderr().is_terminal()) {
                    Ok(Box::new(progress::ProgressReader::new(
                        file,
                        len,
                        &self.name(),
                    )))
                } else {
                    Ok(Box::new(file))
                }
            }
        }
    }

    /// An I/O error reading this input.
    pub fn read_error(&self, source: io::Error) -> CliError {
        CliError::Read {
            name: self.name(),
            source,
        }
    }

    /// Opens the input and decides its format: `from` when given, else the file extension,
    /// else the first bytes. The returned reader still yields every byte.
    pub fn open_detect(&self, from: Option<&str>) -> Result<(Format, Box<dyn Read>), CliError> {
        let named = match from {
            Some(name) => Some(format_named(name)?),
            None => match self {
                Input::Path(p) => Format::from_path(&p.to_string_lossy()),
                Input::Stdin => None,
            },
        };
        let mut reader = self.open()?;
        if let Some(f) = named {
            return Ok((f, reader));
        }
        let mut head = Vec::with_capacity(SNIFF_BYTES);
        (&mut reader)
            .take(SNIFF_BYTES as u64)
            .read_to_end(&mut head)
            .map_err(|e| self.read_error(e))?;
        let format = Format::sniff(&head);
        Ok((format, Box::new(io::Cursor::new(head).chain(reader))))
    }

    /// Reads the whole input as one grid (Trio records become rows). `lenient` also reads the
    /// draft Hayson kind names and grids that shaystack writes (see
    /// [`haystack_core::json::from_str_lenient`]).
    pub fn read_grid(
        &self,
        format: Format,
        mut reader: impl Read,
        lenient: bool,
    ) -> Result<Grid, CliError> {
        if format == Format::Csv {
            return Err(CliError::Usage(
                "CSV is an export format: it cannot be read".into(),
            ));
        }
        let mut bytes = Vec::new();
        reader
            .read_to_end(&mut bytes)
            .map_err(|e| self.read_error(e))?;
        let text = utf8(&bytes).map_err(|e| CliError::parse(&self.name(), e))?;
        if lenient && format == Format::Json {
            return json::from_str_lenient(text)
                .map_err(FormatError::Core)
                .and_then(value_grid)
                .map_err(|e| CliError::parse(&self.name(), e));
        }
        format
            .read_grid(text)
            .map_err(|e| CliError::parse(&self.name(), e))
    }
}

/// The grid a JSON document holds: a grid, a list of dicts (one row each) or one dict.
fn value_grid(v: Value) -> Result<Grid, FormatError> {
    match v {
        Value::Grid(g) => Ok(*g),
        Value::Dict(d) => Ok(Grid::from_dicts([&d])),
        Value::List(items) => {
            let mut dicts = Vec::new();
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
        other => Err(FormatError::Unsupported(format!(
            "expected a grid, found a {}",
            other.kind()
        ))),
    }
}

/// The format a `--from`/`--to` name names.
pub fn format_named(name: &str) -> Result<Format, CliError> {
    Format::from_name(name).ok_or_else(|| {
        let names: Vec<&str> = Format::ALL.iter().map(|f| f.name()).collect();
        CliError::Usage(format!(
            "unknown format {name:?} (expected one of: {})",
            names.join(", ")
        ))
    })
}

/// Checks UTF-8, reporting where it is invalid.
fn utf8(bytes: &[u8]) -> Result<&str, FormatError> {
    std::str::from_utf8(bytes).map_err(|e| {
        let valid = bytes.get(..e.valid_up_to()).unwrap_or_default();
        let line = 1 + memchr_count(valid);
        let line_start = valid.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        let column = 1 + String::from_utf8_lossy(valid.get(line_start..).unwrap_or_default())
            .chars()
            .count();
        let position = Position {
            line,
            column,
            offset: e.valid_up_to(),
        };
        FormatError::Core(haystack_core::Error::parse(position, "invalid UTF-8"))
    })
}

fn memchr_count(bytes: &[u8]) -> usize {
    bytes.iter().filter(|&&b| b == b'\n').count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_utf8_has_a_position() {
        let err = utf8(b"ab\ncd\xffe").unwrap_err();
        let e = CliError::parse("x.trio", err);
        assert_eq!(e.to_string(), "x.trio:2:3: invalid UTF-8");
    }

    #[test]
    fn names() {
        assert_eq!(Input::from_arg(Some("-")), Input::Stdin);
        assert_eq!(Input::from_arg(None).name(), "<stdin>");
        assert!(format_named("xml").is_err());
    }
}
