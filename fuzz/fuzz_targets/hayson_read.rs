//! Any bytes given to the Hayson (Haystack JSON v4) reader return, never panic, with the documented
//! nesting limit (128 levels); reading from a slice and from a reader agree.
#![no_main]

use haystack_core::json::{self, Version};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let from_slice = json::from_slice(data, Version::V4);
    let from_reader = json::from_reader(data, Version::V4);
    match (&from_slice, &from_reader) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "slice and reader decode different values"),
        (Ok(_), Err(e)) => panic!("only the slice reader accepts this: the reader says {e}"),
        (Err(e), Ok(_)) => panic!("only the reader accepts this: the slice reader says {e}"),
        (Err(_), Err(_)) => {}
    }
});
