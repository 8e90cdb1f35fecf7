//! Writes the sample site (`site.zinc` and `his/*.zinc`) into a directory.
//!
//! `cargo run -p examples --bin haystack-sample -- ./sample`; with `--campus 500`, writes
//! instead the generated 100,500-entity benchmark database as `campus.zinc` (no history).

use clap::Parser;

/// Generate the sample Haystack site with a day of history per point.
#[derive(Debug, Parser)]
struct Args {
    /// Directory to write into.
    dir: std::path::PathBuf,
    /// Write the large benchmark database of this many sites (a site, its 20 equips and their
    /// 180 points: 201 entities per site; see `examples::haystack::sample::campus`) as `campus.zinc` instead.
    #[arg(long, value_name = "SITES")]
    campus: Option<usize>,
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    if let Some(sites) = args.campus {
        let grid = examples::haystack::sample::campus(sites);
        let path = args.dir.join("campus.zinc");
        let written = std::fs::create_dir_all(&args.dir)
            .and_then(|()| std::fs::write(&path, haystack_zinc::to_string(&grid)));
        return match written {
            Ok(()) => {
                println!("wrote {} ({} entities)", path.display(), grid.len());
                std::process::ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("haystack-sample: {}: {e}", path.display());
                std::process::ExitCode::FAILURE
            }
        };
    }
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
