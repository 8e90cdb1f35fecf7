//! Decodes libhaystack's `points.zinc` (the copy in `benches/data/`) N times, with this crate
//! or with libhaystack, for instruction counts under callgrind.
//!
//! ```text
//! cargo build --release -p haystack-zinc --example decode_points
//! valgrind --tool=callgrind target/release/examples/decode_points ours 1
//! valgrind --tool=callgrind target/release/examples/decode_points ours 11
//! valgrind --tool=callgrind target/release/examples/decode_points libhaystack 1
//! valgrind --tool=callgrind target/release/examples/decode_points libhaystack 11
//! ```
//!
//! The instructions of one decode are (count at 11 - count at 1) / 10: the difference leaves
//! out start-up and the text's loading. Or count only the decodes with
//! `--toggle-collect=decode_points::decode_ours` (or `decode_points::decode_libhaystack`).

use std::hint::black_box;

/// libhaystack's `benches/zinc/points.zinc`.
const POINTS_ZINC: &str = include_str!("../benches/data/points.zinc");

/// One decode with this crate; returns the number of rows.
#[inline(never)]
fn decode_ours(zinc: &str) -> usize {
    let grid = haystack_zinc::from_str(black_box(zinc)).expect("points.zinc is Zinc");
    grid.len()
}

/// One decode with libhaystack; returns whether it succeeded.
#[inline(never)]
fn decode_libhaystack(zinc: &str) -> bool {
    let value = libhaystack::encoding::zinc::decode::from_str(black_box(zinc));
    value.is_ok()
}

fn main() {
    let mut args = std::env::args().skip(1);
    let which = args.next().unwrap_or_else(|| "ours".to_owned());
    let n: usize = match args.next().map(|a| a.parse()) {
        None => 1,
        Some(Ok(n)) => n,
        Some(Err(e)) => {
            eprintln!("usage: decode_points [ours|libhaystack] [N]: bad N: {e}");
            std::process::exit(2);
        }
    };
    let mut total = 0usize;
    for _ in 0..n {
        total += match which.as_str() {
            "ours" => decode_ours(POINTS_ZINC),
            "libhaystack" => usize::from(decode_libhaystack(POINTS_ZINC)),
            other => {
                eprintln!("usage: decode_points [ours|libhaystack] [N]: unknown decoder {other:?}");
                std::process::exit(2);
            }
        };
    }
    println!("{which}: {n} decodes, {total} rows (or successes) in all");
}
