//! Any text given to the scalar reader of `haystack-core` returns, never panics; scalars it
//! accepts are written back and read back equal.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(v) = haystack_core::zinc::read_scalar(text) {
        let written = v.to_string();
        let again = haystack_core::zinc::read_scalar(&written).expect("written scalar reads back");
        assert_eq!(again, v);
    }
});
