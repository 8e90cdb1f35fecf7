//! Any bytes given to the Zinc readers (whole document, streaming, single value) return, never
//! panic, under the documented default limits; the whole and streaming readers agree on what
//! they accept and on what they read.
#![no_main]

use haystack_zinc::{GridReader, Limits};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    let whole = std::str::from_utf8(data)
        .map_err(|e| e.to_string())
        .and_then(|text| haystack_zinc::from_str_with(text, &limits).map_err(|e| e.to_string()));
    let streamed = GridReader::with_limits(data, limits.clone()).and_then(|r| r.into_grid());
    match (&whole, &streamed) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "whole and streaming readers read different grids"),
        (Ok(_), Err(e)) => {
            panic!("only the whole-document reader accepts this: streaming says {e}")
        }
        (Err(e), Ok(_)) => panic!("only the streaming reader accepts this: whole says {e}"),
        (Err(_), Err(_)) => {}
    }
    // The byte-slice entry point agrees with the text one.
    assert_eq!(haystack_zinc::from_slice(data).is_ok(), whole.is_ok());
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = haystack_zinc::value_from_str_with(text, &limits);
    }
});
