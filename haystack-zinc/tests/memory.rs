//! Heap use of decoded Zinc: libhaystack's `points.zinc` decodes in no more heap than
//! libhaystack needs for it, and a sparse database (100,000 entities, 1,000 distinct tags,
//! 15 tags each) decodes in less heap than twice its Zinc size.
//!
//! Heap is measured with `dhat` (process-wide, so the tests of this file run one at a time).

use std::fmt::Write as _;
use std::sync::Mutex;

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

static SERIAL: Mutex<()> = Mutex::new(());

/// Held for the whole of each test: heap counts are process-wide.
fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// The result of `f` and the peak heap bytes it used beyond what was live when it started
/// (what it returns included).
fn peak_of<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let _profiler = dhat::Profiler::builder().testing().build();
    let out = f();
    (out, dhat::HeapStats::get().max_bytes)
}

const POINTS_ZINC: &str = include_str!("../benches/data/points.zinc");

#[test]
fn points_zinc_takes_no_more_heap_than_libhaystack() {
    let _serial = serial();
    let (grid, ours) = peak_of(|| haystack_zinc::from_str(POINTS_ZINC).unwrap());
    assert_eq!((grid.len(), grid.cols().len()), (1194, 126));
    let (value, theirs) =
        peak_of(|| libhaystack::encoding::zinc::decode::from_str(POINTS_ZINC).unwrap());
    assert!(matches!(value, libhaystack::val::Value::Grid(_)));
    println!(
        "points.zinc ({} bytes): haystack-zinc peak heap {ours} bytes, libhaystack {theirs}",
        POINTS_ZINC.len()
    );
    assert!(
        ours <= theirs,
        "peak heap {ours} bytes, libhaystack's {theirs}"
    );
}

/// A Zinc grid of `entities` rows over `tags` columns, each row with an id, a dis and 13 other
/// tags (markers, numbers with units, strings, refs) picked by a fixed pseudo-random sequence.
fn sparse_database(entities: usize, tags: usize) -> String {
    let mut z = String::from("ver:\"3.0\"\nid,dis");
    for t in 2..tags {
        let _ = write!(z, ",t{t}");
    }
    z.push('\n');
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut cells = vec![String::new(); tags];
    for e in 0..entities {
        for c in &mut cells {
            c.clear();
        }
        let _ = write!(cells[0], "@e.{e}");
        let _ = write!(cells[1], "\"Entity {e}\"");
        for _ in 0..13 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let t = 2 + (seed % (tags as u64 - 2)) as usize;
            let cell = &mut cells[t];
            cell.clear();
            match t % 4 {
                0 => cell.push('M'),
                1 => {
                    let _ = write!(cell, "{}.5kW", seed % 1000);
                }
                2 => {
                    let _ = write!(cell, "\"v{}\"", seed % 100);
                }
                _ => {
                    let _ = write!(cell, "@e.{}", seed % entities as u64);
                }
            }
        }
        for (i, c) in cells.iter().enumerate() {
            if i > 0 {
                z.push(',');
            }
            z.push_str(c);
        }
        z.push('\n');
    }
    z
}

#[test]
fn sparse_database_decodes_in_less_than_twice_its_size() {
    let _serial = serial();
    let zinc = sparse_database(100_000, 1_000);
    let (grid, peak) = peak_of(|| haystack_zinc::from_str(&zinc).unwrap());
    assert_eq!((grid.len(), grid.cols().len()), (100_000, 1_000));
    assert!(grid.tag_count() > 100_000 * 14, "{}", grid.tag_count());
    let last = grid.row(99_999).unwrap();
    assert_eq!(last.dis(), Some("Entity 99999"));
    println!(
        "sparse database: {} bytes of Zinc, {} tags, peak heap {peak} bytes",
        zinc.len(),
        grid.tag_count()
    );
    assert!(
        peak < 2 * zinc.len(),
        "peak heap {peak} bytes for {} bytes of Zinc",
        zinc.len()
    );
}
