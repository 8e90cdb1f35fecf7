//! Zinc decode and encode throughput, this crate and `libhaystack` side by side on the same
//! bytes, in one run: libhaystack's own `points.zinc` (copied to `benches/data/`, see its
//! NOTICE) and a generated realistic grid. Prints MB/s and the ratios at the end.
//!
//! Run: `cargo bench -p haystack-zinc --bench zinc`. With `ZINC_BENCH_INPUT=FILE` that Zinc
//! file is measured too.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use haystack_core::Grid;
use libhaystack::encoding::zinc::{decode as lh_decode, encode as lh_encode};

const ROWS: usize = 5000;

/// libhaystack's `benches/zinc/points.zinc`.
const POINTS_ZINC: &str = include_str!("data/points.zinc");

/// Runs `f` repeatedly for about `time`, returns seconds per call.
fn time_per_call(time: Duration, mut f: impl FnMut()) -> f64 {
    f();
    let start = Instant::now();
    let mut n = 0u32;
    while start.elapsed() < time {
        f();
        n += 1;
    }
    start.elapsed().as_secs_f64() / f64::from(n)
}

struct Input {
    /// A short name for criterion ids.
    id: String,
    what: String,
    zinc: String,
    grid: Grid,
}

fn inputs() -> Vec<Input> {
    let mut out = Vec::new();
    let mut add = |id: &str, what: String, zinc: String| {
        let grid = haystack_zinc::from_str(&zinc).expect("the input is Zinc");
        out.push(Input {
            id: id.to_owned(),
            what,
            zinc,
            grid,
        });
    };
    add(
        "points",
        "libhaystack points.zinc".into(),
        POINTS_ZINC.to_owned(),
    );
    let mut grid = haystack_core::testing::realistic_grid(ROWS);
    // `ver` is Zinc syntax, not data: the reader does not put it in the meta.
    grid.meta_mut().remove("ver");
    let zinc = haystack_zinc::to_string(&grid);
    assert_eq!(haystack_zinc::from_str(&zinc).expect("reads back"), grid);
    add("realistic", format!("realistic grid, {ROWS} rows"), zinc);
    if let Ok(path) = std::env::var("ZINC_BENCH_INPUT") {
        let zinc = std::fs::read_to_string(&path).expect("ZINC_BENCH_INPUT is readable");
        add("input", path, zinc);
    }
    out
}

fn main() {
    let inputs = inputs();
    let mut c = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    let mut table = Vec::new();
    for input in &inputs {
        let (zinc, grid) = (&input.zinc, &input.grid);
        let bytes = zinc.len() as u64;
        let lh_value = lh_decode::from_str(zinc).expect("libhaystack reads the input");
        println!(
            "input {}: {}, {} rows, {} columns, {} tags, {:.2} MB of Zinc",
            input.id,
            input.what,
            grid.len(),
            grid.cols().len(),
            grid.tag_count(),
            bytes as f64 / 1e6
        );
        {
            let mut g = c.benchmark_group(format!("zinc_decode/{}", input.id));
            g.throughput(Throughput::Bytes(bytes));
            g.bench_function("haystack-zinc", |b| {
                b.iter(|| haystack_zinc::from_str(black_box(zinc)))
            });
            g.bench_function("haystack-zinc streaming", |b| {
                b.iter(|| {
                    let mut r =
                        haystack_zinc::GridReader::new(black_box(zinc.as_bytes())).expect("header");
                    let mut row = Vec::new();
                    while r.read_row(&mut row).expect("row") {}
                })
            });
            g.bench_function("libhaystack", |b| {
                b.iter(|| lh_decode::from_str(black_box(zinc)))
            });
            g.finish();
        }
        {
            let mut g = c.benchmark_group(format!("zinc_encode/{}", input.id));
            g.throughput(Throughput::Bytes(bytes));
            g.bench_function("haystack-zinc", |b| {
                b.iter(|| haystack_zinc::to_string(black_box(grid)))
            });
            g.bench_function("libhaystack", |b| {
                b.iter(|| lh_encode::to_zinc_string(black_box(&lh_value)))
            });
            g.finish();
        }
        if std::env::args().any(|a| a == "--profile-time" || a == "--list") {
            continue;
        }
        // The summary: measured the same way for both libraries.
        let t = Duration::from_secs(2);
        let ours_dec = time_per_call(t, || {
            black_box(haystack_zinc::from_str(black_box(zinc)).ok());
        });
        let lh_dec = time_per_call(t, || {
            black_box(lh_decode::from_str(black_box(zinc)).ok());
        });
        let ours_enc = time_per_call(t, || {
            black_box(haystack_zinc::to_string(black_box(grid)));
        });
        let lh_enc = time_per_call(t, || {
            black_box(lh_encode::to_zinc_string(black_box(&lh_value)).ok());
        });
        table.push((input, bytes, ours_dec, lh_dec, ours_enc, lh_enc));
    }
    c.final_summary();

    println!("\n| Zinc input | | haystack-zinc MB/s | libhaystack MB/s | ratio | target |");
    println!("|---|---|---|---|---|---|");
    for (input, bytes, ours_dec, lh_dec, ours_enc, lh_enc) in table {
        let mbps = |secs: f64| bytes as f64 / 1e6 / secs;
        for (what, ours, theirs, target) in [
            ("decode", ours_dec, lh_dec, 8.0),
            ("encode", ours_enc, lh_enc, 10.0),
        ] {
            let ratio = theirs / ours;
            println!(
                "| {} ({:.2} MB) | {what} | {:.0} | {:.0} | {ratio:.1}x | {target:.0}x {} |",
                input.id,
                bytes as f64 / 1e6,
                mbps(ours),
                mbps(theirs),
                if ratio >= target { "ok" } else { "BELOW" }
            );
        }
    }
}
