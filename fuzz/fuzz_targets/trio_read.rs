//! Any text given to the Trio reader returns, never panics; what it reads writes back and reads
//! back equal.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(records) = haystack_zinc::trio::from_str(text) {
        let written = haystack_zinc::trio::to_string(&records);
        let again = haystack_zinc::trio::from_str(&written).expect("written Trio reads back");
        assert_eq!(again, records);
    }
});
