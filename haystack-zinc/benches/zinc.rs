//! Zinc decode and encode throughput on a generated realistic grid, this crate and
//! `libhaystack` side by side on the same bytes. Prints MB/s and the ratios at the end.
//!
//! Run: `cargo bench -p haystack-zinc`. With `ZINC_BENCH_INPUT=FILE` the input is that Zinc
//! file instead (e.g. libhaystack's own `benches/zinc/points.zinc`).

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use libhaystack::encoding::zinc::{decode as lh_decode, encode as lh_encode};

const ROWS: usize = 5000;

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

fn main() {
    let (grid, zinc, name) = match std::env::var("ZINC_BENCH_INPUT") {
        Ok(path) => {
            let zinc = std::fs::read_to_string(&path).expect("ZINC_BENCH_INPUT is readable");
            let grid = haystack_zinc::from_str(&zinc).expect("ZINC_BENCH_INPUT is Zinc");
            (grid, zinc, path)
        }
        Err(_) => {
            let mut grid = haystack_core::testing::realistic_grid(ROWS);
            // `ver` is Zinc syntax, not data: the reader does not put it in the meta.
            grid.meta_mut().remove("ver");
            let zinc = haystack_zinc::to_string(&grid);
            assert_eq!(haystack_zinc::from_str(&zinc).expect("reads back"), grid);
            (grid, zinc, format!("realistic grid, {ROWS} rows"))
        }
    };
    let bytes = zinc.len() as u64;
    let lh_value = lh_decode::from_str(&zinc).expect("libhaystack reads the input");
    println!(
        "input: {name}, {} rows, {} columns, {} tags, {:.2} MB of Zinc",
        grid.len(),
        grid.cols().len(),
        grid.tag_count(),
        bytes as f64 / 1e6
    );

    let mut c = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    {
        let mut g = c.benchmark_group("zinc_decode");
        g.throughput(Throughput::Bytes(bytes));
        g.bench_function("haystack-zinc", |b| {
            b.iter(|| haystack_zinc::from_str(black_box(&zinc)))
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
            b.iter(|| lh_decode::from_str(black_box(&zinc)))
        });
        g.finish();
    }
    {
        let mut g = c.benchmark_group("zinc_encode");
        g.throughput(Throughput::Bytes(bytes));
        g.bench_function("haystack-zinc", |b| {
            b.iter(|| haystack_zinc::to_string(black_box(&grid)))
        });
        g.bench_function("libhaystack", |b| {
            b.iter(|| lh_encode::to_zinc_string(black_box(&lh_value)))
        });
        g.finish();
    }
    c.final_summary();

    // One summary table with ratios, measured the same way for both libraries.
    let t = Duration::from_secs(2);
    let mbps = |secs: f64| bytes as f64 / 1e6 / secs;
    let ours_dec = time_per_call(t, || {
        black_box(haystack_zinc::from_str(black_box(&zinc)).ok());
    });
    let lh_dec = time_per_call(t, || {
        black_box(lh_decode::from_str(black_box(&zinc)).ok());
    });
    let ours_enc = time_per_call(t, || {
        black_box(haystack_zinc::to_string(black_box(&grid)));
    });
    let lh_enc = time_per_call(t, || {
        black_box(lh_encode::to_zinc_string(black_box(&lh_value)).ok());
    });
    println!(
        "\n| Zinc ({:.2} MB) | haystack-zinc MB/s | libhaystack MB/s | ratio |",
        bytes as f64 / 1e6
    );
    println!("|---|---|---|---|");
    println!(
        "| decode | {:.0} | {:.0} | {:.1}x |",
        mbps(ours_dec),
        mbps(lh_dec),
        lh_dec / ours_dec
    );
    println!(
        "| encode | {:.0} | {:.0} | {:.1}x |",
        mbps(ours_enc),
        mbps(lh_enc),
        lh_enc / ours_enc
    );
}
