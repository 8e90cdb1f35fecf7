//! Any text given to the scalar reader of `haystack-core` (the one reader of Zinc literals that
//! grids and filters share) returns, never panics; a scalar it accepts is written back (by
//! `to_zinc_string` and by `Display`) to text that reads back equal.
#![no_main]

use haystack_core::zinc;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(v) = zinc::read_scalar(text) {
        let written = zinc::to_zinc_string(&v);
        match zinc::read_scalar(&written) {
            Ok(again) => assert_eq!(again, v, "scalar changed in a round trip through {written}"),
            Err(e) => panic!("written scalar {written:?} does not read back: {e}"),
        }
        assert_eq!(v.to_string(), written);
    }
});
