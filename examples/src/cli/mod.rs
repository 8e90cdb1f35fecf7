//! The `haystack` command-line tool: `convert`, `filter`, `check`, `diff` and `reflect` for
//! Haystack files (Zinc, JSON v4 "Hayson", JSON v3, Trio, and CSV for export).
//!
//! ```no_run
//! use clap::Parser;
//! let cli = examples::cli::Cli::parse_from(["haystack", "convert", "--to", "json", "site.zinc"]);
//! std::process::exit(examples::cli::run(cli));
//! ```
//!
//! - Input is a file or standard input (`-` or no file); its format comes from `--from`, else
//!   the file extension, else the first bytes ([`crate::haystack::formats::Format::sniff`]).
//! - Output goes to standard output, or with `-o FILE` to a temporary file beside FILE that is
//!   renamed to FILE only when the command succeeds (a failed run leaves no partial file). A
//!   closed pipe (`haystack convert ... | head`) ends the program quietly with status 0.
//! - Input files of 8 MiB or more show a progress bar on standard error when it is a terminal
//!   (bytes and lines per second; the [`progress`] module).
//! - Exit status: 0 success; 1 when `check` finds an error or `diff` finds a difference;
//!   2 for any error (bad usage, unreadable input, input that does not parse), with a one-line
//!   message on standard error; parse errors read `FILE:LINE:COLUMN: message`.
//! - Zinc input streams: `convert` and `filter` read it row by row (the `stream` module), and so does
//!   JSON v4 input whose `meta` and `cols` come before its `rows`. Other inputs are read whole.

mod args;
mod check;
mod convert;
mod diff;
mod filter;
mod input;
mod pipes;
pub mod progress;
mod reflect;
mod stream;

use std::io::{self, Write};
use std::path::Path;

pub use args::{CheckArgs, Cli, Command, ConvertArgs, DiffArgs, FilterArgs, ReflectArgs};
pub use input::Input;

use crate::haystack::formats::FormatError;

/// Exit status for a finding: `check` found an error, `diff` found a difference.
pub const EXIT_FINDING: i32 = 1;
/// Exit status for an error.
pub const EXIT_ERROR: i32 = 2;

/// Everything that can stop a command.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CliError {
    /// The command line asks for something impossible (e.g. reading CSV).
    #[error("{0}")]
    Usage(String),
    /// An input could not be opened or read.
    #[error("{name}: {source}")]
    Read {
        /// The input's name (`<stdin>` for standard input).
        name: String,
        /// Why.
        source: io::Error,
    },
    /// An input did not parse; `position` is where, when the decoder says.
    #[error("{}", located(.name, .position, .message))]
    Parse {
        /// The input's name.
        name: String,
        /// 1-based line and column.
        position: Option<(usize, usize)>,
        /// What is wrong.
        message: String,
    },
    /// The filter expression did not parse.
    #[error("invalid filter: {0}")]
    Filter(haystack_core::Error),
    /// Writing the output failed.
    #[error("writing output: {0}")]
    Write(io::Error),
    /// The output could not be produced (e.g. a value the format cannot hold).
    #[error("output: {0}")]
    Output(String),
}

fn located(name: &str, position: &Option<(usize, usize)>, message: &str) -> String {
    match position {
        Some((line, column)) => format!("{name}:{line}:{column}: {message}"),
        None => format!("{name}: {message}"),
    }
}

impl CliError {
    /// A parse error of input `name`, with the position the decoder reported.
    pub fn parse(name: &str, err: FormatError) -> CliError {
        let (position, message) = match err {
            FormatError::Zinc(e) => return CliError::from_zinc(name, e),
            FormatError::Core(e) => core_position(e),
            FormatError::Io(e) => {
                return CliError::Read {
                    name: name.to_owned(),
                    source: e,
                };
            }
            other => (None, other.to_string()),
        };
        CliError::Parse {
            name: name.to_owned(),
            position,
            message,
        }
    }

    /// A Zinc or Trio reader error of input `name`.
    pub fn from_zinc(name: &str, err: haystack_zinc::Error) -> CliError {
        let (position, message) = match err {
            haystack_zinc::Error::Parse(p) => {
                (Some((p.position.line, p.position.column)), p.message)
            }
            haystack_zinc::Error::LimitExceeded { position, message } => (
                Some((position.line, position.column)),
                format!("limit exceeded: {message}"),
            ),
            haystack_zinc::Error::Io(e) => {
                return CliError::Read {
                    name: name.to_owned(),
                    source: e,
                };
            }
            haystack_zinc::Error::Value(e) => core_position(e),
            other => (None, other.to_string()),
        };
        CliError::Parse {
            name: name.to_owned(),
            position,
            message,
        }
    }

    /// An error while writing: a write failure, or a value the output format cannot hold.
    pub fn output(err: FormatError) -> CliError {
        match err {
            FormatError::Io(e) | FormatError::Zinc(haystack_zinc::Error::Io(e)) => {
                CliError::Write(e)
            }
            other => CliError::Output(other.to_string()),
        }
    }

    /// Whether this is a write to a closed pipe (the reader went away: not an error).
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, CliError::Write(e) if e.kind() == io::ErrorKind::BrokenPipe)
    }
}

/// The position and message of a `haystack-core` error. JSON errors carry serde_json's
/// `... at line L column C` suffix, which is split off into the position.
fn core_position(err: haystack_core::Error) -> (Option<(usize, usize)>, String) {
    match err {
        haystack_core::Error::Parse(p) => (Some((p.position.line, p.position.column)), p.message),
        haystack_core::Error::Json(msg) => match json_position(&msg) {
            Some((line, column, rest)) => (
                Some((line, column)),
                format!("invalid JSON: {}", strip_json_prefix(rest)),
            ),
            None => (None, format!("invalid JSON: {}", strip_json_prefix(&msg))),
        },
        other => (None, other.to_string()),
    }
}

/// A message without the `invalid JSON: ` that nested decoders already put in front.
fn strip_json_prefix(msg: &str) -> &str {
    let mut m = msg;
    while let Some(rest) = m.strip_prefix("invalid JSON: ") {
        m = rest;
    }
    m
}

/// Splits `"message at line 3 column 14"` into `(3, 14, "message")`.
fn json_position(msg: &str) -> Option<(usize, usize, &str)> {
    let (rest, pos) = msg.rsplit_once(" at line ")?;
    let (line, column) = pos.split_once(" column ")?;
    Some((line.parse().ok()?, column.parse().ok()?, rest))
}

/// What a command found, for the exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Done; nothing to report (exit 0).
    Ok,
    /// `check` found an error or `diff` a difference (exit 1).
    Finding,
}

/// Runs a parsed command line and returns the process exit status. Errors are printed to
/// standard error as `haystack: message`.
pub fn run(mut cli: Cli) -> i32 {
    pipes::widen_std_pipes();
    let mut err = io::stderr();
    let res = match cli.output.take() {
        Some(path) => run_to_file(cli, &path, &mut err),
        None => {
            let stdout = io::stdout();
            let mut out = io::BufWriter::with_capacity(64 * 1024, stdout.lock());
            run_with(cli, &mut out, &mut err)
                .and_then(|o| out.flush().map(|()| o).map_err(CliError::Write))
        }
    };
    match res {
        Ok(Outcome::Ok) => 0,
        Ok(Outcome::Finding) => EXIT_FINDING,
        Err(e) if e.is_broken_pipe() => 0,
        Err(e) => {
            let _ = writeln!(err, "haystack: {e}");
            EXIT_ERROR
        }
    }
}

/// Runs `cli` with its output in a temporary file beside `path`, renamed to `path` on success
/// (also when `check` or `diff` report a finding); on an error the temporary file is removed.
fn run_to_file(cli: Cli, path: &Path, diag: &mut dyn Write) -> Result<Outcome, CliError> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut builder = tempfile::Builder::new();
    // The file a user asked for, readable as any file they write (not the 0600 of a temp file).
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644));
    let tmp = builder.tempfile_in(dir).map_err(CliError::Write)?;
    let mut out = io::BufWriter::with_capacity(64 * 1024, tmp);
    let outcome = run_with(cli, &mut out, diag)?;
    let tmp = out
        .into_inner()
        .map_err(|e| CliError::Write(e.into_error()))?;
    tmp.as_file().sync_all().map_err(CliError::Write)?;
    tmp.persist(path).map_err(|e| CliError::Write(e.error))?;
    Ok(outcome)
}

/// Runs a parsed command line, writing results to `out` and findings to `diag`.
pub fn run_with(cli: Cli, out: &mut dyn Write, diag: &mut dyn Write) -> Result<Outcome, CliError> {
    let lenient = !cli.strict;
    match cli.command {
        Command::Convert(a) => convert::run(&a, lenient, out),
        Command::Filter(a) => filter::run(&a, lenient, out),
        Command::Check(a) => check::run(&a, lenient, out, diag),
        Command::Diff(a) => diff::run(&a, lenient, out),
        Command::Reflect(a) => reflect::run(&a, lenient, out),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_positions_are_split_off() {
        assert_eq!(
            json_position("expected value at line 3 column 14"),
            Some((3, 14, "expected value"))
        );
        assert_eq!(json_position("no position"), None);
    }

    #[test]
    fn parse_errors_name_file_line_and_column() {
        let e = CliError::parse(
            "a.zinc",
            FormatError::Zinc(haystack_zinc::from_str("ver:\"3.0\"\na,b\n1,2,3\n").unwrap_err()),
        );
        assert!(e.to_string().starts_with("a.zinc:3:"), "{e}");
    }
}
