//! Hayson (JSON v4) decode and encode, and filter evaluation over a grid: this crate and
//! `libhaystack` side by side on the same bytes, in one run, on two inputs: libhaystack's own
//! `points.json` (copied to `benches/data/`, see its NOTICE) and a generated realistic grid.
//!
//! `cargo bench -p haystack-core --bench json_filter` runs the criterion benchmarks, then
//! prints a summary table with throughput and the ratio to libhaystack. The realistic grid's
//! size is `HAYSTACK_BENCH_ROWS` (default 5000).

use std::collections::HashMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use haystack_core::filter::{Filter, GridIndex};
use haystack_core::testing::realistic_grid;
use haystack_core::{Grid, Value, json};
use libhaystack::defs::namespace::DEFAULT_NS;
use libhaystack::filter::eval::{Eval, EvalContext};
use libhaystack::filter::path::Path as LhPath;
use libhaystack::filter::{Filter as LhFilter, PathResolver};
use libhaystack::val::{Dict as LhDict, Ref as LhRef, Value as LhValue};

/// The filters measured: has/missing, comparisons with units, `->` paths, and/or.
/// libhaystack's `benches/json/points.json`.
const POINTS_JSON: &str = include_str!("data/points.json");

const FILTERS: &[(&str, &str)] = &[
    ("has", "point and his"),
    ("missing", "point and not writable and not disabled"),
    ("units", "curVal > 70°F"),
    (
        "units-range",
        "curVal >= 50°F and curVal < 60°F or curVal > 1000kW",
    ),
    (
        "str-or",
        "curStatus == \"fault\" or curStatus == \"down\" or navName == \"OA-T\"",
    ),
    ("path", "siteRef->geoCity == \"Chicago\""),
    (
        "path2",
        "point and equipRef->ahu and equipRef->siteRef->area > 100000ft²",
    ),
];

/// A libhaystack resolver over the grid's rows by id (no cloning of the root dict).
struct LhIndex {
    by_id: HashMap<String, LhDict>,
}

impl LhIndex {
    fn new(rows: &[LhDict]) -> Self {
        let mut by_id = HashMap::new();
        for d in rows {
            if let Some(LhValue::Ref(r)) = d.get("id") {
                by_id.insert(r.value().to_owned(), d.clone());
            }
        }
        LhIndex { by_id }
    }
}

impl PathResolver for LhIndex {
    fn resolve_for(&self, root: &LhDict, path: &LhPath) -> LhValue {
        let mut segs = path.iter();
        let Some(first) = segs.next() else {
            return LhValue::Null;
        };
        let Some(mut cur) = root.get(&first.to_string()) else {
            return LhValue::Null;
        };
        for seg in segs {
            let dict = match cur {
                LhValue::Ref(r) => match self.by_id.get(r.value()) {
                    Some(d) => d,
                    None => return LhValue::Null,
                },
                LhValue::Dict(d) => d,
                _ => return LhValue::Null,
            };
            match dict.get(&seg.to_string()) {
                Some(v) => cur = v,
                None => return LhValue::Null,
            }
        }
        cur.clone()
    }

    fn resolve(&self, _path: &LhPath) -> LhValue {
        LhValue::Null
    }

    fn resolve_ref(&self, reference: &LhRef) -> Option<LhDict> {
        self.by_id.get(reference.value()).cloned()
    }
}

fn lh_rows(v: &LhValue) -> &[LhDict] {
    match v {
        LhValue::Grid(g) => &g.rows,
        _ => &[],
    }
}

/// libhaystack's matching rows (references to its dicts), in order.
fn lh_select<'a>(rows: &'a [LhDict], f: &LhFilter, index: &LhIndex) -> Vec<&'a LhDict> {
    rows.iter()
        .filter(|d| f.eval(&EvalContext::make(d, &DEFAULT_NS, index)))
        .collect()
}

/// Our matching rows (their positions), in order: the filter bound to the grid's columns
/// and evaluated, every call.
fn our_select(grid: &Grid, f: &Filter, index: &GridIndex<'_>) -> Vec<usize> {
    f.select(grid, index)
}

/// Median seconds per call of `ours` and of `theirs`: each timed in turn in blocks (the first
/// call of a block only warms up), four blocks each, so both see the same changes of machine
/// load while each runs with its own data in cache, as criterion measures.
fn measure_pair(budget: Duration, mut ours: impl FnMut(), mut theirs: impl FnMut()) -> (f64, f64) {
    fn block(budget: Duration, f: &mut dyn FnMut(), out: &mut Vec<f64>) {
        f();
        let start = Instant::now();
        let mut n = 0;
        while n < 3 || (start.elapsed() < budget && n < 5_000) {
            let t = Instant::now();
            f();
            out.push(t.elapsed().as_secs_f64());
            n += 1;
        }
    }
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for _ in 0..4 {
        block(budget / 8, &mut ours, &mut a);
        block(budget / 8, &mut theirs, &mut b);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    (median(&mut a), median(&mut b))
}

struct Line {
    what: String,
    ours: f64,
    theirs: f64,
    unit: &'static str,
    amount: f64,
    target: f64,
}

/// Benchmarks one input (Hayson bytes of a grid) and returns its summary lines.
fn run(c: &mut Criterion, id: &str, bytes: &str) -> (String, Vec<Line>) {
    // Both libraries work on values decoded from the same bytes (same memory layout story).
    let value = json::from_str(bytes).expect("we decode the input");
    let grid = value.as_grid().expect("a grid").clone();
    let rows = grid.len();
    let lh_value: LhValue = serde_json::from_str(bytes).expect("libhaystack decodes the input");
    let lh_bytes = serde_json::to_string(&lh_value).expect("libhaystack encodes");
    // libhaystack writes a datetime of timezone `GMT` as `UTC`: compare the rows' tag names.
    let back = json::from_str(&lh_bytes).expect("we decode libhaystack's Hayson");
    let names = |g: &Grid| -> Vec<Vec<String>> {
        g.rows()
            .map(|r| r.iter().map(|(n, _)| n.to_owned()).collect())
            .collect()
    };
    assert_eq!(names(back.as_grid().expect("a grid")), names(&grid));
    let v3 = json::to_string_v3(&value);
    let index = GridIndex::new(&grid);
    let lh_index = LhIndex::new(lh_rows(&lh_value));
    let filters: Vec<(&str, Filter, LhFilter)> = FILTERS
        .iter()
        .map(|(name, text)| {
            (
                *name,
                Filter::parse(text).expect("filter"),
                LhFilter::try_from(*text).expect("lh filter"),
            )
        })
        .collect();

    let mut g = c.benchmark_group(format!("hayson_decode/{id}"));
    g.throughput(Throughput::Bytes(bytes.len() as u64));
    g.bench_function("haystack-core", |b| {
        b.iter(|| json::from_str(black_box(bytes)))
    });
    g.bench_function("libhaystack", |b| {
        b.iter(|| serde_json::from_str::<LhValue>(black_box(bytes)))
    });
    // The floor: serde_json parsing the same bytes into nothing.
    g.bench_function("serde_json-ignored", |b| {
        b.iter(|| serde_json::from_str::<serde::de::IgnoredAny>(black_box(bytes)))
    });
    g.bench_function("serde_json-value", |b| {
        b.iter(|| serde_json::from_str::<serde_json::Value>(black_box(bytes)))
    });
    g.finish();

    let mut g = c.benchmark_group(format!("hayson_encode/{id}"));
    g.throughput(Throughput::Bytes(bytes.len() as u64));
    g.bench_function("haystack-core", |b| {
        b.iter(|| json::to_string(black_box(&value)))
    });
    g.bench_function("libhaystack", |b| {
        b.iter(|| serde_json::to_string(black_box(&lh_value)))
    });
    g.finish();

    let mut g = c.benchmark_group(format!("json_v3/{id}"));
    g.throughput(Throughput::Bytes(v3.len() as u64));
    g.bench_function("decode", |b| b.iter(|| json::from_str_v3(black_box(&v3))));
    g.bench_function("encode", |b| {
        b.iter(|| json::to_string_v3(black_box(&value)))
    });
    g.finish();

    let mut g = c.benchmark_group(format!("filter/{id}"));
    g.throughput(Throughput::Elements(rows as u64));
    for (name, ours, theirs) in &filters {
        g.bench_function(format!("{name}/haystack-core"), |b| {
            b.iter(|| our_select(black_box(&grid), ours, &index))
        });
        g.bench_function(format!("{name}/libhaystack"), |b| {
            b.iter(|| lh_select(black_box(lh_rows(&lh_value)), theirs, &lh_index))
        });
    }
    g.finish();
    let title = format!(
        "{id}: {rows} rows, {} columns, {} tags, Hayson {:.2} MB",
        grid.cols().len(),
        grid.tag_count(),
        bytes.len() as f64 / 1e6
    );
    if std::env::args().any(|a| a == "--profile-time" || a == "--list") {
        return (title, Vec::new());
    }

    // The summary: the same work timed again, side by side.
    let budget = Duration::from_millis(2400);
    let mb = bytes.len() as f64 / 1e6;
    let (ours, theirs) = measure_pair(
        budget,
        || drop(black_box(json::from_str(bytes))),
        || drop(black_box(serde_json::from_str::<LhValue>(bytes))),
    );
    let mut lines = vec![Line {
        what: "Hayson decode".into(),
        ours,
        theirs,
        unit: "MB/s",
        amount: mb,
        target: 3.0,
    }];
    let (ours, theirs) = measure_pair(
        budget,
        || drop(black_box(json::to_string(&value))),
        || drop(black_box(serde_json::to_string(&lh_value))),
    );
    lines.push(Line {
        what: "Hayson encode".into(),
        ours,
        theirs,
        unit: "MB/s",
        amount: mb,
        target: 2.0,
    });
    for (name, ours, theirs) in &filters {
        let a = our_select(&grid, ours, &index).len();
        let b = lh_select(lh_rows(&lh_value), theirs, &lh_index).len();
        let what = if a == b {
            format!("filter {name} ({a} hits)")
        } else {
            format!("filter {name} ({a} vs {b} hits)")
        };
        let (ours, theirs) = measure_pair(
            budget,
            || {
                black_box(our_select(&grid, ours, &index));
            },
            || {
                black_box(lh_select(lh_rows(&lh_value), theirs, &lh_index));
            },
        );
        lines.push(Line {
            what,
            ours,
            theirs,
            unit: "Mrows/s",
            amount: rows as f64 / 1e6,
            target: 50.0,
        });
    }
    (title, lines)
}

fn main() {
    let rows: usize = std::env::var("HAYSTACK_BENCH_ROWS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5000);
    let realistic = json::to_string(&Value::Grid(Box::new(realistic_grid(rows))));

    let mut c = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args();
    let results = [
        run(&mut c, "points", POINTS_JSON),
        run(&mut c, "realistic", &realistic),
    ];
    c.final_summary();
    if std::env::args().any(|a| a == "--profile-time" || a == "--list") {
        return;
    }

    println!();
    println!("haystack-core vs libhaystack");
    for (title, lines) in &results {
        println!("{title}");
        println!(
            "{:<44} {:>16} {:>16} {:>8} {:>7}  ",
            "benchmark", "haystack-core", "libhaystack", "ratio", "target"
        );
        for l in lines {
            let ratio = l.theirs / l.ours;
            println!(
                "{:<44} {:>8.1} {:<7} {:>8.1} {:<7} {:>7.1}x {:>6.0}x {}",
                l.what,
                l.amount / l.ours,
                l.unit,
                l.amount / l.theirs,
                l.unit,
                ratio,
                l.target,
                if ratio >= l.target { "ok" } else { "BELOW" }
            );
        }
    }
    for (what, filter) in FILTERS {
        println!("  {what}: {filter}");
    }
}
