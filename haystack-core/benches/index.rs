//! The grid index ([`haystack_core::index`]): how long it takes to build over a realistic grid
//! of 100,000 entities, how much heap it holds next to the grid's own, and filters answered
//! through it against the compiled scan, side by side in one run.
//!
//! `cargo bench -p haystack-core --bench index -- --warm-up-time 1 --measurement-time 3`
//! (the grid size is `HAYSTACK_BENCH_ROWS`, default 100000). Before the criterion runs it
//! prints the heap of the grid and of its index (counted by dhat) and the index's share.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use haystack_core::Grid;
use haystack_core::filter::{Filter, GridIndex};
use haystack_core::index::Index;
use haystack_core::testing::realistic_grid;

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

/// Filters of the shapes the planner narrows (and one it cannot), on the realistic grid.
const FILTERS: &[(&str, &str)] = &[
    ("tag-and-str", "site and geoCity == \"Chicago\""),
    ("path", "equip and siteRef->geoCity == \"Chicago\""),
    ("range", "point and curVal > 89.5°F"),
    ("ref", "point and siteRef == @s.0042"),
    ("or", "ahu or meter"),
    ("missing", "not point"),
];

fn rows() -> usize {
    std::env::var("HAYSTACK_BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000)
}

/// Live heap bytes now (dhat's count; only while a profiler runs).
fn live() -> usize {
    dhat::HeapStats::get().curr_bytes
}

/// The grid, and the heap bytes of the grid and of its index.
fn measure_heap(n: usize) -> (Grid, usize, usize) {
    let _profiler = dhat::Profiler::builder().testing().build();
    let start = live();
    let grid = realistic_grid(n);
    let grid_bytes = live() - start;
    let index = Index::new(&grid);
    let index_bytes = live() - start - grid_bytes;
    drop(index);
    (grid, grid_bytes, index_bytes)
}

fn main() {
    let n = rows();
    let (grid, grid_bytes, index_bytes) = measure_heap(n);
    let started = Instant::now();
    let index = Index::new(&grid);
    let build = started.elapsed();
    let mb = |b: usize| b as f64 / 1e6;
    println!(
        "{n} entities: grid heap {:.1} MB, index heap {:.1} MB ({:.1}% of the grid's; \
         own count {:.1} MB); one build {build:.1?}",
        mb(grid_bytes),
        mb(index_bytes),
        100.0 * index_bytes as f64 / grid_bytes.max(1) as f64,
        mb(index.heap_bytes()),
    );
    let ids = GridIndex::new(&grid);
    let db = index.on(&grid);
    for (name, text) in FILTERS {
        let f: Filter = text.parse().unwrap_or_else(|e| panic!("{text}: {e}"));
        let scan = f.select(&grid, &ids);
        let hits = db.select(&f, usize::MAX);
        assert_eq!(
            hits, scan,
            "{name}: the indexed selection must be the scan's"
        );
        println!("{name:12} {:6} rows  plan {:?}", hits.len(), db.plan(&f));
    }

    let mut c = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    {
        let mut g = c.benchmark_group("index");
        g.throughput(Throughput::Elements(n as u64));
        g.sample_size(10);
        g.bench_function("build", |b| b.iter(|| black_box(Index::new(&grid))));
        g.finish();
    }
    let mut g = c.benchmark_group("select");
    g.throughput(Throughput::Elements(n as u64));
    for (name, text) in FILTERS {
        let f: Filter = text.parse().unwrap_or_else(|e| panic!("{text}: {e}"));
        g.bench_function(format!("{name}/indexed"), |b| {
            b.iter(|| black_box(db.select(&f, usize::MAX)))
        });
        g.bench_function(format!("{name}/scan"), |b| {
            b.iter(|| black_box(f.select(&grid, &ids)))
        });
    }
    // As the server reads: bound to the standard namespace (`equip` matches `{ahu}`).
    let ns = haystack_core::defs::Namespace::standard();
    for (name, text) in FILTERS.iter().take(4) {
        let f: Filter = text.parse().unwrap_or_else(|e| panic!("{text}: {e}"));
        g.bench_function(format!("{name}/ns-indexed"), |b| {
            b.iter(|| black_box(db.select_in(&f, ns, usize::MAX)))
        });
        g.bench_function(format!("{name}/ns-scan"), |b| {
            b.iter(|| {
                let bound = f
                    .in_namespace(ns)
                    .map(|bound| bound.select(&grid, &ids).count());
                black_box(bound)
            })
        });
    }
    g.finish();
    c.final_summary();
}
