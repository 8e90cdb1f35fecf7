//! Defs and namespaces, side by side with libhaystack in one run: building the namespace of
//! the standard libraries, its memory, and reflection of libhaystack's `points.zinc` records.
//!
//! `cargo bench -p haystack-core --bench defs` runs the criterion benchmarks, then prints a
//! summary with records per second and the ratios. The two builds do different work: ours
//! compiles the declared Trio records (resolve, taxonify, defx, normalize, validate, inherit);
//! libhaystack indexes its already normalized `defs.zinc` (714 defs of the 3.9.15 libraries).

#[path = "../tests/common/libhaystack_data.rs"]
mod libhaystack_data;

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion, Throughput};
use haystack_core::defs::Namespace;
use libhaystack::defs::namespace::Namespace as LhNamespace;

/// The resident memory of this process, in bytes (Linux `/proc/self/statm`; 0 elsewhere).
fn rss() -> usize {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<usize>().ok())
        .map_or(0, |pages| pages * 4096)
}

/// The memory one value of `make` keeps: the growth of the resident set while `N` of them are
/// alive, divided by `N` (no allocator hooks: the workspace forbids `unsafe`).
fn memory_per<T>(make: impl Fn() -> T) -> f64 {
    const N: usize = 40;
    let before = rss();
    let kept: Vec<T> = (0..N).map(|_| make()).collect();
    let grown = rss().saturating_sub(before);
    drop(black_box(kept));
    grown as f64 / N as f64
}

fn per_second(n: usize, f: impl Fn()) -> f64 {
    let start = Instant::now();
    let mut rounds = 0;
    while start.elapsed() < Duration::from_millis(500) {
        f();
        rounds += 1;
    }
    (n * rounds) as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    let lh_grid = libhaystack_data::defs_grid();
    let (lh_points, points) = libhaystack_data::points();
    let ns = Namespace::builder().build().expect("standard libs");
    let lh = LhNamespace::make(lh_grid.clone());

    let mut c = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args();

    let mut g = c.benchmark_group("namespace_build");
    g.bench_function("haystack-core (from declared Trio)", |b| {
        b.iter(|| Namespace::builder().build())
    });
    g.bench_function("libhaystack (from normalized defs.zinc)", |b| {
        b.iter_batched(|| lh_grid.clone(), LhNamespace::make, BatchSize::LargeInput)
    });
    g.finish();

    let mut g = c.benchmark_group("reflect_points");
    g.throughput(Throughput::Elements(points.len() as u64));
    g.bench_function("haystack-core", |b| {
        b.iter(|| {
            points
                .iter()
                .map(|p| ns.reflect(black_box(p)).len())
                .sum::<usize>()
        })
    });
    g.bench_function("libhaystack", |b| {
        b.iter(|| {
            lh_points
                .iter()
                .map(|p| lh.reflect(black_box(p)).defs.len())
                .sum::<usize>()
        })
    });
    g.finish();
    c.final_summary();

    // The summary: the same work timed again, side by side.
    let time = |f: &dyn Fn()| {
        let start = Instant::now();
        for _ in 0..20 {
            f();
        }
        start.elapsed().as_secs_f64() / 20.0 * 1e3
    };
    let ours_ms = time(&|| {
        black_box(Namespace::builder().build().ok());
    });
    let lh_ms = time(&|| {
        black_box(LhNamespace::make(lh_grid.clone()));
    });
    let ours_bytes = memory_per(|| Namespace::builder().build().ok());
    let lh_bytes = memory_per(|| LhNamespace::make(lh_grid.clone()));
    let (ns2, lh2) = (&ns, &lh);
    let ours_rps = per_second(points.len(), || {
        for p in &points {
            black_box(ns2.reflect(p).len());
        }
    });
    let lh_rps = per_second(lh_points.len(), || {
        for p in &lh_points {
            black_box(lh2.reflect(p).defs.len());
        }
    });
    println!();
    println!(
        "defs: {} defs here, {} in libhaystack's defs.zinc",
        ns2.len(),
        lh2.defs.len()
    );
    println!(
        "  namespace build: haystack-core {ours_ms:.2} ms (full normalization), libhaystack \
         {lh_ms:.2} ms (indexing pre-normalized defs, grid clone included)"
    );
    println!(
        "  namespace memory: haystack-core {:.2} MiB, libhaystack {:.2} MiB (resident set growth \
         per namespace kept alive, def dicts included)",
        ours_bytes / 1048576.0,
        lh_bytes / 1048576.0
    );
    println!(
        "  reflect {} points: haystack-core {:.0} records/s, libhaystack {:.0} records/s, \
         ratio {:.1}x",
        points.len(),
        ours_rps,
        lh_rps,
        ours_rps / lh_rps
    );
}
