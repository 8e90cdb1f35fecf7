//! Four processes of the real `tscache` binary on SQS + S3 + DynamoDB (the emulator), each
//! scheduling the same identifiers (so every identifier is fetched and written by several
//! processes at once) and each with its own view of now (so the windows they write differ, and a
//! lost day object or marker write leaves a gap between history and forecast): afterwards every
//! point of every identifier is in the merged API exactly once, with its value, history and
//! forecast meeting without a gap.

#[path = "../../support/emulator.rs"]
mod emulator;

use std::sync::Arc;
use std::time::Duration;

use examples::tscache::api::{self, Series};
use examples::tscache::forecast::DynamoForecast;
use examples::tscache::history::S3Objects;
use examples::tscache::ids::{DynamoIdentifiers, IdentifierTable};
use examples::tscache::pipeline::Cache;
use examples::tscache::queue::WorkQueue;
use examples::tscache::source::{self, STEP};
use examples::tscache::sqs::SqsQueue;
use time::OffsetDateTime;

const PROCESSES: i64 = 4;
const IDS: usize = 12;
/// Process `k` sees now + `k * OFFSET` seconds.
const OFFSET: i64 = 2 * STEP;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_worker_processes_lose_and_duplicate_no_point() {
    let Some(config) =
        emulator::sdk_config("tscache four_worker_processes_lose_and_duplicate_no_point").await
    else {
        return;
    };
    let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap();
    let ddb = aws_sdk_dynamodb::Client::new(&config);
    let ids_table = emulator::unique_name("ids");
    let ids = DynamoIdentifiers::new(ddb.clone(), &ids_table);
    ids.create_table().await.unwrap();
    let forecast_table = emulator::unique_name("forecast");
    let forecast = DynamoForecast::new(ddb, &forecast_table);
    forecast.create_table().await.unwrap();
    let bucket = emulator::unique_name("history");
    let objects = S3Objects::new(&config, &bucket);
    objects.create_bucket().await.unwrap();
    let queue_name = emulator::unique_name("work");
    let names: Vec<String> = (0..IDS).map(|i| format!("shared-{i:02}")).collect();
    for id in &names {
        ids.add(id).await.unwrap();
    }

    let started = OffsetDateTime::now_utc().unix_timestamp();
    let mut children = Vec::new();
    for k in 0..PROCESSES {
        let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_tscache"))
            .args(["--aws", "--once", "--workers", "4", "--receive-wait", "1"])
            .args(["--visibility", "30", "--max-receives", "5"])
            .args([
                "--ids-table",
                &ids_table,
                "--forecast-table",
                &forecast_table,
            ])
            .args(["--bucket", &bucket, "--queue", &queue_name])
            .arg(format!("--clock-offset={}", k * OFFSET))
            .env("AWS_ENDPOINT_URL", &endpoint)
            .env("RUST_LOG", "warn")
            .kill_on_drop(true)
            .output();
        children.push(tokio::spawn(child));
    }
    let mut done = 0;
    for (k, child) in children.into_iter().enumerate() {
        let out = tokio::time::timeout(Duration::from_secs(240), child)
            .await
            .expect("a worker process finishes")
            .unwrap()
            .unwrap();
        assert!(
            out.status.success(),
            "process {k}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.contains("dead letters 0"), "process {k}: {stdout}");
        done += stdout
            .split("done ")
            .nth(1)
            .and_then(|rest| rest.split(',').next())
            .and_then(|n| n.parse::<usize>().ok())
            .unwrap_or_else(|| panic!("process {k}: no count in {stdout}"));
    }
    assert!(
        done >= IDS * PROCESSES as usize,
        "every message of every schedule fetched: {done}"
    );
    let ended = OffsetDateTime::now_utc().unix_timestamp();

    let sqs = SqsQueue::create(
        aws_sdk_sqs::Client::new(&config),
        &queue_name,
        5,
        Duration::from_secs(30),
    )
    .await
    .unwrap();
    assert!(sqs.is_empty().await.unwrap(), "every message deleted");
    assert!(sqs.dead_letters().await.unwrap().is_empty());

    // Read through the API, with the clock of the process that saw the latest now.
    let latest_view = ended + (PROCESSES - 1) * OFFSET;
    let clock: examples::tscache::Clock = Arc::new(move || {
        OffsetDateTime::from_unix_timestamp(latest_view).unwrap_or(OffsetDateTime::UNIX_EPOCH)
    });
    let ids: Arc<dyn IdentifierTable> = Arc::new(DynamoIdentifiers::new(
        aws_sdk_dynamodb::Client::new(&config),
        &ids_table,
    ));
    let cache = Arc::new(
        Cache::new(
            ids,
            Arc::new(objects),
            Arc::new(forecast),
            &forecast_table,
            "http://unused",
            clock,
        )
        .unwrap(),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let router = api::router(cache);
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });

    // Which process fetched an identifier decides the window written (its now): the series
    // starts no later than the latest view's first past point and ends no earlier than the
    // earliest view's last forecast point.
    let step_of = |t: i64| t.div_euclid(STEP) * STEP;
    let first_past =
        step_of(ended + (PROCESSES - 1) * OFFSET) - (source::POINTS_PER_SIDE - 1) * STEP;
    let last_forecast = step_of(started) + source::POINTS_PER_SIDE * STEP;
    let window_start = (step_of(started) - source::POINTS_PER_SIDE * STEP) * 1000;
    let window_end =
        (step_of(ended + (PROCESSES - 1) * OFFSET) + (source::POINTS_PER_SIDE + 1) * STEP) * 1000;
    for id in &names {
        let series: Series = reqwest::get(format!(
            "{url}/series/{id}?start={window_start}&end={window_end}"
        ))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
        let times: Vec<i64> = series.points.iter().map(|p| p.time / 1000).collect();
        assert!(
            times.windows(2).all(|w| w[1] - w[0] == STEP),
            "{id}: in order, each time once, no gap: {times:?}"
        );
        let first = *times.first().unwrap();
        let last = *times.last().unwrap();
        assert!(
            first <= first_past,
            "{id}: starts at {first}, after {first_past}"
        );
        assert!(
            last >= last_forecast,
            "{id}: ends at {last}, before {last_forecast}"
        );
        for p in &series.points {
            let t = p.time / 1000;
            let expected = source::series_at(id, t)
                .into_iter()
                .find(|a| a.time == t)
                .map(|a| a.value);
            assert_eq!(Some(p.value), expected, "{id} at {t}");
        }
        let history: Vec<i64> = series
            .points
            .iter()
            .filter(|p| p.source == "history")
            .map(|p| p.time / 1000)
            .collect();
        assert!(
            history.len() as i64 >= source::POINTS_PER_SIDE,
            "{id}: {} history points",
            history.len()
        );
        assert_eq!(
            series.points.len() - history.len(),
            series
                .points
                .iter()
                .filter(|p| p.source == "forecast")
                .count(),
            "{id}: history first, then forecast"
        );
        assert!(
            series.points[..history.len()]
                .iter()
                .all(|p| p.source == "history"),
            "{id}: history is a prefix"
        );
    }
}
