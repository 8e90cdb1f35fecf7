//! Imports a Haystack file (Zinc, JSON or Trio, by extension) and the time series its entities'
//! `hisURI` tags name into a versioned store, writing a new version only when something changed.
//!
//! `cargo run -p examples --bin haystack-import -- site.zinc ./haystack-db`

use std::sync::Arc;

use clap::Parser;
use examples::haystack::db::{Db, ImportStep};
use indicatif::{ProgressBar, ProgressStyle};

/// Import a Haystack file and its time series into a versioned store.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// The Haystack file: a path, file://, http(s):// or s3:// URL (.zinc, .json or .trio).
    source: String,
    /// The store URL: ./dir, file:///dir or s3://bucket/prefix.
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
    let store = examples::store::open(&args.store).await?;
    let ts = match &args.ts {
        Some(url) => examples::store::open(url).await?,
        None => store.clone(),
    };
    let db = Db::new(store, ts);
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
            "new version: {} added, {} removed, {} changed entities; {} series updated, {} unchanged",
            report.added,
            report.removed,
            report.modified,
            report.series_updated.len(),
            report.series_unchanged
        );
    } else {
        println!("unchanged: the store already holds this content (no new version written)");
    }
    Ok(())
}
