//! Imports a Haystack file (Zinc, JSON or Trio, by extension) and the time series its entities'
//! `hisURI` tags name into a versioned store, writing a new version only when something changed.
//!
//! `cargo run -p examples --bin haystack-import -- carytown.zinc s3://bucket` publishes the
//! dataset `carytown.zinc` (the file's own name) in the bucket; `.../other.zinc` as the store URL
//! names the dataset explicitly. Serve it with `HAYSTACK_DB=s3://bucket/carytown.zinc`.

use std::sync::Arc;

use clap::Parser;
use examples::haystack::db::ImportStep;
use indicatif::{ProgressBar, ProgressStyle};

/// Import a Haystack file and its time series into a versioned store.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// The Haystack file: a path, file://, http(s):// or s3:// URL (.zinc, .json or .trio).
    source: String,
    /// The store URL: ./dir, file:///dir or s3://bucket[/prefix], optionally ending with the
    /// dataset's name (default: the source's file name).
    store: String,
    /// A separate store for the time series (defaults to the entity store).
    #[arg(long, env = "HAYSTACK_TS")]
    ts: Option<String>,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = Args::parse();
    match run(args).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("haystack-import: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let db =
        examples::haystack::dataset::open_for_import(&args.source, &args.store, args.ts.as_deref())
            .await?;
    let bar = Arc::new(ProgressBar::new(0));
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{bar:30}] {pos}/{len} series {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let b = bar.clone();
    let report = db
        .import(&args.source, &move |step| match step {
            ImportStep::Read { entities, series } => {
                b.set_length(series as u64);
                b.set_message(format!("({entities} entities)"));
            }
            ImportStep::Series(_) => b.inc(1),
        })
        .await;
    bar.finish_and_clear();
    let report = report?;
    if report.changed {
        println!(
            "{}: new version: {} added, {} removed, {} changed entities; {} series updated, {} unchanged",
            db.name(),
            report.added,
            report.removed,
            report.modified,
            report.series_updated.len(),
            report.series_unchanged
        );
    } else {
        println!(
            "{}: unchanged: the store already holds this content (no new version written)",
            db.name()
        );
    }
    println!("{}: {}", db.name(), report.source_summary());
    Ok(())
}
