//! Grids cost memory in proportion to their tags, not rows x columns: the 439 KB JSON
//! "list of dicts with distinct tags" that asked a dense grid for tens of gigabytes decodes
//! within a small multiple of its size.

use std::sync::Mutex;

use haystack_core::{Grid, Value, json};

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

/// The heap counts are process-wide: the tests of this file run one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// The peak heap bytes `f` allocates (beyond what was live when it started).
fn peak_of<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let _profiler = dhat::Profiler::builder().testing().build();
    let out = f();
    (out, dhat::HeapStats::get().max_bytes)
}

/// A JSON list of about `size` bytes of one-tag dicts, every tag name distinct:
/// `[{"t0":1},{"t1":1},...]`.
fn distinct_tag_dicts(size: usize) -> (String, usize) {
    let mut s = String::from("[");
    let mut n = 0;
    while s.len() < size {
        if n > 0 {
            s.push(',');
        }
        s.push_str(&format!("{{\"t{n}\":1}}"));
        n += 1;
    }
    s.push(']');
    (s, n)
}

/// Peak heap allowed per input byte (measured: about 23 for the Hayson grid, 45 for the list
/// plus [`Grid::from_dicts`]). Each one-tag dict of ~14 bytes of JSON becomes a decoded
/// dict, a column (name, meta, index entry) and one stored tag; a dense grid of the same dicts
/// would need `n * n` cells (about 38 GB here).
const BYTES_PER_INPUT_BYTE: usize = 64;

#[test]
fn list_of_dicts_bomb_is_proportional_to_its_tags() {
    let _serial = serial();
    let (text, n) = distinct_tag_dicts(439 * 1024);
    assert!(n > 30_000, "{n} dicts");
    let (grid, peak) = peak_of(|| {
        let Value::List(items) = json::from_str(&text).unwrap() else {
            panic!("not a list")
        };
        let dicts: Vec<_> = items.iter().filter_map(Value::as_dict).collect();
        Grid::from_dicts(dicts)
    });
    assert_eq!(grid.len(), n);
    assert_eq!(grid.cols().len(), n);
    assert_eq!(grid.tag_count(), n);
    let last = grid.row(n - 1).unwrap();
    assert_eq!(last.get(&format!("t{}", n - 1)), Some(&Value::from(1)));
    assert_eq!(last.len(), 1);
    let bound = BYTES_PER_INPUT_BYTE * text.len();
    assert!(
        peak < bound,
        "peak heap {peak} bytes for {} input bytes (bound {bound})",
        text.len()
    );
}

#[test]
fn json_grid_whose_rows_add_columns_is_proportional_to_its_tags() {
    let _serial = serial();
    // The same bomb as a Hayson grid: one declared column, every row a new tag.
    let (rows, n) = distinct_tag_dicts(439 * 1024);
    let text = format!(
        r#"{{"_kind":"grid","meta":{{"ver":"3.0"}},"cols":[{{"name":"t0"}}],"rows":{rows}}}"#
    );
    let (v, peak) = peak_of(|| json::from_str(&text).unwrap());
    let grid = v.as_grid().unwrap();
    assert_eq!(grid.len(), n);
    assert_eq!(grid.cols().len(), n);
    assert_eq!(grid.tag_count(), n);
    let bound = BYTES_PER_INPUT_BYTE * text.len();
    assert!(
        peak < bound,
        "peak heap {peak} bytes for {} input bytes (bound {bound})",
        text.len()
    );
}
