//! Writes the sample site (`site.zinc` and `his/*.zinc`) into a directory.
//!
//! `cargo run -p examples --bin haystack-sample -- ./sample`

use clap::Parser;

/// Generate the sample Haystack site with a day of history per point.
#[derive(Debug, Parser)]
struct Args {
    /// Directory to write into.
    dir: std::path::PathBuf,
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let sample = examples::haystack::sample::generate(time::OffsetDateTime::now_utc());
    match examples::haystack::sample::write_to(&args.dir, &sample) {
        Ok(path) => {
            println!(
                "wrote {} ({} entities, {} series)",
                path.display(),
                sample.entities.len(),
                sample.series.len()
            );
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("haystack-sample: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
