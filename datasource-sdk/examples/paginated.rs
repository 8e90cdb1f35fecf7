//! A paginated connector run through the Runner into the JSON-lines file sink.
//!
//! ```text
//! cargo run -p datasource-sdk --example paginated [OUT_DIR] [TOTAL]
//! ```
//!
//! The source pages through an (in-process, simulated) API of `TOTAL` records, 250 per page,
//! reporting progress and its state (`next_page`) after each page. Records land under
//! `OUT_DIR/records/<table>/part-*.jsonl`; state under `OUT_DIR/state/`. Run it twice: the
//! second run resumes from the stored state and finds nothing left to read.

use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;
use datasource_sdk::{
    Config, Context, DataSource, Error, FileStateStore, JsonLinesSink, Map, Param, ParamType,
    Record, Result, Runner, SourceEvent, Writer,
};
use serde_json::{Value, json};

/// What the connector asks for (a UI or CLI is generated from this JSON).
fn config() -> Config {
    Config::new("Paginated demo API")
        .param(
            Param::new("api_key")
                .title("API key")
                .placeholder("Example: k-1234")
                .kind(ParamType::Password)
                .required(),
        )
        .param(
            Param::new("destination")
                .title("Table")
                .help("Where the records go (default: the source type)"),
        )
}

/// One page of the simulated API: records `[page*size, min((page+1)*size, total))`.
fn fetch_page(page: u64, size: u64, total: u64) -> Result<(Vec<Record>, Option<u64>)> {
    let start = page * size;
    if start > total {
        return Err(Error::fatal(format!("page {page} does not exist")));
    }
    let end = (start + size).min(total);
    let records = (start..end)
        .map(|id| {
            let mut r = Map::new();
            r.insert("id".into(), json!(id));
            r.insert("name".into(), json!(format!("item {id}")));
            r.insert("price_cents".into(), json!(id * 7 % 1000));
            r
        })
        .collect();
    let next = (end < total).then_some(page + 1);
    Ok((records, next))
}

/// A source reading the API page by page, resumable from `next_page` in its state.
#[derive(Debug)]
struct PaginatedSource {
    total: u64,
    page_size: u64,
    next_page: Option<Option<u64>>,
}

#[async_trait]
impl DataSource for PaginatedSource {
    async fn read(&mut self, _n: usize, ctx: &Context) -> Result<Option<Vec<Record>>> {
        let page = match self.next_page {
            Some(Some(page)) => page,
            Some(None) => return Ok(None),
            // First read: resume from the committed state, if any.
            None => match ctx.resume_state().get("next_page") {
                Some(Value::Null) => return Ok(None),
                Some(v) => v.as_u64().unwrap_or(0),
                None => 0,
            },
        };
        if ctx.param_str("api_key").is_none() {
            return Err(Error::Unauthorized("no api_key".into()));
        }
        tokio::time::sleep(Duration::from_millis(20)).await; // the API's latency
        let (records, next) = fetch_page(page, self.page_size, self.total)?;
        self.next_page = Some(next);
        let loaded = (page * self.page_size + records.len() as u64).min(self.total);
        ctx.state(format!("page-{page}"), {
            let mut s = Map::new();
            s.insert("next_page".into(), json!(next));
            s
        });
        ctx.progress(
            loaded,
            Some(self.total),
            format!("page {page}: {loaded}/{} records", self.total),
        );
        ctx.log(format_args!("read page {page} ({} records)", records.len()));
        Ok(Some(records))
    }

    async fn close(&mut self, ctx: &Context) -> Result<()> {
        ctx.log("closed");
        Ok(())
    }
}

fn bar(loaded: u64, total: Option<u64>) -> String {
    let total = total.unwrap_or(loaded).max(1);
    let filled = (loaded.min(total) * 30 / total) as usize;
    format!(
        "[{}{}] {loaded}/{total}",
        "#".repeat(filled),
        " ".repeat(30 - filled)
    )
}

#[tokio::main]
async fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let out = args
        .next()
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("datasource-sdk-paginated"));
    let total: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(5_000);
    println!("{}", config().to_json()?);

    let sink = JsonLinesSink::new(out.join("records"), 256 * 1024)?;
    let writer = Writer::builder(sink).build()?;
    let store = FileStateStore::new(out.join("state"))?;
    let runner = Runner::new(writer.clone(), store, "paginated-demo");

    let params: Map = serde_json::from_value(json!({
        "type": "demo", "destination": "items", "api_key": "k-1234"
    }))?;
    config().validate(&params)?;
    let ctx = runner.open(params, Map::new()).await?;

    // Progress bar from the context's events.
    let mut events = ctx.subscribe();
    let progress = tokio::spawn(async move {
        loop {
            match events.recv().await {
                Ok(SourceEvent::Progress { loaded, total, .. }) => {
                    eprint!("\r{}", bar(loaded, total));
                }
                Ok(SourceEvent::Checkpoint { records, .. }) => {
                    eprint!("  (checkpoint: {records} records durable)");
                }
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
            }
        }
    });

    let mut source = PaginatedSource {
        total,
        page_size: 250,
        next_page: None,
    };
    let run = runner.run(&mut source, &ctx).await;
    let report = writer
        .close(tokio::time::Instant::now() + Duration::from_secs(30))
        .await?;
    drop(ctx);
    progress.abort();
    eprintln!();
    let run = run?;
    println!(
        "read {} records in {} reads (resumed: {}), {} checkpoints; state {}",
        run.records,
        run.reads,
        run.resumed,
        run.checkpoints,
        Value::Object(run.state)
    );
    println!(
        "writer: {} delivered, all delivered: {}; files under {}",
        report.total().delivered,
        report.all_delivered(),
        out.join("records").display()
    );
    Ok(())
}
