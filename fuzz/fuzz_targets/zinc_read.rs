//! Any bytes given to the Zinc readers (whole, streaming, values) return, never panic, and the
//! whole and streaming readers agree.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let whole = haystack_zinc::from_slice(data);
    let limits = haystack_zinc::Limits {
        max_line_bytes: 1 << 16,
        ..Default::default()
    };
    let streamed = haystack_zinc::GridReader::with_limits(data, limits).and_then(|r| r.into_grid());
    if let (Ok(a), Ok(b)) = (&whole, &streamed) {
        assert_eq!(a, b);
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = haystack_zinc::value_from_str(text);
    }
});
