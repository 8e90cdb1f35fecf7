//! The command line, parsed by clap.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Convert, filter, check, compare and reflect Project Haystack files (Zinc, JSON, JSON v3,
/// Trio, CSV).
///
/// Formats: zinc, json (Haystack 4 "Hayson"), json3 (Haystack 3 JSON), trio, csv (export
/// only). A FILE of `-`, or no FILE, reads standard input. Exit status: 0 success, 1 when
/// `check` finds an error or `diff` a difference, 2 on any error.
#[derive(Debug, Parser)]
#[command(name = "haystack", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
    /// Write the output to FILE instead of standard output. FILE appears only when the command
    /// succeeds: the output goes to a temporary file beside it, renamed into place at the end.
    #[arg(short = 'o', long = "output", global = true, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Read Hayson (JSON v4) strictly: refuse the draft kind names (`"_kind": "Ref"`, `"Num"`,
    /// `"Marker"`, `"Coord"`, `"Time"`, ...) and the grids without `_kind` that some peers
    /// (shaystack's `.hayson.json` files) write, which are read by default.
    #[arg(long, global = true)]
    pub strict: bool,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Convert a grid (or Trio records) from one format to another.
    Convert(ConvertArgs),
    /// Print the rows (or Trio records) that match a Haystack filter.
    Filter(FilterArgs),
    /// Check that a file parses; print FILE:LINE:COLUMN: message for the first error.
    Check(CheckArgs),
    /// Compare two files entity by entity (matched by `id`): added, removed, changed tags.
    Diff(DiffArgs),
    /// Reflect each entity to the defs it implements (standard def libraries, plus `--lib`).
    Reflect(ReflectArgs),
}

/// `haystack convert`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  haystack convert --to json site.zinc > site.json\n  \
    cat site.json | haystack convert --from json --to trio\n\n\
    Zinc input (and JSON input whose meta and cols come before its rows) streams row by row:\n\
    memory does not grow with the number of rows."
)]
pub struct ConvertArgs {
    /// Input format (default: from the file extension, else from the first bytes).
    #[arg(long, value_name = "FMT")]
    pub from: Option<String>,
    /// Output format: zinc, json, json3, trio or csv.
    #[arg(long, value_name = "FMT")]
    pub to: String,
    /// Input file; `-` or none reads standard input.
    #[arg(value_name = "FILE")]
    pub file: Option<String>,
}

/// `haystack filter`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  haystack filter 'point and his' site.zinc\n  \
    haystack filter 'equip and siteRef->geoCity == \"Chicago\"' site.zinc --to json\n\n\
    Paths (`a->b`) resolve against the ids of the same input. A Zinc or JSON file is then read\n\
    three times: the ids the paths can reach, then only those rows' tags read after `->`,\n\
    then the rows, streamed. Standard input is held in memory in that case."
)]
pub struct FilterArgs {
    /// The filter, e.g. `point and siteRef->dis == "HQ"`.
    #[arg(value_name = "FILTER")]
    pub filter: String,
    /// Input file; `-` or none reads standard input.
    #[arg(value_name = "FILE")]
    pub file: Option<String>,
    /// Input format (default: from the file extension, else from the first bytes).
    #[arg(long, value_name = "FMT")]
    pub from: Option<String>,
    /// Output format (default: the input format).
    #[arg(long, value_name = "FMT")]
    pub to: Option<String>,
}

/// `haystack check`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  haystack check export.zinc\n  \
    haystack check --from json3 < old.json\n\n\
    Prints FILE:LINE:COLUMN: message to standard error and exits 1 at the first error;\n\
    prints `FILE: ok (N rows)` and exits 0 otherwise. Zinc is checked row by row in\n\
    constant memory.")]
pub struct CheckArgs {
    /// Input file; `-` or none reads standard input.
    #[arg(value_name = "FILE")]
    pub file: Option<String>,
    /// Input format (default: from the file extension, else from the first bytes).
    #[arg(long, value_name = "FMT")]
    pub from: Option<String>,
}

/// `haystack diff`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  haystack diff before.zinc after.zinc\n\n\
    Output, one entity per block, old entities first (in the order of A), then new ones:\n  \
    - @id \"dis\"          an entity only in A\n  \
    + @id \"dis\"          an entity only in B\n  \
    ~ @id \"dis\"          an entity in both, then its changed tags:\n      \
    tag: OLD -> NEW   (values in Zinc)\n      \
    + tag: NEW\n      \
    - tag: OLD\n\
    Exit status: 0 when equal, 1 when different, 2 on error. Rows without an id are skipped.")]
pub struct DiffArgs {
    /// The old file (`-` for standard input).
    #[arg(value_name = "A")]
    pub a: String,
    /// The new file (`-` for standard input).
    #[arg(value_name = "B")]
    pub b: String,
    /// Format of both files (default: from each file's extension, else its first bytes).
    #[arg(long, value_name = "FMT")]
    pub from: Option<String>,
}

/// `haystack reflect`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  haystack reflect site.zinc\n  \
    haystack reflect --lib acme.trio --to json points.zinc\n\n\
    Output: a grid with one row per input row: id, dis, entityTypes (the most specific entity\n\
    types, e.g. [^ahu]) and defs (every def the row implements: its tags, conjuncts such as\n\
    ^hot-water, and all their supertypes). Zinc input streams row by row.")]
pub struct ReflectArgs {
    /// Input file; `-` or none reads standard input.
    #[arg(value_name = "FILE")]
    pub file: Option<String>,
    /// Input format (default: from the file extension, else from the first bytes).
    #[arg(long, value_name = "FMT")]
    pub from: Option<String>,
    /// Output format (default: zinc).
    #[arg(long, value_name = "FMT")]
    pub to: Option<String>,
    /// A def library as Trio (its lib meta record and its defs), added to the standard ones;
    /// may be repeated.
    #[arg(long, value_name = "TRIO")]
    pub lib: Vec<String>,
}
