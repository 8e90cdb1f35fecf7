//! Any text given to the filter parser returns, never panics, within its documented limits
//! (`MAX_DEPTH` nesting, `MAX_LEN` bytes); an error always says where.
#![no_main]

use haystack_core::filter::Filter;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(e) = Filter::parse(text) {
        // Every parse error is positioned; rendering it must not panic either.
        let _ = e.to_string();
    }
});
