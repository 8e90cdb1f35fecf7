//! Any text given to the Trio reader returns, never panics, under the documented default
//! limits.
#![no_main]

use haystack_zinc::Limits;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = haystack_zinc::trio::from_str_with(text, &Limits::default());
});
