//! Runs the orders connector: serves the sample orders API on loopback (unless `--url` names one),
//! pumps it through the `datasource-sdk` Runner into JSON-lines files with a progress bar.
//! Run it twice: the second run resumes from the stored state and finds nothing new.
//!
//! `cargo run -p examples --bin connector -- --out ./orders-out`

use clap::Parser;

/// Pump the orders API into JSON-lines files, resumably.
#[derive(Debug, Parser)]
struct Args {
    /// Output directory (records/ and state/).
    #[arg(long, default_value = "./orders-out")]
    out: std::path::PathBuf,
    /// An orders API to read; by default a local one with `--total` orders is started.
    #[arg(long)]
    url: Option<String>,
    /// Orders in the local API.
    #[arg(long, default_value_t = 2_500)]
    total: u64,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let url = match args.url {
        Some(u) => u,
        None => {
            let listener = match tokio::net::TcpListener::bind("127.0.0.1:0").await {
                Ok(l) => l,
                Err(e) => {
                    eprintln!("connector: {e}");
                    return std::process::ExitCode::FAILURE;
                }
            };
            let url = format!(
                "http://{}",
                listener
                    .local_addr()
                    .map(|a| a.to_string())
                    .unwrap_or_default()
            );
            let api = examples::connector::orders_api(args.total);
            tokio::spawn(async move { axum::serve(listener, api).await });
            url
        }
    };
    match examples::connector::run(&url, &args.out, true).await {
        Ok(report) => {
            println!(
                "{} records in {} reads (resumed: {}), {} checkpoints; files under {}",
                report.records,
                report.reads,
                report.resumed,
                report.checkpoints,
                args.out.join("records").display()
            );
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("connector: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
