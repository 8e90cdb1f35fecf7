//! Decodes libhaystack's `points.json` (the copy in `benches/data/`) as Hayson N times, with
//! this crate or with libhaystack, for instruction counts under callgrind.
//!
//! ```text
//! cargo build --release -p haystack-core --example decode_points_json
//! valgrind --tool=callgrind target/release/examples/decode_points_json ours 1
//! valgrind --tool=callgrind target/release/examples/decode_points_json ours 11
//! ```
//!
//! One decode costs (count at 11 - count at 1) / 10 instructions; `libhaystack` instead of
//! `ours` counts libhaystack's decode (serde_json into its `Value`), and `stream` this crate's
//! streaming [`haystack_core::json::GridReader`] (rows one at a time, as the CLI streams).
//! `encode` and `encode-libhaystack` decode once and then count N encodes of the decoded
//! grid (our [`haystack_core::json::to_string`], libhaystack's `serde_json::to_string`).

use std::hint::black_box;

/// libhaystack's `benches/json/points.json`.
const POINTS_JSON: &str = include_str!("../benches/data/points.json");

/// One decode with this crate; returns whether it succeeded.
#[inline(never)]
fn decode_ours(json: &str) -> bool {
    haystack_core::json::from_str(black_box(json)).is_ok()
}

/// One streamed read with this crate's `GridReader`; returns whether it succeeded.
#[inline(never)]
fn decode_stream(json: &str) -> bool {
    let Ok(mut reader) = haystack_core::json::GridReader::new(black_box(json.as_bytes())) else {
        return false;
    };
    let mut row = Vec::new();
    loop {
        match reader.read_row(&mut row) {
            Ok(true) => {
                black_box(&row);
            }
            Ok(false) => return true,
            Err(_) => return false,
        }
    }
}

/// One decode with libhaystack; returns whether it succeeded.
#[inline(never)]
fn decode_libhaystack(json: &str) -> bool {
    serde_json::from_str::<libhaystack::val::Value>(black_box(json)).is_ok()
}

/// One encode with this crate; returns whether it wrote anything.
#[inline(never)]
fn encode_ours(value: &haystack_core::Value) -> bool {
    !haystack_core::json::to_string(black_box(value)).is_empty()
}

/// One encode with libhaystack; returns whether it succeeded.
#[inline(never)]
fn encode_libhaystack(value: &libhaystack::val::Value) -> bool {
    serde_json::to_string(black_box(value)).is_ok_and(|s| !s.is_empty())
}

fn main() {
    let mut args = std::env::args().skip(1);
    let which = args.next().unwrap_or_else(|| "ours".to_owned());
    let n: usize = match args.next().map(|a| a.parse()) {
        None => 1,
        Some(Ok(n)) => n,
        Some(Err(e)) => {
            eprintln!(
                "usage: decode_points_json [ours|libhaystack|stream|encode|encode-libhaystack] [N]: bad N: {e}"
            );
            std::process::exit(2);
        }
    };
    let usage = |other: &str| -> ! {
        eprintln!(
            "usage: decode_points_json [ours|libhaystack|stream|encode|encode-libhaystack] [N]: unknown {other:?}"
        );
        std::process::exit(2);
    };
    let ours = haystack_core::json::from_str(POINTS_JSON).ok();
    let theirs = serde_json::from_str::<libhaystack::val::Value>(POINTS_JSON).ok();
    let mut ok = 0usize;
    for _ in 0..n {
        let done = match which.as_str() {
            "ours" => decode_ours(POINTS_JSON),
            "libhaystack" => decode_libhaystack(POINTS_JSON),
            "stream" => decode_stream(POINTS_JSON),
            "encode" => ours.as_ref().is_some_and(encode_ours),
            "encode-libhaystack" => theirs.as_ref().is_some_and(encode_libhaystack),
            other => usage(other),
        };
        ok += usize::from(done);
    }
    println!("{which}: {ok} of {n} decodes succeeded");
}
