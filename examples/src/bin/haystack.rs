//! The `haystack` command-line tool: convert, filter, check and diff Haystack files.
//!
//! ```text
//! cargo run -p examples --bin haystack -- convert --to json site.zinc
//! cargo run -p examples --bin haystack -- filter 'point and siteRef->dis == "HQ"' site.zinc
//! cargo run -p examples --bin haystack -- check export.zinc
//! cargo run -p examples --bin haystack -- diff before.zinc after.zinc
//! ```
//!
//! See [`examples::cli`] for the exit statuses and streaming behaviour.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = examples::cli::Cli::parse();
    let code = examples::cli::run(cli);
    std::process::ExitCode::from(u8::try_from(code).unwrap_or(2))
}
